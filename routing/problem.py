"""The solver's input: frozen dataclasses in integers (seconds from the horizon start, metres).

A problem has jobs (visits), technicians with one shift per working day, and a travel model.
Day ``d`` of the horizon is a label on shifts and on jobs' allowed days; all times are
absolute seconds from the horizon start, so windows and shifts of different days never mix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from routing.travel import GreatCircle, MatrixProvider


@dataclass(frozen=True, slots=True)
class Location:
    """A point; what the coordinates mean is up to the travel provider (degrees by default)."""

    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Window:
    """Service may start at any second in [start, end]."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Break:
    """``duration`` seconds off, starting anywhere in [earliest, latest]; a fixed break has
    earliest == latest. Breaks never interrupt a job's service but may fall during travel or
    waiting."""

    duration: int
    earliest: int
    latest: int


@dataclass(frozen=True, slots=True)
class Shift:
    """One working day of a technician: leaves no earlier than ``start`` and is back (at the
    end location) no later than ``end``. A start location (and a later start) overrides the
    home base when re-planning during the day."""

    day: int
    start: int
    end: int
    breaks: tuple[Break, ...] = ()
    start_location: Location | None = None
    end_location: Location | None = None


@dataclass(frozen=True, slots=True)
class Technician:
    id: str
    home: Location
    shifts: tuple[Shift, ...]
    skills: Mapping[str, int] = field(default_factory=dict)
    # Travel plus service per shift; waiting and breaks do not count.
    max_work_seconds: int | None = None
    # Objective cost units per hour of route time (leaving home to coming back).
    cost_per_hour: int = 0
    # Regions whose jobs this technician may take; None: any.
    regions: frozenset[str] | None = None
    # Capacity of the generic load dimension (parts, weight); None: unlimited.
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """One visit. Unless pinned, any technician with the skills may take it on any allowed
    day; leaving it out costs ``priority`` times the objective's drop weight."""

    id: str
    location: Location
    duration: int
    windows: tuple[Window, ...] = ()
    skills: Mapping[str, int] = field(default_factory=dict)
    priority: int = 1
    earliest_day: int = 0
    due_day: int | None = None
    # Soft deadline on the start of service, and its price per minute late.
    sla_deadline: int | None = None
    sla_penalty_per_minute: int = 0
    # Hard deadline on the start of service.
    latest_arrival: int | None = None
    allowed_technicians: frozenset[str] | None = None
    forbidden_technicians: frozenset[str] = frozenset()
    pinned_technician: str | None = None
    pinned_day: int | None = None
    # 0-based position in the pinned technician's route of the pinned (or only allowed) day.
    pinned_position: int | None = None
    # Already under way by this technician: stays the first stop of their first route.
    started_by: str | None = None
    demand: int = 0
    region: str | None = None
    # Budgets (Quota ids) the job draws on; the one covering the day it is served applies.
    quotas: tuple[str, ...] = ()
    # What serving it takes from that budget; None: its duration.
    quota_seconds: int | None = None
    # Re-planning: the technician the customer was told about, and the cost of giving the
    # job to anyone else (a stability price, so only a large gain moves it).
    incumbent: str | None = None
    reassign_cost: int = 0

    @property
    def quota_draw(self) -> int:
        return self.duration if self.quota_seconds is None else self.quota_seconds


@dataclass(frozen=True, slots=True)
class Quota:
    """A budget jobs share, such as a contract's remaining hours and on-site days in one
    period: the jobs drawing on it that are served on one of ``days`` take at most
    ``seconds`` in all (each its ``quota_draw``) on at most ``visit_days`` distinct days.
    None means no limit of that kind; ``days`` None covers the whole horizon. Days in
    ``open_days`` already have a visit outside the problem (done, or under way): more visits
    on them take no further day."""

    id: str
    seconds: int | None = None
    visit_days: int | None = None
    days: frozenset[int] | None = None
    open_days: frozenset[int] = frozenset()

    def covers(self, day: int) -> bool:
        return self.days is None or day in self.days


@dataclass(frozen=True, slots=True)
class Objective:
    """Weights of the single integer objective, in cost units (default: 1 = one second of
    travel). The defaults make dropped priority dominate SLA lateness, which dominates travel.
    """

    drop_weight: int = 1_000_000
    travel_second_cost: int = 1
    travel_metre_cost: int = 0
    # Cost per second of the longest working time (travel + service) over all routes.
    balance_weight: int = 0


@dataclass(frozen=True, slots=True)
class DurationScaling:
    """Service time by how far the technician's level exceeds the job's minimum in its main
    skill (the required skill with the highest minimum level): ``percent[margin]``, the last
    entry for larger margins."""

    percent: tuple[int, ...] = (100, 90, 80, 75)


@dataclass(frozen=True, slots=True)
class Problem:
    jobs: tuple[Job, ...]
    technicians: tuple[Technician, ...]
    days: int = 1
    travel: MatrixProvider = field(default_factory=GreatCircle)
    objective: Objective = field(default_factory=Objective)
    duration_scaling: DurationScaling | None = None
    # Known skill codes; when given, any other skill is an input error.
    skills: frozenset[str] | None = None
    quotas: tuple[Quota, ...] = ()

    def job(self, job_id: str) -> Job:
        for job in self.jobs:
            if job.id == job_id:
                return job
        raise KeyError(job_id)

    def technician(self, technician_id: str) -> Technician:
        for tech in self.technicians:
            if tech.id == technician_id:
                return tech
        raise KeyError(technician_id)


def main_skill(job: Job) -> str | None:
    """The required skill with the highest minimum level (first in order on ties)."""
    best: str | None = None
    for skill, level in job.skills.items():
        if best is None or level > job.skills[best]:
            best = skill
    return best


def service_seconds(problem: Problem, job: Job, tech: Technician) -> int:
    """How long ``tech`` needs on site for ``job``."""
    scaling = problem.duration_scaling
    skill = main_skill(job)
    if scaling is None or skill is None:
        return job.duration
    margin = max(0, tech.skills.get(skill, 0) - job.skills[skill])
    percent = scaling.percent[min(margin, len(scaling.percent) - 1)]
    return job.duration * percent // 100
