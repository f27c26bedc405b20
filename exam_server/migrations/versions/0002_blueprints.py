"""blueprints, blueprint versions, paper sets and papers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import question_bank.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = question_bank.db.UTCDateTime(timezone=True)


def upgrade():
    op.create_table(
        "blueprints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("occupation_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 5", name=op.f("ck_blueprints_level_range")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_blueprints_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["occupation_id"],
            ["occupations.id"],
            name=op.f("fk_blueprints_occupation_id_occupations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blueprints")),
        sa.UniqueConstraint("code", name=op.f("uq_blueprints_code")),
    )
    with op.batch_alter_table("blueprints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_blueprints_occupation_id"), ["occupation_id"], unique=False
        )

    op.create_table(
        "blueprint_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("blueprint_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("spec", JSON, nullable=False),
        sa.Column("spec_hash", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["blueprint_id"],
            ["blueprints.id"],
            name=op.f("fk_blueprint_versions_blueprint_id_blueprints"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_blueprint_versions_created_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blueprint_versions")),
        sa.UniqueConstraint(
            "blueprint_id", "number", name=op.f("uq_blueprint_versions_blueprint_id_number")
        ),
    )
    with op.batch_alter_table("blueprint_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_blueprint_versions_blueprint_id"), ["blueprint_id"], unique=False
        )

    op.create_table(
        "paper_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_key", sa.String(length=64), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("blueprint_version_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=128), nullable=False),
        sa.Column("difficulties", JSON, nullable=False),
        sa.Column("report", JSON, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["blueprint_version_id"],
            ["blueprint_versions.id"],
            name=op.f("fk_paper_sets_blueprint_version_id_blueprint_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_paper_sets_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["bank_releases.id"],
            name=op.f("fk_paper_sets_release_id_bank_releases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_paper_sets")),
    )
    with op.batch_alter_table("paper_sets", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_paper_sets_session_key"), ["session_key"], unique=False
        )

    op.create_table(
        "papers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("paper_set_id", sa.Integer(), nullable=False),
        sa.Column("candidate_key", sa.String(length=64), nullable=False),
        sa.Column("items", JSON, nullable=False),
        sa.Column("expected_score", sa.Double(), nullable=False),
        sa.Column("paper_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_set_id"], ["paper_sets.id"], name=op.f("fk_papers_paper_set_id_paper_sets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_papers")),
        sa.UniqueConstraint(
            "paper_set_id", "candidate_key", name=op.f("uq_papers_paper_set_id_candidate_key")
        ),
    )
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_papers_paper_set_id"), ["paper_set_id"], unique=False)


def downgrade():
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_papers_paper_set_id"))
    op.drop_table("papers")
    with op.batch_alter_table("paper_sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paper_sets_session_key"))
    op.drop_table("paper_sets")
    with op.batch_alter_table("blueprint_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blueprint_versions_blueprint_id"))
    op.drop_table("blueprint_versions")
    with op.batch_alter_table("blueprints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blueprints_occupation_id"))
    op.drop_table("blueprints")
