"""The generator gives the same realistic data for the same spec, at any scale."""

from __future__ import annotations

import filecmp
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from dispatch.seed.catalogue import SKILLS, russian_holidays
from dispatch.seed.generator import generate
from dispatch.seed.rows import (
    ContractRow,
    RegionRow,
    RequestRow,
    SeedRow,
    SiteRow,
    TechnicianRow,
    TechnicianSkillRow,
    UserRow,
    VisitRow,
    VisitSkillRow,
    VisitWindowRow,
)
from dispatch.seed.spec import SeedSpec, SpecError
from schedules.models import ContractKind, Tier
from seed_data import DEFAULT_DIR

# Moscow Oblast's bounding box, roughly.
LAT_RANGE, LON_RANGE = (54.2, 57.0), (35.1, 40.3)


@pytest.fixture(scope="module")
def default() -> dict[type[SeedRow], list[SeedRow]]:
    return generate().rows


def _same_files(left: Path, right: Path) -> bool:
    names = sorted(p.name for p in left.iterdir())
    assert names == sorted(p.name for p in right.iterdir())
    _match, mismatch, errors = filecmp.cmpfiles(left, right, names, shallow=False)
    return not mismatch and not errors


def test_same_spec_gives_byte_identical_files(tmp_path: Path) -> None:
    spec = SeedSpec(technicians=10, requests=50, seed=3)
    generate(spec).write(tmp_path / "a")
    generate(spec).write(tmp_path / "b")
    assert _same_files(tmp_path / "a", tmp_path / "b")


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    generate(SeedSpec(technicians=10, requests=50, seed=3)).write(tmp_path / "a")
    generate(SeedSpec(technicians=10, requests=50, seed=4)).write(tmp_path / "b")
    assert not _same_files(tmp_path / "a", tmp_path / "b")


def test_committed_demo_data_is_the_generator_default(tmp_path: Path) -> None:
    """Regenerate with `dispatch seed generate --out seed_data/default` after changing it."""
    generate().write(tmp_path)
    assert _same_files(tmp_path, DEFAULT_DIR)


def test_default_sizes(default: dict[type[SeedRow], list[SeedRow]]) -> None:
    assert len(default[RegionRow]) >= 3
    assert len(default[TechnicianRow]) == 40
    assert len(default[SiteRow]) == 120
    assert len(default[ContractRow]) == 25
    assert len(default[RequestRow]) == len(default[VisitRow]) == 400


def test_every_contract_kind_meets_every_tier(default: dict[type[SeedRow], list[SeedRow]]) -> None:
    pairs = {(c.kind, c.tier) for c in default[ContractRow]}  # type: ignore[attr-defined]
    assert pairs == {(k, t) for k in ContractKind for t in Tier}


def test_visits_look_like_it_support_work(default: dict[type[SeedRow], list[SeedRow]]) -> None:
    visits: list[VisitRow] = default[VisitRow]  # type: ignore[assignment]
    assert all(30 <= v.duration_minutes <= 240 for v in visits)
    assert {v.earliest_day for v in visits} == set(range(5))
    needed = Counter(s.skill for s in default[VisitSkillRow])  # type: ignore[attr-defined]
    assert set(needed) == {s.code for s in SKILLS}
    urgencies = Counter(r.urgency.value for r in default[RequestRow])  # type: ignore[attr-defined]
    assert urgencies["emergency"] >= 5


def test_windows_come_in_the_usual_shapes(default: dict[type[SeedRow], list[SeedRow]]) -> None:
    per_visit_day: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    for w in default[VisitWindowRow]:
        per_visit_day[(w.visit, w.day)].append((w.starts, w.ends))  # type: ignore[attr-defined]
    shapes = Counter()
    for windows in per_visit_day.values():
        if len(windows) == 2:
            shapes["two a day"] += 1
        elif windows[0][1] - windows[0][0] >= 8 * 60:
            shapes["all day"] += 1
        elif windows[0][1] <= 13 * 60:
            shapes["morning"] += 1
        elif windows[0][0] >= 13 * 60:
            shapes["afternoon"] += 1
    assert all(shapes[s] >= 10 for s in ("two a day", "all day", "morning", "afternoon")), shapes


def test_places_are_in_moscow_and_its_oblast(default: dict[type[SeedRow], list[SeedRow]]) -> None:
    points = [(s.lat, s.lon) for s in default[SiteRow]]  # type: ignore[attr-defined]
    points += [(t.home_lat, t.home_lon) for t in default[TechnicianRow]]  # type: ignore[attr-defined]
    assert all(
        LAT_RANGE[0] < lat < LAT_RANGE[1] and LON_RANGE[0] < lon < LON_RANGE[1]
        for lat, lon in points
    )


def test_every_visit_has_a_skilled_technician_in_its_region(
    default: dict[type[SeedRow], list[SeedRow]],
) -> None:
    """Demo data a dispatcher can plan: no visit needs a skill its region lacks."""
    region_of_tech = {t.code: t.region for t in default[TechnicianRow]}  # type: ignore[attr-defined]
    best: dict[tuple[str, str], int] = defaultdict(int)
    for s in default[TechnicianSkillRow]:
        key = (region_of_tech[s.technician], s.skill)  # type: ignore[attr-defined]
        best[key] = max(best[key], s.level)  # type: ignore[attr-defined]
    site_region = {s.code: s.region for s in default[SiteRow]}  # type: ignore[attr-defined]
    request_site = {r.code: r.site for r in default[RequestRow]}  # type: ignore[attr-defined]
    visit_region = {
        v.code: site_region[request_site[v.request]]  # type: ignore[attr-defined]
        for v in default[VisitRow]
    }
    unmet = [
        (n.visit, n.skill, n.min_level)  # type: ignore[attr-defined]
        for n in default[VisitSkillRow]
        if best[(visit_region[n.visit], n.skill)] < n.min_level  # type: ignore[attr-defined]
    ]
    assert unmet == []


def test_every_technician_has_an_account(default: dict[type[SeedRow], list[SeedRow]]) -> None:
    linked = {u.technician for u in default[UserRow] if u.technician}  # type: ignore[attr-defined]
    assert linked == {t.code for t in default[TechnicianRow]}  # type: ignore[attr-defined]
    assert {u.role.value for u in default[UserRow]} == {"admin", "dispatcher", "technician"}  # type: ignore[attr-defined]


def test_generator_scales() -> None:
    rows = generate(SeedSpec(technicians=200, requests=2000, seed=7)).rows
    assert len(rows[TechnicianRow]) == 200
    assert len(rows[VisitRow]) == 2000
    assert len(rows[SiteRow]) == 600


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"technicians": 1}, "technicians=1"),
        ({"regions": 11}, "regions=11"),
        ({"technicians": 4, "regions": 3}, "fewer than 2 per region"),
        ({"days": 0}, "days=0"),
        ({"contracts": 5}, "contracts=5"),
    ],
)
def test_impossible_specs_are_refused_by_name(overrides: dict[str, int], named: str) -> None:
    with pytest.raises(SpecError, match=named):
        SeedSpec(**overrides)


def test_russian_holidays_follow_the_weekend_transfer_rule() -> None:
    days = dict(russian_holidays(2026))
    assert date(2026, 1, 7) in days  # Orthodox Christmas
    assert date(2026, 3, 8) in days
    assert date(2026, 3, 9) in days
    assert date(2026, 5, 9) in days
    assert date(2026, 5, 11) in days
    assert date(2026, 11, 4) in days
    assert all(day.year == 2026 for day in days)
