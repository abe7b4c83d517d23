"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 01:27:29.953444
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("code", name=op.f("uq_customer_code")),
    )
    op.create_table(
        "region",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("avg_speed_kmh", sa.Float(), nullable=False),
        sa.Column("detour_factor", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "avg_speed_kmh > 0 AND avg_speed_kmh <= 130", name=op.f("ck_region_speed_range")
        ),
        sa.CheckConstraint(
            "detour_factor >= 1 AND detour_factor <= 3", name=op.f("ck_region_detour_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_region")),
        sa.UniqueConstraint("code", name=op.f("uq_region_code")),
    )
    op.create_table(
        "skill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skill")),
        sa.UniqueConstraint("code", name=op.f("uq_skill_code")),
    )
    op.create_table(
        "business_hours",
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens_minute", sa.Integer(), nullable=False),
        sa.Column("closes_minute", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "closes_minute > opens_minute AND closes_minute <= 1440",
            name=op.f("ck_business_hours_order"),
        ),
        sa.CheckConstraint(
            "opens_minute >= 0 AND opens_minute <= 1439",
            name=op.f("ck_business_hours_opens_minute_range"),
        ),
        sa.CheckConstraint(
            "weekday >= 0 AND weekday <= 6", name=op.f("ck_business_hours_weekday_range")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_business_hours_region_id_region"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("weekday", "region_id", name=op.f("pk_business_hours")),
    )
    op.create_table(
        "contract",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "time_and_materials",
                "managed",
                "prepaid_hours",
                name="kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "tier",
            sa.Enum(
                "platinum",
                "gold",
                "silver",
                "bronze",
                name="tier",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("sla_response_hours", sa.Integer(), nullable=True),
        sa.Column(
            "coverage",
            sa.Enum(
                "24x7", "business_hours", name="coverage", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column(
            "quota_period",
            sa.Enum(
                "week", "month", name="quota_period", native_enum=False, create_constraint=True
            ),
            nullable=True,
        ),
        sa.Column("quota_hours", sa.Integer(), nullable=True),
        sa.Column("quota_onsite_days", sa.Integer(), nullable=True),
        sa.Column(
            "overage_policy",
            sa.Enum(
                "block",
                "bill_as_tm",
                name="overage_policy",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("hourly_rate_cents", sa.Integer(), nullable=False),
        sa.Column("monthly_fee_cents", sa.Integer(), nullable=True),
        sa.Column("prepaid_hours", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("include_travel", sa.Boolean(), nullable=False),
        sa.Column("include_remote", sa.Boolean(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind <> 'managed' OR (quota_period IS NOT NULL AND sla_response_hours IS NOT NULL)",
            name=op.f("ck_contract_managed_has_quota_and_sla"),
        ),
        sa.CheckConstraint(
            "kind <> 'prepaid_hours' OR prepaid_hours IS NOT NULL",
            name=op.f("ck_contract_prepaid_has_block"),
        ),
        sa.CheckConstraint(
            "kind <> 'time_and_materials' OR (quota_period IS NULL AND prepaid_hours IS NULL AND hourly_rate_cents > 0)",
            name=op.f("ck_contract_tm_is_billed_by_rate"),
        ),
        sa.CheckConstraint(
            "overage_policy <> 'bill_as_tm' OR hourly_rate_cents > 0",
            name=op.f("ck_contract_overage_needs_rate"),
        ),
        sa.CheckConstraint(
            "(quota_period IS NULL AND quota_hours IS NULL AND quota_onsite_days IS NULL) OR (quota_period IS NOT NULL AND quota_hours IS NOT NULL AND quota_onsite_days IS NOT NULL)",
            name=op.f("ck_contract_quota_complete"),
        ),
        sa.CheckConstraint("hourly_rate_cents >= 0", name=op.f("ck_contract_rate_not_negative")),
        sa.CheckConstraint(
            "monthly_fee_cents IS NULL OR monthly_fee_cents >= 0",
            name=op.f("ck_contract_fee_not_negative"),
        ),
        sa.CheckConstraint(
            "prepaid_hours IS NULL OR prepaid_hours > 0", name=op.f("ck_contract_prepaid_positive")
        ),
        sa.CheckConstraint(
            "quota_hours IS NULL OR quota_hours >= 0",
            name=op.f("ck_contract_quota_hours_not_negative"),
        ),
        sa.CheckConstraint(
            "quota_onsite_days IS NULL OR quota_onsite_days >= 0",
            name=op.f("ck_contract_quota_days_not_negative"),
        ),
        sa.CheckConstraint(
            "sla_response_hours IS NULL OR sla_response_hours > 0",
            name=op.f("ck_contract_sla_positive"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from", name=op.f("ck_contract_valid_period")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_contract_customer_id_customer"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract")),
        sa.UniqueConstraint("code", name=op.f("uq_contract_code")),
        sa.UniqueConstraint("id", "customer_id", name=op.f("uq_contract_id_customer_id")),
    )
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contract_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "holiday",
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_holiday_region_id_region"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("region_id", "day", name=op.f("pk_holiday")),
    )
    op.create_table(
        "plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "published",
                "superseded",
                "failed",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("strategy", sa.String(length=32), nullable=False),
        sa.Column("solver_status", sa.String(length=32), nullable=True),
        sa.Column("objective", sa.BigInteger(), nullable=True),
        sa.Column("wall_seconds", sa.Float(), nullable=True),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status <> 'published' OR published_at IS NOT NULL",
            name=op.f("ck_plan_published_has_time"),
        ),
        sa.CheckConstraint("days >= 1 AND days <= 31", name=op.f("ck_plan_days_range")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_plan_version_positive")),
        sa.ForeignKeyConstraint(
            ["region_id"], ["region.id"], name=op.f("fk_plan_region_id_region"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
        sa.UniqueConstraint(
            "region_id", "starts_on", "version", name=op.f("uq_plan_region_id_starts_on_version")
        ),
    )
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_region_id"), ["region_id"], unique=False)
        batch_op.create_index(
            "uq_plan_published",
            ["region_id", "starts_on"],
            unique=True,
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )

    op.create_table(
        "site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("contact_name", sa.String(length=100), nullable=True),
        sa.Column("contact_phone", sa.String(length=32), nullable=True),
        sa.Column("access_notes", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("lat >= -90 AND lat <= 90", name=op.f("ck_site_lat_range")),
        sa.CheckConstraint("lon >= -180 AND lon <= 180", name=op.f("ck_site_lon_range")),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_site_customer_id_customer"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["region.id"], name=op.f("fk_site_region_id_region"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site")),
        sa.UniqueConstraint("code", name=op.f("uq_site_code")),
        sa.UniqueConstraint("id", "customer_id", name=op.f("uq_site_id_customer_id")),
    )
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_site_region_id"), ["region_id"], unique=False)

    op.create_table(
        "technician",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("home_address", sa.String(length=300), nullable=True),
        sa.Column("home_lat", sa.Float(), nullable=False),
        sa.Column("home_lon", sa.Float(), nullable=False),
        sa.Column("max_work_minutes", sa.Integer(), nullable=False),
        sa.Column("hourly_cost_cents", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "home_lat >= -90 AND home_lat <= 90", name=op.f("ck_technician_home_lat_range")
        ),
        sa.CheckConstraint(
            "home_lon >= -180 AND home_lon <= 180", name=op.f("ck_technician_home_lon_range")
        ),
        sa.CheckConstraint("hourly_cost_cents >= 0", name=op.f("ck_technician_cost_not_negative")),
        sa.CheckConstraint(
            "max_work_minutes > 0 AND max_work_minutes <= 1440",
            name=op.f("ck_technician_max_work_range"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_technician_region_id_region"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technician")),
        sa.UniqueConstraint("code", name=op.f("uq_technician_code")),
    )
    with op.batch_alter_table("technician", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_technician_region_id"), ["region_id"], unique=False)

    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "dispatcher",
                "technician",
                name="role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("technician_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(role = 'technician') = (technician_id IS NOT NULL)",
            name=op.f("ck_app_user_technician_link"),
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_app_user_technician_id_technician"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("technician_id", name=op.f("uq_app_user_technician_id")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "calendar_exception",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "vacation",
                "sickness",
                "training",
                "extra_shift",
                "other",
                name="kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_calendar_exception_order")),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_calendar_exception_technician_id_technician"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_exception")),
    )
    with op.batch_alter_table("calendar_exception", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calendar_exception_technician_id"), ["technician_id"], unique=False
        )

    op.create_table(
        "service_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "phone",
                "email",
                "portal",
                "monitoring",
                name="channel",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "urgency",
            sa.Enum(
                "low",
                "normal",
                "high",
                "emergency",
                name="urgency",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("contact_name", sa.String(length=100), nullable=False),
        sa.Column("contact_phone", sa.String(length=32), nullable=True),
        sa.Column("contact_email", sa.String(length=254), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "triage",
            sa.Enum(
                "pending",
                "resolved_remotely",
                "escalated",
                "cancelled",
                name="triage",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("remote_minutes", sa.Integer(), nullable=False),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "triage <> 'resolved_remotely' OR resolved_at IS NOT NULL",
            name=op.f("ck_service_request_resolution_has_time"),
        ),
        sa.CheckConstraint(
            "remote_minutes >= 0", name=op.f("ck_service_request_remote_minutes_not_negative")
        ),
        sa.CheckConstraint(
            "resolved_at IS NULL OR resolved_at >= registered_at",
            name=op.f("ck_service_request_resolved_after_registered"),
        ),
        sa.ForeignKeyConstraint(
            ["contract_id", "customer_id"],
            ["contract.id", "contract.customer_id"],
            name=op.f("fk_service_request_contract_id_customer_id_contract"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["site_id", "customer_id"],
            ["site.id", "site.customer_id"],
            name=op.f("fk_service_request_site_id_customer_id_site"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request")),
        sa.UniqueConstraint("code", name=op.f("uq_service_request_code")),
    )
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_request_contract_id"), ["contract_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_request_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_request_registered_at"), ["registered_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_service_request_site_id"), ["site_id"], unique=False)

    op.create_table(
        "site_access_hours",
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens_minute", sa.Integer(), nullable=False),
        sa.Column("closes_minute", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "closes_minute > opens_minute AND closes_minute <= 1440",
            name=op.f("ck_site_access_hours_order"),
        ),
        sa.CheckConstraint(
            "opens_minute >= 0 AND opens_minute <= 1439",
            name=op.f("ck_site_access_hours_opens_minute_range"),
        ),
        sa.CheckConstraint(
            "weekday >= 0 AND weekday <= 6", name=op.f("ck_site_access_hours_weekday_range")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
            name=op.f("fk_site_access_hours_site_id_site"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("weekday", "site_id", name=op.f("pk_site_access_hours")),
    )
    op.create_table(
        "technician_skill",
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "level >= 1 AND level <= 5", name=op.f("ck_technician_skill_level_range")
        ),
        sa.ForeignKeyConstraint(
            ["skill_id"],
            ["skill.id"],
            name=op.f("fk_technician_skill_skill_id_skill"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_technician_skill_technician_id_technician"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("technician_id", "skill_id", name=op.f("pk_technician_skill")),
    )
    op.create_table(
        "work_pattern",
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("starts_minute", sa.Integer(), nullable=False),
        sa.Column("ends_minute", sa.Integer(), nullable=False),
        sa.Column("break_minutes", sa.Integer(), nullable=False),
        sa.Column("break_earliest", sa.Integer(), nullable=True),
        sa.Column("break_latest", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(break_minutes = 0 AND break_earliest IS NULL AND break_latest IS NULL) OR (break_minutes > 0 AND break_earliest IS NOT NULL AND break_latest IS NOT NULL AND break_earliest >= starts_minute AND break_latest <= ends_minute AND break_latest - break_earliest >= break_minutes)",
            name=op.f("ck_work_pattern_break_fits"),
        ),
        sa.CheckConstraint(
            "break_minutes >= 0 AND break_minutes <= 240",
            name=op.f("ck_work_pattern_break_minutes_range"),
        ),
        sa.CheckConstraint(
            "ends_minute > starts_minute AND ends_minute <= starts_minute + 1440",
            name=op.f("ck_work_pattern_shift_order"),
        ),
        sa.CheckConstraint(
            "starts_minute >= 0 AND starts_minute <= 1439",
            name=op.f("ck_work_pattern_starts_minute_range"),
        ),
        sa.CheckConstraint(
            "weekday >= 0 AND weekday <= 6", name=op.f("ck_work_pattern_weekday_range")
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_work_pattern_technician_id_technician"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("technician_id", "weekday", name=op.f("pk_work_pattern")),
    )
    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("earliest_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "unscheduled",
                "scheduled",
                "dispatched",
                "en_route",
                "on_site",
                "completed",
                "failed",
                "cancelled",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("technician_id", sa.Integer(), nullable=True),
        sa.Column("pinned_technician_id", sa.Integer(), nullable=True),
        sa.Column("pinned_date", sa.Date(), nullable=True),
        sa.Column("planned_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status <> 'unscheduled' OR technician_id IS NULL",
            name=op.f("ck_visit_unscheduled_has_none"),
        ),
        sa.CheckConstraint(
            "status IN ('unscheduled', 'cancelled') OR technician_id IS NOT NULL",
            name=op.f("ck_visit_scheduled_has_technician"),
        ),
        sa.CheckConstraint(
            "actual_end IS NULL OR actual_end >= actual_start", name=op.f("ck_visit_actual_order")
        ),
        sa.CheckConstraint("due_date >= earliest_date", name=op.f("ck_visit_due_after_earliest")),
        sa.CheckConstraint(
            "duration_minutes > 0 AND duration_minutes <= 1440",
            name=op.f("ck_visit_duration_range"),
        ),
        sa.CheckConstraint(
            "pinned_date IS NULL OR (pinned_date >= earliest_date AND pinned_date <= due_date)",
            name=op.f("ck_visit_pinned_date_in_range"),
        ),
        sa.CheckConstraint(
            "planned_end IS NULL OR planned_end > planned_start",
            name=op.f("ck_visit_planned_order"),
        ),
        sa.CheckConstraint(
            "priority >= 1 AND priority <= 100", name=op.f("ck_visit_priority_range")
        ),
        sa.CheckConstraint("revision >= 1", name=op.f("ck_visit_revision_positive")),
        sa.ForeignKeyConstraint(
            ["pinned_technician_id"],
            ["technician.id"],
            name=op.f("fk_visit_pinned_technician_id_technician"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_request.id"],
            name=op.f("fk_visit_request_id_service_request"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_visit_technician_id_technician"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
        sa.UniqueConstraint("code", name=op.f("uq_visit_code")),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_technician_id"), ["technician_id"], unique=False)

    op.create_table(
        "material_usage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("unit_price_cents", sa.Integer(), nullable=False),
        sa.Column("billable", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_material_usage_quantity_positive")),
        sa.CheckConstraint(
            "unit_price_cents >= 0", name=op.f("ck_material_usage_price_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_material_usage_visit_id_visit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_material_usage")),
    )
    with op.batch_alter_table("material_usage", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_material_usage_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "plan_stop",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("arrival_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("travel_seconds", sa.Integer(), nullable=False),
        sa.Column("travel_metres", sa.Integer(), nullable=False),
        sa.CheckConstraint("sequence >= 0", name=op.f("ck_plan_stop_sequence_not_negative")),
        sa.CheckConstraint(
            "start_at >= arrival_at AND end_at > start_at", name=op.f("ck_plan_stop_time_order")
        ),
        sa.CheckConstraint(
            "travel_seconds >= 0 AND travel_metres >= 0",
            name=op.f("ck_plan_stop_travel_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.id"], name=op.f("fk_plan_stop_plan_id_plan"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_plan_stop_technician_id_technician"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_plan_stop_visit_id_visit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_stop")),
        sa.UniqueConstraint(
            "plan_id",
            "technician_id",
            "day",
            "sequence",
            name=op.f("uq_plan_stop_plan_id_technician_id_day_sequence"),
        ),
        sa.UniqueConstraint("plan_id", "visit_id", name=op.f("uq_plan_stop_plan_id_visit_id")),
    )
    with op.batch_alter_table("plan_stop", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_stop_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_plan_stop_technician_id"), ["technician_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_plan_stop_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "plan_unassigned",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plan.id"],
            name=op.f("fk_plan_unassigned_plan_id_plan"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_plan_unassigned_visit_id_visit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("plan_id", "visit_id", name=op.f("pk_plan_unassigned")),
    )
    op.create_table(
        "time_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("travel", "work", name="kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind <> 'work' OR visit_id IS NOT NULL", name=op.f("ck_time_entry_work_is_on_a_visit")
        ),
        sa.CheckConstraint("ended_at > started_at", name=op.f("ck_time_entry_order")),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technician.id"],
            name=op.f("fk_time_entry_technician_id_technician"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_time_entry_visit_id_visit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_entry")),
    )
    with op.batch_alter_table("time_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_time_entry_technician_id"), ["technician_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_time_entry_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "visit_skill",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.Integer(), nullable=False),
        sa.Column("min_level", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "min_level >= 1 AND min_level <= 5", name=op.f("ck_visit_skill_min_level_range")
        ),
        sa.ForeignKeyConstraint(
            ["skill_id"],
            ["skill.id"],
            name=op.f("fk_visit_skill_skill_id_skill"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_visit_skill_visit_id_visit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("visit_id", "skill_id", name=op.f("pk_visit_skill")),
    )
    op.create_table(
        "visit_time_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_visit_time_window_order")),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_visit_time_window_visit_id_visit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_time_window")),
        sa.UniqueConstraint(
            "visit_id", "starts_at", name=op.f("uq_visit_time_window_visit_id_starts_at")
        ),
    )
    with op.batch_alter_table("visit_time_window", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_visit_time_window_visit_id"), ["visit_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("visit_time_window", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_time_window_visit_id"))

    op.drop_table("visit_time_window")
    op.drop_table("visit_skill")
    with op.batch_alter_table("time_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_time_entry_visit_id"))
        batch_op.drop_index(batch_op.f("ix_time_entry_technician_id"))

    op.drop_table("time_entry")
    op.drop_table("plan_unassigned")
    with op.batch_alter_table("plan_stop", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_stop_visit_id"))
        batch_op.drop_index(batch_op.f("ix_plan_stop_technician_id"))
        batch_op.drop_index(batch_op.f("ix_plan_stop_plan_id"))

    op.drop_table("plan_stop")
    with op.batch_alter_table("material_usage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_material_usage_visit_id"))

    op.drop_table("material_usage")
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_technician_id"))
        batch_op.drop_index(batch_op.f("ix_visit_status"))
        batch_op.drop_index(batch_op.f("ix_visit_request_id"))

    op.drop_table("visit")
    op.drop_table("work_pattern")
    op.drop_table("technician_skill")
    op.drop_table("site_access_hours")
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_request_site_id"))
        batch_op.drop_index(batch_op.f("ix_service_request_registered_at"))
        batch_op.drop_index(batch_op.f("ix_service_request_customer_id"))
        batch_op.drop_index(batch_op.f("ix_service_request_contract_id"))

    op.drop_table("service_request")
    with op.batch_alter_table("calendar_exception", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_exception_technician_id"))

    op.drop_table("calendar_exception")
    op.drop_table("app_user")
    with op.batch_alter_table("technician", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_technician_region_id"))

    op.drop_table("technician")
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_region_id"))
        batch_op.drop_index(batch_op.f("ix_site_customer_id"))

    op.drop_table("site")
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_plan_published",
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        )
        batch_op.drop_index(batch_op.f("ix_plan_region_id"))

    op.drop_table("plan")
    op.drop_table("holiday")
    with op.batch_alter_table("contract", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_customer_id"))

    op.drop_table("contract")
    op.drop_table("business_hours")
    op.drop_table("skill")
    op.drop_table("region")
    op.drop_table("customer")
