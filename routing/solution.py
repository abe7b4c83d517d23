"""The solver's output: routes with their times, unassigned jobs with reasons, statistics."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Why a job is not in the plan."""

    no_skilled_technician = "no_skilled_technician"
    no_shift_on_allowed_days = "no_shift_on_allowed_days"
    time_window_unreachable = "time_window_unreachable"
    exceeds_shift_length = "exceeds_shift_length"
    exceeds_capacity = "exceeds_capacity"
    # Pinned to position p, but no route that could take it has p stops to come first.
    pinned_position_unreachable = "pinned_position_unreachable"
    displaced_by_higher_priority = "displaced_by_higher_priority"
    quota_exhausted = "quota_exhausted"
    # Fits a route, but the planner that made the plan (e.g. the greedy baseline) did not
    # place it there; the optimiser always places such jobs.
    not_placed = "not_placed"
    invalid_location = "invalid_location"


@dataclass(frozen=True, slots=True)
class Stop:
    """A visit on a route; ``travel_*`` is the leg that leads to it, ``wait`` the idle time
    on site before service starts (breaks excluded)."""

    job_id: str
    arrival: int
    start: int
    end: int
    wait: int
    travel_seconds: int
    travel_metres: int
    late_seconds: int = 0


@dataclass(frozen=True, slots=True)
class BreakPlacement:
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Route:
    technician_id: str
    day: int
    departure: int
    back: int
    stops: tuple[Stop, ...]
    breaks: tuple[BreakPlacement, ...]
    return_seconds: int
    return_metres: int
    work_seconds: int
    load: int = 0

    @property
    def travel_seconds(self) -> int:
        return sum(s.travel_seconds for s in self.stops) + self.return_seconds

    @property
    def travel_metres(self) -> int:
        return sum(s.travel_metres for s in self.stops) + self.return_metres

    @property
    def job_ids(self) -> tuple[str, ...]:
        return tuple(s.job_id for s in self.stops)


@dataclass(frozen=True, slots=True)
class Unassigned:
    job_id: str
    reason: Reason
    detail: str
    # For displaced jobs: the higher-priority jobs holding the time it would need.
    displaced_by: tuple[str, ...] = ()
    # The numbers behind the reason, e.g. a budget's needed_seconds and remaining_seconds.
    figures: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Stats:
    status: str
    objective: float
    wall_seconds: float
    first_solution_seconds: float | None
    solutions: int
    strategy: str
    workers: int = 1
    repaired: int = 0


@dataclass(frozen=True, slots=True)
class Solution:
    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    stats: Stats
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def assigned(self) -> int:
        return sum(len(r.stops) for r in self.routes)

    @property
    def travel_seconds(self) -> int:
        return sum(r.travel_seconds for r in self.routes)

    @property
    def travel_metres(self) -> int:
        return sum(r.travel_metres for r in self.routes)

    @property
    def late_seconds(self) -> int:
        return sum(s.late_seconds for r in self.routes for s in r.stops)

    def route_of(self, job_id: str) -> Route | None:
        for route in self.routes:
            if job_id in route.job_ids:
                return route
        return None

    def summary(self) -> dict[str, Any]:
        """Totals for logs, tables and benchmarks."""
        reasons: dict[str, int] = {}
        for item in self.unassigned:
            reasons[item.reason.value] = reasons.get(item.reason.value, 0) + 1
        return {
            "assigned": self.assigned,
            "unassigned": len(self.unassigned),
            "unassigned_by_reason": reasons,
            "routes": sum(1 for r in self.routes if r.stops),
            "travel_km": round(self.travel_metres / 1000, 1),
            "travel_hours": round(self.travel_seconds / 3600, 2),
            "late_minutes": round(self.late_seconds / 60, 1),
            "objective": self.stats.objective,
            "status": self.stats.status,
            "wall_seconds": round(self.stats.wall_seconds, 3),
            "first_solution_seconds": self.stats.first_solution_seconds,
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (to hand a solution between processes or machines)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Solution:
        """The solution ``to_dict`` gave."""
        return cls(
            routes=tuple(
                Route(
                    **{
                        **route,
                        "stops": tuple(Stop(**stop) for stop in route["stops"]),
                        "breaks": tuple(BreakPlacement(**b) for b in route["breaks"]),
                    }
                )
                for route in data["routes"]
            ),
            unassigned=tuple(
                Unassigned(
                    **{
                        **item,
                        "reason": Reason(item["reason"]),
                        "displaced_by": tuple(item["displaced_by"]),
                    }
                )
                for item in data["unassigned"]
            ),
            stats=Stats(**data["stats"]),
            extra=dict(data.get("extra", {})),
        )
