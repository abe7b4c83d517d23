"""planning tasks with leases, region locks

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 14:06:03.542725
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "planning_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("solution", sa.JSON(), nullable=True),
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
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_planning_task_attempts_not_negative")),
        sa.CheckConstraint("part >= 0 AND part <= parts", name=op.f("ck_planning_task_part_range")),
        sa.CheckConstraint(
            "progress >= 0 AND progress <= 1", name=op.f("ck_planning_task_progress_range")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["planning_job.id"],
            name=op.f("fk_planning_task_job_id_planning_job"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plan.id"],
            name=op.f("fk_planning_task_plan_id_plan"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_planning_task_region_id_region"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_planning_task")),
        sa.UniqueConstraint(
            "job_id", "region_id", "part", name=op.f("uq_planning_task_job_id_region_id_part")
        ),
    )
    with op.batch_alter_table("planning_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_planning_task_job_id"), ["job_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_planning_task_lease_until"), ["lease_until"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_planning_task_region_id"), ["region_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_planning_task_status"), ["status"], unique=False)

    op.create_table(
        "region_lock",
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_region_lock_region_id_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["planning_job.id"],
            name=op.f("fk_region_lock_job_id_planning_job"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("region_id", name=op.f("pk_region_lock")),
    )
    with op.batch_alter_table("region_lock", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_region_lock_job_id"), ["job_id"], unique=False)

    # Jobs from before tasks have none to run: those not ended are failed, saying why.
    op.execute(
        "UPDATE planning_job SET status = 'failed', "
        "message = 'interrupted by a database upgrade; request the plan again' "
        "WHERE status IN ('queued', 'running')"
    )


def downgrade() -> None:
    with op.batch_alter_table("region_lock", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_region_lock_job_id"))

    op.drop_table("region_lock")
    with op.batch_alter_table("planning_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_planning_task_status"))
        batch_op.drop_index(batch_op.f("ix_planning_task_region_id"))
        batch_op.drop_index(batch_op.f("ix_planning_task_lease_until"))
        batch_op.drop_index(batch_op.f("ix_planning_task_job_id"))

    op.drop_table("planning_task")
