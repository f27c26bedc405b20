"""merge blueprints, sessions and statistics branches

Revision ID: 0005
Revises: 0002, 0003, 0004
Create Date: 2026-11-21 03:32:55.949969
"""

revision = "0005"
down_revision = ("0002", "0003", "0004")
branch_labels = None
depends_on = None


def upgrade():
    """Nothing to change: this revision joins the branches written in parallel."""


def downgrade():
    """Nothing to undo."""
