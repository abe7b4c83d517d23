"""Tables for who is served and where: customers, their sites and the sites' access hours."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from schedules.db import UTCDateTime, in_range, optimistic_lock, utcnow
from schedules.models import WeeklyHours, weekly_hours_checks


class Customer(SQLModel, table=True):
    __tablename__ = "customer"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    # Optimistic locking: every UPDATE checks and bumps it; the API's ETag reads it.
    revision: int = 1

    @declared_attr  # type: ignore[misc]
    def __mapper_args__(cls) -> dict[str, Any]:
        return optimistic_lock(cls)


class Site(SQLModel, table=True):
    """A customer's location where visits happen."""

    __tablename__ = "site"
    __table_args__ = (
        # Lets service requests prove in the database that their site and contract share a
        # customer (composite foreign keys).
        sa.UniqueConstraint("id", "customer_id"),
        in_range("lat", -90, 90),
        in_range("lon", -180, 180),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    customer_id: int = Field(foreign_key="customer.id", ondelete="RESTRICT", index=True)
    region_id: int = Field(foreign_key="region.id", ondelete="RESTRICT", index=True)
    name: str = Field(max_length=200)
    address: str = Field(max_length=300)
    lat: float
    lon: float
    contact_name: str | None = Field(default=None, max_length=100)
    contact_phone: str | None = Field(default=None, max_length=32)
    access_notes: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    # Optimistic locking: every UPDATE checks and bumps it; the API's ETag reads it.
    revision: int = 1

    @declared_attr  # type: ignore[misc]
    def __mapper_args__(cls) -> dict[str, Any]:
        return optimistic_lock(cls)


class SiteAccessHours(WeeklyHours, table=True):
    """When technicians can get into a site on one weekday."""

    __tablename__ = "site_access_hours"
    __table_args__ = weekly_hours_checks()

    site_id: int = Field(foreign_key="site.id", ondelete="CASCADE", primary_key=True)
