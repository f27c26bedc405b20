"""live delivery: attempts, answers, answer log

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 03:33:01.161015
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import question_bank.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("started_at", question_bank.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("deadline", question_bank.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("extra_seconds", sa.Integer(), nullable=False),
        sa.Column("paused_at", question_bank.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_seconds", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("position_seq", sa.Integer(), nullable=False),
        sa.Column("submitted_at", question_bank.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("submit_reason", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Numeric(precision=7, scale=2), nullable=True),
        sa.Column("max_score", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.Column("created_at", question_bank.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('waiting', 'running', 'paused', 'submitted', 'voided')",
            name=op.f("ck_attempts_state_known"),
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"], ["papers.id"], name=op.f("fk_attempts_paper_id_papers")
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_attempts_registration_id_registrations"),
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["exam_rooms.id"], name=op.f("fk_attempts_room_id_exam_rooms")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["exam_sessions.id"], name=op.f("fk_attempts_session_id_exam_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("registration_id", name=op.f("uq_attempts_registration_id")),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_due", ["state", "deadline"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempts_room_id"), ["room_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attempts_session_id"), ["session_id"], unique=False)

    op.create_table(
        "answer_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("client_time", question_bank.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("server_time", question_bank.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_answer_log_attempt_id_attempts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answer_log")),
        sa.UniqueConstraint("attempt_id", "seq", name=op.f("uq_answer_log_attempt_id_seq")),
    )
    with op.batch_alter_table("answer_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_answer_log_attempt_id"), ["attempt_id"], unique=False)

    op.create_table(
        "attempt_answers",
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("answer_seq", sa.Integer(), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("flag_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", question_bank.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("points", sa.Numeric(precision=7, scale=2), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_attempt_answers_attempt_id_attempts")
        ),
        sa.PrimaryKeyConstraint("attempt_id", "position", name=op.f("pk_attempt_answers")),
    )

    # The answer log is append-only, like the audit log.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION answer_log_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'answer_log is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER answer_log_no_change BEFORE UPDATE OR DELETE ON answer_log "
            "FOR EACH ROW EXECUTE FUNCTION answer_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER answer_log_no_{verb.lower()} BEFORE {verb} ON answer_log "
                "BEGIN SELECT RAISE(ABORT, 'answer_log is append-only'); END"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS answer_log_no_change ON answer_log")
        op.execute("DROP FUNCTION IF EXISTS answer_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS answer_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS answer_log_no_delete")
    op.drop_table("attempt_answers")
    with op.batch_alter_table("answer_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_log_attempt_id"))

    op.drop_table("answer_log")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempts_session_id"))
        batch_op.drop_index(batch_op.f("ix_attempts_room_id"))
        batch_op.drop_index("ix_attempts_due")

    op.drop_table("attempts")
