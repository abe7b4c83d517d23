"""quota ledger; figures of unassigned visits

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:04:07.474315
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "quota_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "planned",
                "actual",
                "remote",
                name="kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("onsite_day", sa.Date(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("time_entry_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind <> 'planned' OR visit_id IS NOT NULL",
            name=op.f("ck_quota_entry_planned_has_visit"),
        ),
        sa.CheckConstraint(
            "kind <> 'remote' OR onsite_day IS NULL",
            name=op.f("ck_quota_entry_remote_is_not_onsite"),
        ),
        sa.CheckConstraint(
            "kind <> 'remote' OR request_id IS NOT NULL",
            name=op.f("ck_quota_entry_remote_has_request"),
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contract.id"],
            name=op.f("fk_quota_entry_contract_id_contract"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.id"], name=op.f("fk_quota_entry_plan_id_plan"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_request.id"],
            name=op.f("fk_quota_entry_request_id_service_request"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["time_entry_id"],
            ["time_entry.id"],
            name=op.f("fk_quota_entry_time_entry_id_time_entry"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_quota_entry_visit_id_visit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quota_entry")),
    )
    with op.batch_alter_table("plan_unassigned", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("figures", sa.JSON(), nullable=False, server_default=sa.text("'{}'"))
        )
    with op.batch_alter_table("quota_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_quota_entry_contract_occurred", ["contract_id", "occurred_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_quota_entry_visit_id"), ["visit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quota_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quota_entry_visit_id"))
        batch_op.drop_index("ix_quota_entry_contract_occurred")

    op.drop_table("quota_entry")
    with op.batch_alter_table("plan_unassigned", schema=None) as batch_op:
        batch_op.drop_column("figures")
