"""Input checks run before any solving: one error listing every offending id and field."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from routing.problem import Job, Problem, Technician

MAX_LEVEL = 5


@dataclass(frozen=True, slots=True)
class Issue:
    kind: str  # "job", "technician" or "problem"
    id: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind} {self.id!r}: {self.field}: {self.message}"


class ProblemError(ValueError):
    """The problem is malformed; ``issues`` lists every offending id and field."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues[:100])
        more = f"\n  ... and {len(issues) - 100} more" if len(issues) > 100 else ""
        super().__init__(f"invalid routing problem ({len(issues)} issue(s)):\n{lines}{more}")


def validate(problem: Problem) -> None:
    """Raise ProblemError listing every problem found; return quietly if there is none."""
    issues: list[Issue] = []
    if problem.days < 1:
        issues.append(
            Issue("problem", "-", "days", f"{problem.days} is not a positive number of days")
        )
    for kind, ids in (
        ("job", [j.id for j in problem.jobs]),
        ("technician", [t.id for t in problem.technicians]),
        ("quota", [q.id for q in problem.quotas]),
    ):
        for duplicate, count in Counter(ids).items():
            if count > 1:
                issues.append(Issue(kind, duplicate, "id", f"appears {count} times"))
    tech_ids = {t.id for t in problem.technicians}
    for tech in problem.technicians:
        issues.extend(_technician_issues(problem, tech))
    for job in problem.jobs:
        issues.extend(_job_issues(problem, job, tech_ids))
    starters = Counter(j.started_by for j in problem.jobs if j.started_by is not None)
    for tech_id, count in starters.items():
        if count > 1:
            issues.append(Issue("technician", tech_id, "started_by", f"has {count} jobs under way"))
    issues.extend(_quota_issues(problem))
    issues.extend(_location_issues(problem))
    if issues:
        raise ProblemError(issues)


def _skill_issues(
    problem: Problem, kind: str, owner: str, skills: dict[str, int] | object
) -> list[Issue]:
    issues = []
    for skill, level in dict(skills).items():  # type: ignore[call-overload]
        if problem.skills is not None and skill not in problem.skills:
            issues.append(Issue(kind, owner, "skills", f"unknown skill {skill!r}"))
        if not 1 <= level <= MAX_LEVEL:
            issues.append(
                Issue(
                    kind, owner, "skills", f"level {level} of {skill!r} is outside 1..{MAX_LEVEL}"
                )
            )
    return issues


def _technician_issues(problem: Problem, tech: Technician) -> list[Issue]:
    issues = _skill_issues(problem, "technician", tech.id, tech.skills)

    def bad(field: str, message: str) -> None:
        issues.append(Issue("technician", tech.id, field, message))

    if tech.max_work_seconds is not None and tech.max_work_seconds <= 0:
        bad("max_work_seconds", f"{tech.max_work_seconds} is not positive")
    if tech.cost_per_hour < 0:
        bad("cost_per_hour", f"{tech.cost_per_hour} is negative")
    if tech.capacity is not None and tech.capacity < 0:
        bad("capacity", f"{tech.capacity} is negative")
    days = Counter(s.day for s in tech.shifts)
    for day, count in days.items():
        if count > 1:
            bad("shifts", f"{count} shifts on day {day}; one per day")
    for shift in tech.shifts:
        where = f"shift of day {shift.day}"
        if not 0 <= shift.day < problem.days:
            bad("shifts", f"{where} is outside days 0..{problem.days - 1}")
        if shift.end <= shift.start:
            bad("shifts", f"{where} ends at {shift.end}, not after its start {shift.start}")
        for brk in shift.breaks:
            if brk.duration <= 0:
                bad("breaks", f"{where}: break duration {brk.duration} is not positive")
            if brk.latest < brk.earliest:
                bad(
                    "breaks",
                    f"{where}: break latest start {brk.latest} is before earliest {brk.earliest}",
                )
            if brk.earliest < shift.start or brk.latest + brk.duration > shift.end:
                bad(
                    "breaks",
                    f"{where}: break {brk.earliest}..{brk.latest}+{brk.duration} "
                    "is not inside the shift",
                )
    return issues


def _job_issues(problem: Problem, job: Job, tech_ids: set[str]) -> list[Issue]:
    issues = _skill_issues(problem, "job", job.id, job.skills)

    def bad(field: str, message: str) -> None:
        issues.append(Issue("job", job.id, field, message))

    if job.duration < 0:
        bad("duration", f"{job.duration} is negative")
    if job.priority < 1:
        bad("priority", f"{job.priority} is below 1")
    if job.demand < 0:
        bad("demand", f"{job.demand} is negative")
    if job.reassign_cost < 0:
        bad("reassign_cost", f"{job.reassign_cost} is negative")
    if job.sla_penalty_per_minute < 0:
        bad("sla_penalty_per_minute", f"{job.sla_penalty_per_minute} is negative")
    for window in job.windows:
        if window.end < window.start:
            bad("windows", f"window {window.start}..{window.end} ends before it starts")
    due = problem.days - 1 if job.due_day is None else job.due_day
    if not 0 <= job.earliest_day <= due < problem.days:
        bad(
            "due_day",
            f"days {job.earliest_day}..{due} are not within 0..{problem.days - 1} in order",
        )
    if job.pinned_day is not None and not job.earliest_day <= job.pinned_day <= due:
        bad("pinned_day", f"{job.pinned_day} is outside the job's days {job.earliest_day}..{due}")
    if job.pinned_position is not None and job.pinned_position < 0:
        bad("pinned_position", f"{job.pinned_position} is negative")
    references = {
        "pinned_technician": {job.pinned_technician} - {None},
        "started_by": {job.started_by} - {None},
        "allowed_technicians": set(job.allowed_technicians or ()),
        "forbidden_technicians": set(job.forbidden_technicians),
        "incumbent": {job.incumbent} - {None},
    }
    for field, ids in references.items():
        for unknown in sorted(i for i in ids if i not in tech_ids):  # type: ignore[misc]
            bad(field, f"unknown technician {unknown!r}")
    return issues


def _quota_issues(problem: Problem) -> list[Issue]:
    issues: list[Issue] = []
    quotas = {q.id: q for q in problem.quotas}
    for quota in problem.quotas:
        for field in ("seconds", "visit_days"):
            value = getattr(quota, field)
            if value is not None and value < 0:
                issues.append(Issue("quota", quota.id, field, f"{value} is negative"))
        for field in ("days", "open_days"):
            outside = sorted(d for d in getattr(quota, field) or () if not 0 <= d < problem.days)
            if outside:
                issues.append(
                    Issue("quota", quota.id, field, f"{outside} outside 0..{problem.days - 1}")
                )
    for job in problem.jobs:
        if job.quota_seconds is not None and job.quota_seconds < 0:
            issues.append(Issue("job", job.id, "quota_seconds", f"{job.quota_seconds} is negative"))
        known = [quotas[q] for q in job.quotas if q in quotas]
        for unknown in sorted(set(job.quotas) - set(quotas)):
            issues.append(Issue("job", job.id, "quotas", f"unknown quota {unknown!r}"))
        # One budget per day: which one a visit draws on must not depend on a guess.
        for day in range(problem.days):
            covering = [q.id for q in known if q.covers(day)]
            if len(covering) > 1:
                issues.append(Issue("job", job.id, "quotas", f"{covering} all cover day {day}"))
                break
    return issues


def _location_issues(problem: Problem) -> list[Issue]:
    owners: list[tuple[str, str, str]] = []
    points = []
    for job in problem.jobs:
        owners.append(("job", job.id, "location"))
        points.append(job.location)
    for tech in problem.technicians:
        owners.append(("technician", tech.id, "home"))
        points.append(tech.home)
        for shift in tech.shifts:
            for field, point in (
                ("start_location", shift.start_location),
                ("end_location", shift.end_location),
            ):
                if point is not None:
                    owners.append(("technician", tech.id, field))
                    points.append(point)
    invalid = problem.travel.invalid(points)
    return [Issue(*owners[index], message) for index, message in sorted(invalid.items())]
