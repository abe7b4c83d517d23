"""Territories: an oversized problem cut into ``count`` smaller ones by where technicians live
(each job goes with the nearest territory able to serve it), solved apart (on different
machines) and merged back into one solution of the whole problem."""

from __future__ import annotations

import math
from dataclasses import replace

from routing.check import CheckError, check
from routing.problem import Job, Location, Problem, Quota, Technician
from routing.solution import Solution, Stats

KMEANS_ROUNDS = 20
# A territory takes up to this much more than its technicians' share of the jobs before
# jobs spill over to the next nearest one: enough to keep neighbours together.
SLACK = 1.15


def territories(problem: Problem, count: int) -> list[Problem]:
    """``count`` problems (fewer when there are fewer technicians) whose technicians and jobs
    partition ``problem``'s; jobs sharing a budget split it, so merged solutions keep it.
    Deterministic: the same problem gives the same cut on every machine."""
    if count < 1:
        raise ValueError(f"count={count} must be at least 1")
    technicians = sorted(problem.technicians, key=lambda t: t.id)
    count = min(count, len(technicians))
    if count <= 1:
        return [problem]
    centres = _kmeans([t.home for t in technicians], count)
    home_of = {t.id: _nearest(t.home, centres) for t in technicians}
    teams: list[list[Technician]] = [[] for _ in centres]
    for tech in problem.technicians:
        teams[home_of[tech.id]].append(tech)
    keep = [k for k, team in enumerate(teams) if team]
    teams = [teams[k] for k in keep]
    centres = [centres[k] for k in keep]
    home_of = {t.id: k for k, team in enumerate(teams) for t in team}
    where = _assign(problem, teams, centres, home_of)
    shares: list[list[Job]] = [[] for _ in teams]
    for job in problem.jobs:
        shares[where[job.id]].append(job)
    return [
        replace(
            problem,
            jobs=tuple(jobs),
            technicians=tuple(team),
            quotas=_split_quotas(problem, jobs, where, k),
        )
        for k, (team, jobs) in enumerate(zip(teams, shares, strict=True))
    ]


def merge(problem: Problem, solutions: list[Solution]) -> Solution:
    """One solution of ``problem`` from those of its territories; raises CheckError if the
    whole breaks a rule (a defect of the cut, never expected)."""
    order = {t.id: i for i, t in enumerate(problem.technicians)}
    routes = sorted(
        (route for s in solutions for route in s.routes),
        key=lambda r: (order[r.technician_id], r.day),
    )
    unassigned = tuple(item for s in solutions for item in s.unassigned)
    stats = [s.stats for s in solutions]
    firsts = [s.first_solution_seconds for s in stats if s.first_solution_seconds is not None]
    merged = Solution(
        routes=tuple(routes),
        unassigned=unassigned,
        stats=Stats(
            status=_common([s.status for s in stats]),
            objective=sum(s.objective for s in stats),
            wall_seconds=max((s.wall_seconds for s in stats), default=0.0),
            first_solution_seconds=max(firsts) if firsts else None,
            solutions=sum(s.solutions for s in stats),
            strategy=_common([s.strategy for s in stats]),
            workers=sum(s.workers for s in stats),
            repaired=sum(s.repaired for s in stats),
        ),
        extra={"territories": [s.summary() for s in solutions]},
    )
    broken = check(problem, merged)
    if broken:
        raise CheckError(broken)
    return merged


def _common(values: list[str]) -> str:
    distinct = sorted(set(values))
    return distinct[0] if len(distinct) == 1 else "+".join(distinct)


def _xy(place: Location) -> tuple[float, float]:
    # Kilometres on a local plane: good enough to tell near from far within a region.
    return place.lon * 111.32 * math.cos(math.radians(place.lat)), place.lat * 110.57


def _distance(a: Location, b: tuple[float, float]) -> float:
    x, y = _xy(a)
    return math.hypot(x - b[0], y - b[1])


def _nearest(place: Location, centres: list[tuple[float, float]]) -> int:
    return min(range(len(centres)), key=lambda k: (_distance(place, centres[k]), k))


def _kmeans(homes: list[Location], count: int) -> list[tuple[float, float]]:
    """Centres of ``count`` groups of homes: farthest-point start (from the first home, in
    id order, for determinism), then Lloyd's rounds."""
    points = [_xy(home) for home in homes]
    centres = [points[0]]
    while len(centres) < count:
        far = max(
            range(len(points)),
            key=lambda i: (min(math.dist(points[i], c) for c in centres), -i),
        )
        centres.append(points[far])
    for _ in range(KMEANS_ROUNDS):
        groups: list[list[tuple[float, float]]] = [[] for _ in centres]
        for point in points:
            k = min(range(len(centres)), key=lambda k: (math.dist(point, centres[k]), k))
            groups[k].append(point)
        moved = [
            (sum(x for x, _ in g) / len(g), sum(y for _, y in g) / len(g)) if g else centres[k]
            for k, g in enumerate(groups)
        ]
        if moved == centres:
            break
        centres = moved
    return centres


def _assign(
    problem: Problem,
    teams: list[list[Technician]],
    centres: list[tuple[float, float]],
    home_of: dict[str, int],
) -> dict[str, int]:
    """Each job's territory: that of the technician it is tied to (pinned, under way, the
    only ones allowed), else the nearest able to serve it with room, the jobs with the most
    to lose from a second choice placed first."""
    total = len(problem.jobs)
    techs = sum(len(team) for team in teams)
    room = [math.ceil(SLACK * total * len(team) / techs) + 1 for team in teams]
    where: dict[str, int] = {}
    free: list[tuple[float, Job, list[int]]] = []
    for job in problem.jobs:
        tied = _tied(job, home_of)
        if tied is not None:
            where[job.id] = tied
            room[tied] -= 1
            continue
        able = [k for k, team in enumerate(teams) if any(_can(t, job) for t in team)]
        ranked = sorted(
            able or range(len(teams)), key=lambda k: _distance(job.location, centres[k])
        )
        regret = (
            _distance(job.location, centres[ranked[1]])
            - _distance(job.location, centres[ranked[0]])
            if len(ranked) > 1
            else math.inf
        )
        free.append((regret, job, ranked))
    for _, job, ranked in sorted(free, key=lambda item: (-item[0], item[1].id)):
        chosen = next((k for k in ranked if room[k] > 0), ranked[0])
        where[job.id] = chosen
        room[chosen] -= 1
    return where


def _tied(job: Job, home_of: dict[str, int]) -> int | None:
    for technician in (job.started_by, job.pinned_technician):
        if technician in home_of:
            return home_of[technician]
    if job.allowed_technicians:
        places = sorted(home_of[t] for t in job.allowed_technicians if t in home_of)
        if places:
            return max(set(places), key=lambda k: (places.count(k), -k))
    if job.incumbent in home_of:
        return home_of[job.incumbent]  # type: ignore[index]
    return None


def _can(tech: Technician, job: Job) -> bool:
    if job.region is not None and tech.regions is not None and job.region not in tech.regions:
        return False
    if tech.id in job.forbidden_technicians:
        return False
    return all(tech.skills.get(skill, -1) >= level for skill, level in job.skills.items())


def _split_quotas(
    problem: Problem, jobs: list[Job], where: dict[str, int], k: int
) -> tuple[Quota, ...]:
    """Territory ``k``'s part of each budget its jobs draw on: hours in proportion to what
    its jobs would draw (rounded down, so the parts never add up to more than the whole);
    on-site days whole on a one-day horizon (every territory's visits share that day), else
    in proportion too."""
    drawn: dict[str, list[int]] = {}
    for job in problem.jobs:
        for quota in job.quotas:
            totals = drawn.setdefault(quota, [0, 0])
            totals[0] += job.quota_draw
            if where[job.id] == k:
                totals[1] += job.quota_draw
    mine = {quota for job in jobs for quota in job.quotas}
    parts = []
    for quota in problem.quotas:
        if quota.id not in mine:
            continue
        whole, own = drawn[quota.id]
        share = own / whole if whole else 1.0
        seconds = None if quota.seconds is None else math.floor(quota.seconds * share)
        days = quota.visit_days
        if days is not None and problem.days > 1:
            days = math.floor(days * share)
        parts.append(replace(quota, seconds=seconds, visit_days=days))
    return tuple(parts)
