"""Tables for optimisation results: versioned plans, their stops and their unassigned visits."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from schedules.db import UTCDateTime, check, enum_type, utcnow


class PlanStatus(StrEnum):
    draft = "draft"
    published = "published"
    superseded = "superseded"
    failed = "failed"


class Plan(SQLModel, table=True):
    """One optimisation of a region over a day or a horizon; published plans reach the field."""

    __tablename__ = "plan"
    __table_args__ = (
        sa.UniqueConstraint("region_id", "starts_on", "version"),
        check("days >= 1 AND days <= 31", "days_range"),
        check("version >= 1", "version_positive"),
        check("status <> 'published' OR published_at IS NOT NULL", "published_has_time"),
        # At most one plan in force per region and start day.
        sa.Index(
            "uq_plan_published",
            "region_id",
            "starts_on",
            unique=True,
            sqlite_where=sa.text("status = 'published'"),
            postgresql_where=sa.text("status = 'published'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    region_id: int = Field(foreign_key="region.id", ondelete="RESTRICT", index=True)
    starts_on: date
    days: int = 1
    version: int = 1
    status: PlanStatus = Field(default=PlanStatus.draft, sa_type=enum_type(PlanStatus, "status"))
    strategy: str = Field(default="optimised", max_length=32)
    # OR-Tools' status names run to 41 characters.
    solver_status: str | None = Field(default=None, max_length=64)
    objective: int | None = Field(default=None, sa_type=sa.BigInteger)
    wall_seconds: float | None = None
    stats: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PlanStop(SQLModel, table=True):
    """A visit's place in a plan: technician, day, position and planned times."""

    __tablename__ = "plan_stop"
    __table_args__ = (
        sa.UniqueConstraint("plan_id", "visit_id"),
        sa.UniqueConstraint("plan_id", "technician_id", "day", "sequence"),
        check("sequence >= 0", "sequence_not_negative"),
        check("start_at >= arrival_at AND end_at > start_at", "time_order"),
        check("travel_seconds >= 0 AND travel_metres >= 0", "travel_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE", index=True)
    visit_id: int = Field(foreign_key="visit.id", ondelete="RESTRICT", index=True)
    technician_id: int = Field(foreign_key="technician.id", ondelete="RESTRICT", index=True)
    day: date
    sequence: int
    arrival_at: datetime = Field(sa_type=UTCDateTime)
    start_at: datetime = Field(sa_type=UTCDateTime)
    end_at: datetime = Field(sa_type=UTCDateTime)
    travel_seconds: int = 0
    travel_metres: int = 0


class PlanUnassigned(SQLModel, table=True):
    """A visit a plan left out, with a machine-readable reason and a sentence for people."""

    __tablename__ = "plan_unassigned"

    plan_id: int = Field(foreign_key="plan.id", ondelete="CASCADE", primary_key=True)
    visit_id: int = Field(foreign_key="visit.id", ondelete="RESTRICT", primary_key=True)
    reason: str = Field(max_length=40)
    detail: str = Field(default="", sa_type=sa.Text)
    # The numbers behind the reason (e.g. needed_seconds and remaining_seconds of a quota).
    figures: dict[str, int] = Field(default_factory=dict, sa_type=sa.JSON)


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class PlanningJob(SQLModel, table=True):
    """A planning run requested over the API: what to plan, how far it got, and its plans.
    Kept in the database so any API process can report on it."""

    __tablename__ = "planning_job"
    __table_args__ = (
        check("days >= 1 AND days <= 31", "days_range"),
        check("progress >= 0 AND progress <= 1", "progress_range"),
        check("time_limit_seconds > 0", "time_limit_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # None: every region.
    region_id: int | None = Field(
        default=None, foreign_key="region.id", ondelete="RESTRICT", index=True
    )
    starts_on: date
    days: int = 1
    strategy: str = Field(default="optimised", max_length=32)
    time_limit_seconds: int = 30
    publish: bool = False
    status: JobStatus = Field(
        default=JobStatus.queued, sa_type=enum_type(JobStatus, "status"), index=True
    )
    progress: float = 0.0
    # What it is doing now, or why it failed.
    message: str = Field(default="", max_length=500)
    plan_ids: list[int] = Field(default_factory=list, sa_type=sa.JSON)
    result: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    requested_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PlanningTask(SQLModel, table=True):
    """One region of a planning job (or one territory of an oversized region), the unit a
    worker runs: its stage (a stored draft, a publication) and a lease its worker renews while
    it runs, so that another worker takes over a task whose worker died, without storing or
    publishing its plan twice."""

    __tablename__ = "planning_task"
    __table_args__ = (
        sa.UniqueConstraint("job_id", "region_id", "part"),
        check("progress >= 0 AND progress <= 1", "progress_range"),
        check("attempts >= 0", "attempts_not_negative"),
        check("part >= 0 AND part <= parts", "part_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="planning_job.id", ondelete="CASCADE", index=True)
    region_id: int = Field(foreign_key="region.id", ondelete="RESTRICT", index=True)
    # Territories of an oversized region: ``parts`` of them, solved by tasks 1..parts; task 0
    # (the lead) cuts the region first and assembles their solutions into its plan last.
    # parts 0: the region is planned whole by task 0.
    part: int = 0
    parts: int = 0
    # A territory's share of the region as the lead cut it (jobs, technicians, budgets); the
    # lead's own: when and how it cut.
    scope: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    # A territory's solution, for the lead to assemble.
    solution: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    status: JobStatus = Field(
        default=JobStatus.queued, sa_type=enum_type(JobStatus, "status"), index=True
    )
    progress: float = 0.0
    message: str = Field(default="queued", max_length=500)
    # The draft this task stored; set in the transaction that stores it, so a worker taking
    # over publishes that draft instead of solving again.
    plan_id: int | None = Field(default=None, foreign_key="plan.id", ondelete="SET NULL")
    published: bool = False
    outcome: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    attempts: int = 0
    # Who runs it ("host:pid:random") and until when, renewed while it runs.
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RegionLock(SQLModel, table=True):
    """The planning job that holds a region: two plans of one region never run at once.
    Held until ``held_until`` (renewed with the leases of the job's tasks of the region), so a
    dead holder lets go."""

    __tablename__ = "region_lock"

    region_id: int = Field(foreign_key="region.id", ondelete="CASCADE", primary_key=True)
    job_id: int = Field(foreign_key="planning_job.id", ondelete="CASCADE", index=True)
    held_until: datetime = Field(sa_type=UTCDateTime)
