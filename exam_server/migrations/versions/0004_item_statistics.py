"""item statistics, analysis runs, measured difficulty, review tasks

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import question_bank.db

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = question_bank.db.UTCDateTime(timezone=True)


def upgrade():
    op.create_table(
        "analysis_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_ref", sa.String(length=200), nullable=False),
        sa.Column("occupation_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=True),
        sa.Column("n_candidates", sa.Integer(), nullable=False),
        sa.Column("n_items", sa.Integer(), nullable=False),
        sa.Column("irt_model", sa.String(length=10), nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_analysis_runs_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["occupation_id"],
            ["occupations.id"],
            name=op.f("fk_analysis_runs_occupation_id_occupations"),
        ),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["bank_releases.id"],
            name=op.f("fk_analysis_runs_release_id_bank_releases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analysis_runs")),
    )
    op.create_index(op.f("ix_analysis_runs_occupation_id"), "analysis_runs", ["occupation_id"])
    op.create_table(
        "item_statistics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("item_version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("facility", sa.Double(), nullable=True),
        sa.Column("sd", sa.Double(), nullable=True),
        sa.Column("item_rest_r", sa.Double(), nullable=True),
        sa.Column("discrimination_index", sa.Double(), nullable=True),
        sa.Column("discriminative_efficiency", sa.Double(), nullable=True),
        sa.Column("alpha_if_deleted", sa.Double(), nullable=True),
        sa.Column("irt_a", sa.Double(), nullable=True),
        sa.Column("irt_b", sa.Double(), nullable=True),
        sa.Column("options", JSON, nullable=False),
        sa.Column("flags", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_version_id"],
            ["item_versions.id"],
            name=op.f("fk_item_statistics_item_version_id_item_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["analysis_runs.id"], name=op.f("fk_item_statistics_run_id_analysis_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_statistics")),
        sa.UniqueConstraint(
            "run_id", "item_version_id", name=op.f("uq_item_statistics_run_id_item_version_id")
        ),
    )
    op.create_index(op.f("ix_item_statistics_run_id"), "item_statistics", ["run_id"])
    op.create_index(
        op.f("ix_item_statistics_item_version_id"), "item_statistics", ["item_version_id"]
    )
    op.create_table(
        "measured_difficulty",
        sa.Column("item_version_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("facility", sa.Double(), nullable=False),
        sa.Column("item_rest_r", sa.Double(), nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["item_version_id"],
            ["item_versions.id"],
            name=op.f("fk_measured_difficulty_item_version_id_item_versions"),
        ),
        sa.PrimaryKeyConstraint("item_version_id", name=op.f("pk_measured_difficulty")),
    )
    op.create_table(
        "review_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("item_version_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", TIME, nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["users.id"], name=op.f("fk_review_tasks_closed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_review_tasks_item_id_items")
        ),
        sa.ForeignKeyConstraint(
            ["item_version_id"],
            ["item_versions.id"],
            name=op.f("fk_review_tasks_item_version_id_item_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["analysis_runs.id"], name=op.f("fk_review_tasks_run_id_analysis_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_tasks")),
    )
    op.create_index(op.f("ix_review_tasks_item_id"), "review_tasks", ["item_id"])
    op.create_index(op.f("ix_review_tasks_item_version_id"), "review_tasks", ["item_version_id"])


def downgrade():
    op.drop_table("review_tasks")
    op.drop_table("measured_difficulty")
    op.drop_table("item_statistics")
    op.drop_table("analysis_runs")
