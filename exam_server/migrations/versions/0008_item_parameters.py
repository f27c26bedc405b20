"""paper sets keep the IRT parameters used for balancing information at the pass mark; item
statistics keep the IRT standard errors and the S-X² item-fit p-value

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 21:40:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _json():
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    with op.batch_alter_table("paper_sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("item_parameters", _json(), nullable=True))
    with op.batch_alter_table("item_statistics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("irt_a_se", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("irt_b_se", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("irt_fit_p", sa.Double(), nullable=True))


def downgrade():
    with op.batch_alter_table("item_statistics", schema=None) as batch_op:
        batch_op.drop_column("irt_fit_p")
        batch_op.drop_column("irt_b_se")
        batch_op.drop_column("irt_a_se")
    with op.batch_alter_table("paper_sets", schema=None) as batch_op:
        batch_op.drop_column("item_parameters")
