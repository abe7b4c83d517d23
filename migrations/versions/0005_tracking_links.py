"""tracking links

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 06:41:34.200546
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tracking_link",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_tracking_link_visit_id_visit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_tracking_link")),
    )
    with op.batch_alter_table("tracking_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tracking_link_visit_id"), ["visit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tracking_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tracking_link_visit_id"))

    op.drop_table("tracking_link")
