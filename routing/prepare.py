"""The problem in the solver's terms: points and their travel matrices, one vehicle per
technician shift, effective windows, and which vehicles may take each job.

Point layout: job ``i`` is point ``i``; after the jobs come the distinct start and end places
of the vehicles (homes, or current positions when re-planning). Routing nodes are points.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from routing.problem import Break, Job, Location, Problem, Shift, Technician, service_seconds
from routing.travel import UNREACHABLE, TravelMatrices

DAY = 86_400


@dataclass(frozen=True, slots=True)
class Vehicle:
    """One technician on one day."""

    index: int
    tech: Technician
    tech_index: int
    shift: Shift
    start_point: int
    end_point: int

    @property
    def day(self) -> int:
        return self.shift.day

    @property
    def breaks(self) -> tuple[Break, ...]:
        return tuple(sorted(self.shift.breaks, key=lambda b: (b.earliest, b.latest)))


# Why a vehicle cannot take a job at all (before any timing is considered).
SKILL, TECHNICIAN, DAY_RULE, REGION = "skill", "technician", "day", "region"


class Prepared:
    def __init__(self, problem: Problem, matrices: TravelMatrices | None = None) -> None:
        self.problem = problem
        self.jobs = problem.jobs
        self.job_index = {job.id: i for i, job in enumerate(problem.jobs)}
        self.tech_index = {tech.id: i for i, tech in enumerate(problem.technicians)}
        points: list[Location] = [job.location for job in problem.jobs]
        place: dict[Location, int] = {}

        def point_of(location: Location) -> int:
            if location not in place:
                place[location] = len(points)
                points.append(location)
            return place[location]

        vehicles: list[Vehicle] = []
        for t, tech in enumerate(problem.technicians):
            for shift in sorted(tech.shifts, key=lambda s: s.day):
                start = point_of(shift.start_location or tech.home)
                end = point_of(shift.end_location or tech.home)
                vehicles.append(Vehicle(len(vehicles), tech, t, shift, start, end))
        self.points = points
        self.vehicles = vehicles
        # Worker processes receive the matrices the parent computed instead of recomputing.
        self.matrices: TravelMatrices = matrices or problem.travel.matrices(points)
        self._service: dict[tuple[int, int], int] = {}
        self._windows: dict[int, list[tuple[int, int]]] = {}

    @cached_property
    def horizon(self) -> int:
        ends = [v.shift.end for v in self.vehicles] + [
            w.end for job in self.jobs for w in job.windows
        ]
        return max([self.problem.days * DAY, *ends])

    def due_day(self, job: Job) -> int:
        return self.problem.days - 1 if job.due_day is None else job.due_day

    def windows(self, j: int) -> list[tuple[int, int]]:
        """When service of job ``j`` may start: the union of its windows (or any time), cut at
        its hard latest arrival, as sorted disjoint spans; possibly empty."""
        found = self._windows.get(j)
        if found is None:
            job = self.jobs[j]
            spans = [(w.start, w.end) for w in job.windows] or [(0, self.horizon)]
            if job.latest_arrival is not None:
                spans = [(s, min(e, job.latest_arrival)) for s, e in spans]
            found = []
            for start, end in sorted((s, e) for s, e in spans if e >= s):
                if found and start <= found[-1][1] + 1:
                    found[-1] = (found[-1][0], max(found[-1][1], end))
                else:
                    found.append((start, end))
            self._windows[j] = found
        return found

    def service(self, j: int, v: Vehicle) -> int:
        key = (j, v.tech_index)
        if key not in self._service:
            self._service[key] = service_seconds(self.problem, self.jobs[j], v.tech)
        return self._service[key]

    def refusal(self, j: int, v: Vehicle) -> str | None:
        """Why vehicle ``v`` may never take job ``j`` (None: it may, timing permitting)."""
        job, tech = self.jobs[j], v.tech
        if any(tech.skills.get(s, 0) < level for s, level in job.skills.items()):
            return SKILL
        if job.region is not None and tech.regions is not None and job.region not in tech.regions:
            return REGION
        wanted = job.started_by or job.pinned_technician
        if wanted is not None and tech.id != wanted:
            return TECHNICIAN
        if job.allowed_technicians is not None and tech.id not in job.allowed_technicians:
            return TECHNICIAN
        if tech.id in job.forbidden_technicians:
            return TECHNICIAN
        if not job.earliest_day <= v.day <= self.due_day(job):
            return DAY_RULE
        if job.pinned_day is not None and v.day != job.pinned_day:
            return DAY_RULE
        if job.started_by is not None and v.index != self.first_vehicle(v.tech_index):
            return DAY_RULE
        return None

    def first_vehicle(self, tech_index: int) -> int:
        return min(v.index for v in self.vehicles if v.tech_index == tech_index)

    @cached_property
    def allowed(self) -> list[list[int]]:
        return [
            [v.index for v in self.vehicles if self.refusal(j, v) is None]
            for j in range(len(self.jobs))
        ]

    def unreachable(self, j: int) -> bool:
        """No travel to or from the job's place is possible (provider found no route)."""
        seconds = self.matrices.seconds
        others = [p for p in range(len(self.points)) if p != j]
        if not others:
            return False
        return bool(
            (seconds[j, others] >= UNREACHABLE).all() or (seconds[others, j] >= UNREACHABLE).all()
        )

    def pinned(self, j: int) -> bool:
        job = self.jobs[j]
        return job.started_by is not None or job.pinned_technician is not None
