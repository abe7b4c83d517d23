"""Field-service routing problems from the seed generator's data (no database involved)."""

from __future__ import annotations

from collections import defaultdict

from dispatch.seed.generator import generate
from dispatch.seed.rows import (
    RegionRow,
    RequestRow,
    SiteRow,
    TechnicianRow,
    TechnicianSkillRow,
    VisitRow,
    VisitSkillRow,
    VisitWindowRow,
    WorkPatternRow,
)
from dispatch.seed.spec import SeedSpec
from routing import Break, GreatCircle, Job, Location, Problem, Shift, Technician, Window

DAY = 86_400


def field_problem(spec: SeedSpec, day: int = 0) -> Problem:
    """Visits due on ``day`` (working-day index; day 0 a Monday) for every technician's shift
    that day. Regions bind technicians to their own region's visits."""
    rows = generate(spec).rows
    speeds = [r.avg_speed_kmh for r in rows[RegionRow]]  # type: ignore[attr-defined]
    skills: dict[str, dict[str, int]] = defaultdict(dict)
    for s in rows[TechnicianSkillRow]:
        skills[s.technician][s.skill] = s.level  # type: ignore[attr-defined]
    patterns = {(p.technician, p.weekday): p for p in rows[WorkPatternRow]}  # type: ignore[attr-defined]
    technicians = []
    for t in rows[TechnicianRow]:
        pattern = patterns.get((t.code, day % 5))  # type: ignore[attr-defined]
        if pattern is None:
            continue
        base = day * DAY
        breaks = ()
        if pattern.break_minutes:
            breaks = (
                Break(
                    pattern.break_minutes * 60,
                    base + pattern.break_earliest * 60,
                    base + (pattern.break_latest - pattern.break_minutes) * 60,
                ),
            )
        technicians.append(
            Technician(
                id=t.code,  # type: ignore[attr-defined]
                home=Location(t.home_lat, t.home_lon),  # type: ignore[attr-defined]
                shifts=(Shift(day, base + pattern.starts * 60, base + pattern.ends * 60, breaks),),
                skills=dict(skills[t.code]),  # type: ignore[attr-defined]
                max_work_seconds=t.max_work_minutes * 60,  # type: ignore[attr-defined]
                cost_per_hour=0,
                regions=frozenset({t.region}),  # type: ignore[attr-defined]
            )
        )
    sites = {s.code: s for s in rows[SiteRow]}
    requests = {r.code: r for r in rows[RequestRow]}
    needs: dict[str, dict[str, int]] = defaultdict(dict)
    for n in rows[VisitSkillRow]:
        needs[n.visit][n.skill] = n.min_level  # type: ignore[attr-defined]
    windows: dict[str, list[Window]] = defaultdict(list)
    for w in rows[VisitWindowRow]:
        if w.day == day:  # type: ignore[attr-defined]
            windows[w.visit].append(Window(day * DAY + w.starts * 60, day * DAY + w.ends * 60))  # type: ignore[attr-defined]
    jobs = []
    for v in rows[VisitRow]:
        if not v.earliest_day <= day <= v.due_day or v.code not in windows:  # type: ignore[attr-defined]
            continue
        site = sites[requests[v.request].site]  # type: ignore[attr-defined]
        jobs.append(
            Job(
                id=v.code,  # type: ignore[attr-defined]
                location=Location(site.lat, site.lon),  # type: ignore[attr-defined]
                duration=v.duration_minutes * 60,  # type: ignore[attr-defined]
                windows=tuple(windows[v.code]),  # type: ignore[attr-defined]
                skills=dict(needs[v.code]),  # type: ignore[attr-defined]
                priority=v.priority,  # type: ignore[attr-defined]
                region=site.region,  # type: ignore[attr-defined]
            )
        )
    return Problem(
        jobs=tuple(jobs),
        technicians=tuple(technicians),
        days=day + 1,
        travel=GreatCircle(speed_kmh=sum(speeds) / len(speeds), detour_factor=1.3),
    )


def scaled_spec(visits: int, seed: int = 7) -> SeedSpec:
    """A generator spec whose day 0 holds about ``visits`` visits (one-day data set)."""
    technicians = max(8, visits // 10)
    return SeedSpec(technicians=technicians, requests=visits, days=1, seed=seed)
