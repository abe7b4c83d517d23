"""optimistic-lock revisions on editable tables; planning jobs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 07:54:10.848275
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
VERSIONED = ("contract", "customer", "region", "service_request", "site", "technician")


def upgrade() -> None:
    op.create_table(
        "planning_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("time_limit_seconds", sa.Integer(), nullable=False),
        sa.Column("publish", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "succeeded",
                "failed",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("plan_ids", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("days >= 1 AND days <= 31", name=op.f("ck_planning_job_days_range")),
        sa.CheckConstraint(
            "progress >= 0 AND progress <= 1", name=op.f("ck_planning_job_progress_range")
        ),
        sa.CheckConstraint(
            "time_limit_seconds > 0", name=op.f("ck_planning_job_time_limit_positive")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_planning_job_region_id_region"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["app_user.id"],
            name=op.f("fk_planning_job_requested_by_app_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_job")),
    )
    with op.batch_alter_table("planning_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_planning_job_region_id"), ["region_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_planning_job_status"), ["status"], unique=False)

    # Existing rows start at revision 1, like new ones.
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("revision", sa.Integer(), nullable=False, server_default="1")
            )


def downgrade() -> None:
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("revision")

    with op.batch_alter_table("planning_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planning_job_status"))
        batch_op.drop_index(batch_op.f("ix_planning_job_region_id"))

    op.drop_table("planning_job")
