"""Tables for the workforce: regions, skills, technicians and their skill levels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from schedules.db import UTCDateTime, check, in_range, optimistic_lock, utcnow


class Region(SQLModel, table=True):
    """A dispatch territory: its own timezone, travel speed and a plan per day."""

    __tablename__ = "region"
    __table_args__ = (
        check("avg_speed_kmh > 0 AND avg_speed_kmh <= 130", "speed_range"),
        check("detour_factor >= 1 AND detour_factor <= 3", "detour_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    name: str = Field(max_length=100)
    timezone: str = Field(max_length=64)
    # Travel time is the great-circle distance times the detour factor at this average speed.
    avg_speed_kmh: float = 30.0
    detour_factor: float = 1.3
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    # Optimistic locking: every UPDATE checks and bumps it; the API's ETag reads it.
    revision: int = 1

    @declared_attr  # type: ignore[misc]
    def __mapper_args__(cls) -> dict[str, Any]:
        return optimistic_lock(cls)


class Skill(SQLModel, table=True):
    __tablename__ = "skill"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)


class Technician(SQLModel, table=True):
    """A field engineer: where they start, what they may work, what an hour of them costs."""

    __tablename__ = "technician"
    __table_args__ = (
        in_range("home_lat", -90, 90),
        in_range("home_lon", -180, 180),
        check("max_work_minutes > 0 AND max_work_minutes <= 1440", "max_work_range"),
        check("hourly_cost_cents >= 0", "cost_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    region_id: int = Field(foreign_key="region.id", ondelete="RESTRICT", index=True)
    home_address: str | None = Field(default=None, max_length=300)
    home_lat: float
    home_lon: float
    max_work_minutes: int = 480
    hourly_cost_cents: int = 0
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    # Optimistic locking: every UPDATE checks and bumps it; the API's ETag reads it.
    revision: int = 1

    @declared_attr  # type: ignore[misc]
    def __mapper_args__(cls) -> dict[str, Any]:
        return optimistic_lock(cls)


class TechnicianSkill(SQLModel, table=True):
    """A technician's level in one skill, 1 (trainee) to 5 (expert)."""

    __tablename__ = "technician_skill"
    __table_args__ = (in_range("level", 1, 5),)

    technician_id: int = Field(foreign_key="technician.id", ondelete="CASCADE", primary_key=True)
    skill_id: int = Field(foreign_key="skill.id", ondelete="RESTRICT", primary_key=True)
    level: int
