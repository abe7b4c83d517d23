"""Tables for the state of the day in the field: technicians' last reported positions, routes
a dispatcher has locked, and customers' tracking links."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from schedules.db import UTCDateTime, in_range, utcnow


class TechnicianPosition(SQLModel, table=True):
    """Where a technician last said they were (re-planning starts routes from here)."""

    __tablename__ = "technician_position"
    __table_args__ = (in_range("lat", -90, 90), in_range("lon", -180, 180))

    technician_id: int = Field(foreign_key="technician.id", ondelete="CASCADE", primary_key=True)
    lat: float
    lon: float
    reported_at: datetime = Field(sa_type=UTCDateTime)


class RouteLock(SQLModel, table=True):
    """A technician's route on a day that optimisation must leave as it is."""

    __tablename__ = "route_lock"

    technician_id: int = Field(foreign_key="technician.id", ondelete="CASCADE", primary_key=True)
    day: date = Field(primary_key=True)
    locked_by: int | None = Field(default=None, foreign_key="app_user.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TrackingLink(SQLModel, table=True):
    """A customer's link to follow one visit: a random token (stored only as its SHA-256)
    that shows that visit's status and arrival window and nothing else."""

    __tablename__ = "tracking_link"

    token_hash: str = Field(max_length=64, primary_key=True)
    visit_id: int = Field(foreign_key="visit.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
