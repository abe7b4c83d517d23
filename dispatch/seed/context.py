"""What the seed's builders share while a load runs: rows by code from the load or the
database, keys already seen, working days by region, password hashes, the error report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, select

from dispatch.accounts import hash_password
from dispatch.models import (
    Contract,
    Customer,
    Holiday,
    Region,
    ServiceRequest,
    Site,
    Skill,
    Technician,
    Visit,
)
from dispatch.seed.rows import (
    ContractRow,
    CustomerRow,
    RegionRow,
    RequestRow,
    SeedRow,
    SiteRow,
    SkillRow,
    TechnicianRow,
    VisitRow,
)
from schedules.calendars import local_to_utc, working_days
from schedules.sla import BusinessWeek

Model = TypeVar("Model", bound=SQLModel)
Report = Callable[[str | None, Any, str], None]

# Which table each file with a ``code`` (or ``username``) column fills.
CODED: dict[type[SeedRow], type[SQLModel]] = {
    RegionRow: Region,
    SkillRow: Skill,
    CustomerRow: Customer,
    SiteRow: Site,
    ContractRow: Contract,
    TechnicianRow: Technician,
    RequestRow: ServiceRequest,
    VisitRow: Visit,
}
FILE_OF: dict[type[SQLModel], type[SeedRow]] = {m: r for r, m in CODED.items()}


@dataclass
class Context:
    """What builders share: objects by code, seen keys, calendars, the report callback."""

    session: Session
    anchor: date
    now: datetime
    report: Report
    broken: dict[type[SeedRow], set[str]] = field(default_factory=dict)
    by_code: dict[type[SQLModel], dict[str, Any]] = field(default_factory=dict)
    seen: dict[type[SeedRow], dict[tuple[Any, ...], int]] = field(default_factory=dict)
    existing: dict[type[SQLModel], set[str]] = field(default_factory=dict)
    _days: dict[int, list[date]] = field(default_factory=dict)
    _hashes: dict[str, str] = field(default_factory=dict)
    _request_regions: dict[int, Region] = field(default_factory=dict)
    # Business weeks by region id, for SLA deadlines.
    weeks: dict[int, BusinessWeek] = field(default_factory=dict)

    def mark_broken(self, row: SeedRow) -> None:
        """Rows referring to ``row`` are not reported: its own error says what to fix."""
        key = getattr(row, "code", None) or getattr(row, "username", None)
        if key is not None:
            self.broken.setdefault(type(row), set()).add(key)

    def remember(self, row: SeedRow, obj: SQLModel) -> None:
        key = getattr(row, "code", None) or getattr(row, "username", None)
        if key is not None:
            self.by_code.setdefault(type(obj), {})[key] = obj

    def lookup(self, model: type[Model], code: str, column: str) -> Model | None:
        """The row with ``code``, from this load or already in the database."""
        found = self.by_code.setdefault(model, {}).get(code)
        if found is None:
            found = self.session.exec(select(model).where(model.code == code)).first()  # type: ignore[attr-defined]
            if found is not None:
                self.by_code[model][code] = found
        if found is None and code not in self.broken.get(FILE_OF[model], set()):
            self.report(column, code, f"no {model.__tablename__} with code {code!r}")  # type: ignore[attr-defined]
        return found

    def unique(
        self, row_type: type[SeedRow], key: tuple[Any, ...], number: int, column: str
    ) -> bool:
        """False (and reported) if ``key`` already appeared in the file or the database."""
        seen = self.seen.setdefault(row_type, {})
        if key in seen:
            self.report(column, key[-1], f"duplicate of row {seen[key]}")
            return False
        seen[key] = number
        model = CODED.get(row_type)
        if model is not None and key[0] in self._existing(model):
            self.report(column, key[0], "already exists in the database")
            return False
        return True

    def _existing(self, model: type[SQLModel]) -> set[str]:
        if model not in self.existing:
            self.existing[model] = set(self.session.exec(select(model.code)).all())  # type: ignore[attr-defined]
        return self.existing[model]

    def day(self, region: Region, offset: int) -> date:
        """The ``offset``-th working day of ``region`` from the anchor (0: the anchor, or the
        first working day after it)."""
        days = self._days.get(region.id)  # type: ignore[arg-type]
        if days is None or len(days) <= offset:
            holidays = set(
                self.session.exec(select(Holiday.day).where(Holiday.region_id == region.id)).all()
            )
            days = working_days(self.anchor, max(offset + 1, 31), holidays)
            self._days[region.id] = days  # type: ignore[index]
        return days[offset]

    def instant(self, region: Region, offset: int, minute: int) -> datetime:
        return local_to_utc(self.day(region, offset), minute, region.timezone)

    def password_hash(self, password: str) -> str:
        # Demo accounts share a few passwords; argon2 costs ~0.2 s a hash, so hash each once.
        if password not in self._hashes:
            self._hashes[password] = hash_password(password)
        return self._hashes[password]
