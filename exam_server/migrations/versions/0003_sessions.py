"""exam sessions: sessions, rooms, proctors, candidate photos, registrations, check-ins

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-21 03:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

import question_bank.db

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC = question_bank.db.UTCDateTime(timezone=True)


def upgrade():
    op.create_table(
        "candidate_photos",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=50), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["users.id"], name=op.f("fk_candidate_photos_uploaded_by_id_users")
        ),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_candidate_photos")),
    )
    op.create_table(
        "exam_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("occupation_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        # The blueprint tables come with paper assembly (0002); a plain id until the lead
        # chains the branches and adds the foreign key.
        sa.Column("blueprint_version_id", sa.Integer(), nullable=True),
        sa.Column("release_id", sa.Integer(), nullable=True),
        sa.Column("scheduled_start", UTC, nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("late_entry_minutes", sa.Integer(), nullable=False),
        sa.Column("earliest_submit_minutes", sa.Integer(), nullable=False),
        sa.Column("start_mode", sa.String(length=10), nullable=False),
        sa.Column("start_window_minutes", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("opened_at", UTC, nullable=True),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.CheckConstraint(
            "start_mode IN ('unified', 'window')", name=op.f("ck_exam_sessions_start_mode_known")
        ),
        sa.CheckConstraint(
            "state IN ('planned', 'open', 'running', 'closed')",
            name=op.f("ck_exam_sessions_state_known"),
        ),
        sa.CheckConstraint("duration_minutes > 0", name=op.f("ck_exam_sessions_duration_positive")),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name=op.f("ck_exam_sessions_level_range")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_exam_sessions_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["occupation_id"],
            ["occupations.id"],
            name=op.f("fk_exam_sessions_occupation_id_occupations"),
        ),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["bank_releases.id"],
            name=op.f("fk_exam_sessions_release_id_bank_releases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_sessions")),
        sa.UniqueConstraint("code", name=op.f("uq_exam_sessions_code")),
    )
    with op.batch_alter_table("exam_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exam_sessions_occupation_id"), ["occupation_id"], unique=False
        )

    op.create_table(
        "exam_rooms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("access_code", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_exam_rooms_capacity_positive")),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_exam_rooms_session_id_exam_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_rooms")),
        sa.UniqueConstraint("session_id", "name", name=op.f("uq_exam_rooms_session_id_name")),
        sa.UniqueConstraint("session_id", "number", name=op.f("uq_exam_rooms_session_id_number")),
    )
    with op.batch_alter_table("exam_rooms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exam_rooms_session_id"), ["session_id"], unique=False)

    op.create_table(
        "room_proctors",
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"], ["exam_rooms.id"], name=op.f("fk_room_proctors_room_id_exam_rooms")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_room_proctors_user_id_users")
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_proctors")),
    )
    with op.batch_alter_table("room_proctors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_room_proctors_user_id"), ["user_id"], unique=False)

    op.create_table(
        "registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("seat", sa.Integer(), nullable=False),
        sa.Column("ticket_number", sa.String(length=32), nullable=False),
        sa.Column("candidate_name", sa.String(length=100), nullable=False),
        sa.Column("id_type", sa.String(length=24), nullable=False),
        sa.Column("id_number", sa.String(length=32), nullable=False),
        sa.Column("photo_sha256", sa.String(length=64), nullable=True),
        sa.Column("eligibility", sa.String(length=10), nullable=False),
        sa.Column("eligibility_reason", sa.Text(), nullable=False),
        sa.Column("eligibility_by_id", sa.Integer(), nullable=True),
        sa.Column("eligibility_at", UTC, nullable=True),
        sa.Column("first_check_in_at", UTC, nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.CheckConstraint(
            "eligibility IN ('pending', 'approved', 'rejected')",
            name=op.f("ck_registrations_eligibility_known"),
        ),
        sa.CheckConstraint("seat > 0", name=op.f("ck_registrations_seat_positive")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_registrations_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["eligibility_by_id"],
            ["users.id"],
            name=op.f("fk_registrations_eligibility_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["photo_sha256"],
            ["candidate_photos.sha256"],
            name=op.f("fk_registrations_photo_sha256_candidate_photos"),
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["exam_rooms.id"], name=op.f("fk_registrations_room_id_exam_rooms")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_registrations_session_id_exam_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registrations")),
        sa.UniqueConstraint("room_id", "seat", name=op.f("uq_registrations_room_id_seat")),
        sa.UniqueConstraint(
            "session_id",
            "id_type",
            "id_number",
            name=op.f("uq_registrations_session_id_id_type_id_number"),
        ),
        sa.UniqueConstraint(
            "session_id", "ticket_number", name=op.f("uq_registrations_session_id_ticket_number")
        ),
    )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registrations_room_id"), ["room_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_registrations_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registrations_ticket_number"), ["ticket_number"], unique=False
        )

    op.create_table(
        "check_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("ticket_number", sa.String(length=32), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("failure", sa.String(length=32), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_check_ins_registration_id_registrations"),
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["exam_rooms.id"], name=op.f("fk_check_ins_room_id_exam_rooms")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["exam_sessions.id"], name=op.f("fk_check_ins_session_id_exam_sessions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_ins")),
    )
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_check_ins_registration_id"), ["registration_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_check_ins_session_id"), ["session_id"], unique=False)

    # Sign-in attempts are evidence: like the audit log, the database refuses to change them.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION check_ins_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'check_ins is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER check_ins_no_change BEFORE UPDATE OR DELETE ON check_ins "
            "FOR EACH ROW EXECUTE FUNCTION check_ins_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER check_ins_no_{verb.lower()} BEFORE {verb} ON check_ins "
                "BEGIN SELECT RAISE(ABORT, 'check_ins is append-only'); END"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS check_ins_no_change ON check_ins")
        op.execute("DROP FUNCTION IF EXISTS check_ins_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS check_ins_no_update")
        op.execute("DROP TRIGGER IF EXISTS check_ins_no_delete")
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_ins_session_id"))
        batch_op.drop_index(batch_op.f("ix_check_ins_registration_id"))
    op.drop_table("check_ins")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registrations_ticket_number"))
        batch_op.drop_index(batch_op.f("ix_registrations_session_id"))
        batch_op.drop_index(batch_op.f("ix_registrations_room_id"))
    op.drop_table("registrations")
    with op.batch_alter_table("room_proctors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_room_proctors_user_id"))
    op.drop_table("room_proctors")
    with op.batch_alter_table("exam_rooms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exam_rooms_session_id"))
    op.drop_table("exam_rooms")
    with op.batch_alter_table("exam_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exam_sessions_occupation_id"))
    op.drop_table("exam_sessions")
    op.drop_table("candidate_photos")
