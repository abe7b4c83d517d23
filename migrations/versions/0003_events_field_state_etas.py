"""events and webhooks, technicians' positions, route locks, visit ETAs and pinned positions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 05:35:45.570151
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "topic",
            sa.Enum(
                "visit.scheduled",
                "visit.eta_changed",
                "visit.late",
                "visit.completed",
                "plan.published",
                "visit.escalated",
                "visit.cancelled",
                "technician.unavailable",
                name="topic",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fanned_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_event")),
    )
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_event_fanned_out_at"), ["fanned_out_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_event_occurred_at"), ["occurred_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_event_topic"), ["topic"], unique=False)

    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "delivered",
                "failed",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_webhook_delivery_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_event.id"],
            name=op.f("fk_webhook_delivery_event_id_outbox_event"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscription.id"],
            name=op.f("fk_webhook_delivery_subscription_id_webhook_subscription"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint(
            "event_id", "subscription_id", name=op.f("uq_webhook_delivery_event_id_subscription_id")
        ),
    )
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_delivery_due", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "technician_position",
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "lat >= -90 AND lat <= 90", name=op.f("ck_technician_position_lat_range")
        ),
        sa.CheckConstraint(
            "lon >= -180 AND lon <= 180", name=op.f("ck_technician_position_lon_range")
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_technician_position_technician_id_technician"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("technician_id", name=op.f("pk_technician_position")),
    )
    op.create_table(
        "route_lock",
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("locked_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["locked_by"],
            ["app_user.id"],
            name=op.f("fk_route_lock_locked_by_app_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_route_lock_technician_id_technician"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("technician_id", "day", name=op.f("pk_route_lock")),
    )
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.alter_column(
            "solver_status", existing_type=sa.String(length=32), type_=sa.String(length=64)
        )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("eta_earliest", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("eta_latest", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("eta_updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pinned_position", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_visit_eta_order"), "eta_latest IS NULL OR eta_latest >= eta_earliest"
        )
        batch_op.create_check_constraint(
            op.f("ck_visit_pinned_position_needs_day"),
            "pinned_position IS NULL OR (pinned_position >= 0 AND pinned_technician_id IS NOT "
            "NULL AND pinned_date IS NOT NULL)",
        )


def downgrade() -> None:
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_visit_pinned_position_needs_day"), type_="check")
        batch_op.drop_constraint(op.f("ck_visit_eta_order"), type_="check")
        batch_op.drop_column("pinned_position")
        batch_op.drop_column("eta_updated_at")
        batch_op.drop_column("eta_latest")
        batch_op.drop_column("eta_earliest")

    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.alter_column(
            "solver_status", existing_type=sa.String(length=64), type_=sa.String(length=32)
        )
    op.drop_table("route_lock")
    op.drop_table("technician_position")
    with op.batch_alter_table("webhook_delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_delivery_due")

    op.drop_table("webhook_delivery")
    op.drop_table("webhook_subscription")
    with op.batch_alter_table("outbox_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_event_topic"))
        batch_op.drop_index(batch_op.f("ix_outbox_event_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_event_fanned_out_at"))

    op.drop_table("outbox_event")
