"""proctoring: incidents, proctor actions and messages, attempt device, session policy

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 09:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import question_bank.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _json():
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("exam_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("integrity_policy", _json(), nullable=True))

    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", question_bank.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_at", question_bank.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("evidence", _json(), nullable=False),
        sa.Column("credited_seconds", sa.Integer(), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("resolved_by", sa.String(length=100), nullable=False),
        sa.Column("resolved_at", question_bank.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("created_at", question_bank.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "severity IN ('info', 'low', 'medium', 'high')",
            name=op.f("ck_incidents_severity_known"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'dismissed', 'confirmed', 'resolved')",
            name=op.f("ck_incidents_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_incidents_registration_id_registrations"),
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"], ["users.id"], name=op.f("fk_incidents_resolved_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["exam_rooms.id"], name=op.f("fk_incidents_room_id_exam_rooms")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_incidents_session_id_exam_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_incidents_registration_id"), ["registration_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_incidents_room_id"), ["room_id"], unique=False)
        batch_op.create_index("ix_incidents_session_status", ["session_id", "status"], unique=False)

    op.create_table(
        "proctor_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=True),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", question_bank.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_proctor_actions_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_proctor_actions_incident_id_incidents"),
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_proctor_actions_registration_id_registrations"),
        ),
        sa.ForeignKeyConstraint(
            ["room_id"], ["exam_rooms.id"], name=op.f("fk_proctor_actions_room_id_exam_rooms")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_proctor_actions_session_id_exam_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proctor_actions")),
    )
    with op.batch_alter_table("proctor_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proctor_actions_registration_id"), ["registration_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_proctor_actions_session_id"), ["session_id"], unique=False
        )

    op.create_table(
        "proctor_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sent_by_id", sa.Integer(), nullable=True),
        sa.Column("sent_by", sa.String(length=100), nullable=False),
        sa.Column("sent_at", question_bank.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acked_at", question_bank.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_proctor_messages_registration_id_registrations"),
        ),
        sa.ForeignKeyConstraint(
            ["sent_by_id"], ["users.id"], name=op.f("fk_proctor_messages_sent_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_proctor_messages_session_id_exam_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proctor_messages")),
    )
    with op.batch_alter_table("proctor_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proctor_messages_registration_id"), ["registration_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("proctor_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proctor_messages_registration_id"))
    op.drop_table("proctor_messages")
    with op.batch_alter_table("proctor_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proctor_actions_session_id"))
        batch_op.drop_index(batch_op.f("ix_proctor_actions_registration_id"))
    op.drop_table("proctor_actions")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_session_status")
        batch_op.drop_index(batch_op.f("ix_incidents_room_id"))
        batch_op.drop_index(batch_op.f("ix_incidents_registration_id"))
    op.drop_table("incidents")
    with op.batch_alter_table("exam_sessions", schema=None) as batch_op:
        batch_op.drop_column("integrity_policy")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("device_id")
