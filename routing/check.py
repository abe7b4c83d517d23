"""Independent verification of a solution in plain Python: every rule of the problem checked
against the reported routes and times, sharing no code with the model or the scheduler."""

from __future__ import annotations

import itertools
from collections import Counter

from routing.problem import Job, Location, Problem, Shift, Technician, service_seconds
from routing.solution import Route, Solution


class CheckError(AssertionError):
    """A solution breaks the problem's rules; ``violations`` says which and where."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        shown = "\n".join(f"  - {v}" for v in violations[:50])
        super().__init__(f"{len(violations)} violation(s):\n{shown}")


def assert_valid(problem: Problem, solution: Solution) -> None:
    violations = check(problem, solution)
    if violations:
        raise CheckError(violations)


def check(problem: Problem, solution: Solution) -> list[str]:
    """Every broken rule, as a sentence naming the route, stop or job; empty if none."""
    return _Checker(problem, solution).run()


class _Checker:
    def __init__(self, problem: Problem, solution: Solution) -> None:
        self.problem = problem
        self.solution = solution
        self.jobs = {job.id: job for job in problem.jobs}
        self.techs = {tech.id: tech for tech in problem.technicians}
        places: list[Location] = list(dict.fromkeys(self._all_places()))
        self.place = {location: i for i, location in enumerate(places)}
        matrices = problem.travel.matrices(places)
        self.seconds, self.metres = matrices.seconds, matrices.metres
        self.violations: list[str] = []

    def _all_places(self) -> list[Location]:
        places = [job.location for job in self.problem.jobs]
        for tech in self.problem.technicians:
            places.append(tech.home)
            for shift in tech.shifts:
                places.extend(p for p in (shift.start_location, shift.end_location) if p)
        return places

    def bad(self, message: str) -> None:
        self.violations.append(message)

    def travel(self, a: Location, b: Location) -> tuple[int, int]:
        i, j = self.place[a], self.place[b]
        return int(self.seconds[i, j]), int(self.metres[i, j])

    def run(self) -> list[str]:
        self._coverage()
        seen: set[tuple[str, int]] = set()
        for route in self.solution.routes:
            key = (route.technician_id, route.day)
            if key in seen:
                self.bad(f"technician {route.technician_id} has two routes on day {route.day}")
            seen.add(key)
            self._route(route)
        self._quotas()
        return self.violations

    def _quotas(self) -> None:
        quotas = {q.id: q for q in self.problem.quotas}
        used: Counter[str] = Counter()
        days: dict[str, set[int]] = {}
        for route in self.solution.routes:
            for stop in route.stops:
                job = self.jobs.get(stop.job_id)
                for quota_id in job.quotas if job is not None else ():
                    quota = quotas.get(quota_id)
                    if quota is not None and quota.covers(route.day):
                        used[quota_id] += job.quota_draw  # type: ignore[union-attr]
                        if route.day not in quota.open_days:
                            days.setdefault(quota_id, set()).add(route.day)
        for quota_id, quota in quotas.items():
            if quota.seconds is not None and used[quota_id] > quota.seconds:
                self.bad(f"quota {quota_id}: {used[quota_id]} s used, limit {quota.seconds} s")
            served = len(days.get(quota_id, ()))
            if quota.visit_days is not None and served > quota.visit_days:
                self.bad(f"quota {quota_id}: visits on {served} days, limit {quota.visit_days}")

    def _coverage(self) -> None:
        counts = Counter(s.job_id for r in self.solution.routes for s in r.stops)
        counts.update(u.job_id for u in self.solution.unassigned)
        for job_id, count in counts.items():
            if job_id not in self.jobs:
                self.bad(f"unknown job {job_id}")
            elif count > 1:
                self.bad(f"job {job_id} appears {count} times (routes and unassigned)")
        for job_id in self.jobs:
            if job_id not in counts:
                self.bad(f"job {job_id} is neither routed nor listed as unassigned")

    def _route(self, route: Route) -> None:
        where = f"route {route.technician_id}/day {route.day}"
        tech = self.techs.get(route.technician_id)
        if tech is None:
            self.bad(f"{where}: unknown technician")
            return
        shift = next((s for s in tech.shifts if s.day == route.day), None)
        if shift is None:
            self.bad(f"{where}: technician has no shift on day {route.day}")
            return
        for position, stop in enumerate(route.stops):
            job = self.jobs.get(stop.job_id)
            if job is not None:
                self._assignment(where, tech, shift, job, position)
        self._timing(where, tech, shift, route)
        self._capacity(where, tech, route)

    def _assignment(
        self, where: str, tech: Technician, shift: Shift, job: Job, position: int
    ) -> None:
        at = f"{where}: job {job.id}"
        for skill, level in job.skills.items():
            if tech.skills.get(skill, 0) < level:
                self.bad(f"{at} needs {skill} {level}, technician has {tech.skills.get(skill, 0)}")
        if job.allowed_technicians is not None and tech.id not in job.allowed_technicians:
            self.bad(f"{at}: technician is not among the allowed ones")
        if tech.id in job.forbidden_technicians:
            self.bad(f"{at}: technician is forbidden")
        if job.pinned_technician is not None and tech.id != job.pinned_technician:
            self.bad(f"{at} is pinned to {job.pinned_technician}")
        if job.pinned_day is not None and shift.day != job.pinned_day:
            self.bad(f"{at} is pinned to day {job.pinned_day}")
        if job.pinned_position is not None and position != job.pinned_position:
            self.bad(f"{at} is pinned to position {job.pinned_position}, found at {position}")
        due = self.problem.days - 1 if job.due_day is None else job.due_day
        if not job.earliest_day <= shift.day <= due:
            self.bad(f"{at} may only be done on days {job.earliest_day}..{due}")
        if job.region is not None and tech.regions is not None and job.region not in tech.regions:
            self.bad(f"{at} is in region {job.region}, outside the technician's regions")
        if job.started_by is not None:
            first_day = min(s.day for s in tech.shifts)
            if tech.id != job.started_by or shift.day != first_day or position != 0:
                self.bad(f"{at} is under way by {job.started_by} and must stay their first stop")

    def _timing(self, where: str, tech: Technician, shift: Shift, route: Route) -> None:
        start_place = shift.start_location or tech.home
        end_place = shift.end_location or tech.home
        if route.departure < shift.start:
            self.bad(
                f"{where}: leaves at {route.departure}, before the shift starts at {shift.start}"
            )
        if route.back > shift.end:
            self.bad(f"{where}: back at {route.back}, after the shift ends at {shift.end}")
        breaks = sorted((b.start, b.end) for b in route.breaks)
        self._breaks(where, shift, route, breaks)
        previous_place, previous_end = start_place, route.departure
        work = 0
        for stop in route.stops:
            job = self.jobs.get(stop.job_id)
            if job is None:
                continue
            at = f"{where}: job {job.id}"
            seconds, metres = self.travel(previous_place, job.location)
            if (stop.travel_seconds, stop.travel_metres) != (seconds, metres):
                self.bad(
                    f"{at}: travel reported {stop.travel_seconds} s/{stop.travel_metres} m, "
                    f"matrix says {seconds} s/{metres} m"
                )
            paused = sum(e - s for s, e in breaks if previous_end <= s and e <= stop.start)
            if stop.start < previous_end + seconds + paused:
                self.bad(
                    f"{at}: starts at {stop.start}, "
                    f"cannot be there before {previous_end + seconds + paused}"
                )
            if not previous_end + seconds <= stop.arrival <= stop.start:
                self.bad(
                    f"{at}: arrival {stop.arrival} is before the travel ends or after the start"
                )
            if not 0 <= stop.wait <= stop.start - stop.arrival:
                self.bad(
                    f"{at}: arrival {stop.arrival} and wait {stop.wait} "
                    f"do not fit the start {stop.start}"
                )
            self._windows(at, job, stop.start)
            service = service_seconds(self.problem, job, tech)
            if stop.end - stop.start != service:
                self.bad(f"{at}: service lasts {stop.end - stop.start} s, should be {service} s")
            late = max(0, stop.start - job.sla_deadline) if job.sla_deadline is not None else 0
            if stop.late_seconds != late:
                self.bad(f"{at}: reported {stop.late_seconds} s late, is {late} s late")
            work += seconds + service
            previous_place, previous_end = job.location, stop.end
        seconds, metres = self.travel(previous_place, end_place)
        if (route.return_seconds, route.return_metres) != (seconds, metres):
            self.bad(
                f"{where}: way back reported {route.return_seconds} s, matrix says {seconds} s"
            )
        paused = sum(e - s for s, e in breaks if previous_end <= s and e <= route.back)
        if route.back < previous_end + seconds + paused:
            self.bad(
                f"{where}: back at {route.back}, cannot be before {previous_end + seconds + paused}"
            )
        work += seconds
        if route.work_seconds != work:
            self.bad(f"{where}: work reported {route.work_seconds} s, is {work} s")
        if tech.max_work_seconds is not None and work > tech.max_work_seconds:
            self.bad(f"{where}: works {work} s, more than the maximum {tech.max_work_seconds} s")

    def _breaks(
        self, where: str, shift: Shift, route: Route, breaks: list[tuple[int, int]]
    ) -> None:
        wanted = sorted(shift.breaks, key=lambda b: (b.earliest, b.latest))
        if len(breaks) != len(wanted):
            self.bad(f"{where}: {len(breaks)} breaks placed, the shift has {len(wanted)}")
            return
        for (start, end), brk in zip(breaks, wanted, strict=True):
            if not brk.earliest <= start <= brk.latest or end - start != brk.duration:
                self.bad(
                    f"{where}: break {start}-{end} is not a {brk.duration} s break "
                    f"starting in {brk.earliest}..{brk.latest}"
                )
            for stop in route.stops:
                if start < stop.end and stop.start < end:
                    self.bad(f"{where}: break {start}-{end} overlaps the service of {stop.job_id}")
        for (_, first_end), (second_start, _) in itertools.pairwise(breaks):
            if second_start < first_end:
                self.bad(f"{where}: breaks overlap")

    def _windows(self, at: str, job: Job, start: int) -> None:
        if job.latest_arrival is not None and start > job.latest_arrival:
            self.bad(f"{at}: starts at {start}, after its latest arrival {job.latest_arrival}")
        if job.windows and not any(w.start <= start <= w.end for w in job.windows):
            spans = ", ".join(f"{w.start}-{w.end}" for w in job.windows)
            self.bad(f"{at}: starts at {start}, outside its windows {spans}")

    def _capacity(self, where: str, tech: Technician, route: Route) -> None:
        load = sum(self.jobs[s.job_id].demand for s in route.stops if s.job_id in self.jobs)
        if tech.capacity is not None and load > tech.capacity:
            self.bad(f"{where}: load {load} exceeds capacity {tech.capacity}")
        if route.load != load:
            self.bad(f"{where}: load reported {route.load}, is {load}")
