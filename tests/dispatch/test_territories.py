"""Oversized regions planned in territories: a region with more open visits than a plan's
territory size is cut by where its technicians live, each territory solved on its own, and the
pieces assembled into the region's one plan, published once; a territory that fails fails its
region, and the job's other regions still publish."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from dispatch import db, jobs, territories
from dispatch.models import (
    JobStatus,
    Plan,
    PlanStatus,
    PlanStop,
    PlanUnassigned,
    Region,
    ServiceRequest,
    Site,
    Technician,
    Urgency,
    Visit,
)
from tests.dispatch.test_jobs import (
    FRIDAY,
    Place,
    fast,
    job_of,
    open_place,
    queue,
    region_with_work,
)
from tests.dispatch.test_planning import visits_for
from tests.dispatch.test_tasks import tasks_of
from tests.factories import (
    make_contract,
    make_customer,
    make_region,
    make_site,
    make_working_technician,
)

TOWNS = (55.55, 56.25)  # two towns about 80 km apart
PER_TOWN = 30


@pytest.fixture
def place(backend: str, tmp_path: Path) -> Iterator[Place]:
    for opened in open_place(backend, tmp_path):
        # 60 visits in a region make two territories.
        opened.settings = opened.settings.model_copy(update={"territory_visits": 50})
        yield opened


def region_in_two_towns(place: Place) -> str:
    """Two technicians and one busy customer site in each of two towns of one region."""
    with db.transaction(place.engine) as session:
        region = make_region(session)
        for lat in TOWNS:
            for nudge in (0.0, 0.01):
                make_working_technician(session, region=region, home_lat=lat + nudge, home_lon=37.6)
            customer = make_customer(session)
            site = make_site(session, customer=customer, region=region, lat=lat, lon=37.6)
            contract = make_contract(session, customer=customer, quota_hours=1000)
            visits_for(session, site, contract, FRIDAY, [Urgency.normal] * PER_TOWN)
        return region.code


def test_a_region_is_cut_into_territories_by_its_size() -> None:
    assert territories.parts_for(50, 50) == 0
    assert territories.parts_for(51, 50) == 2
    assert territories.parts_for(1000, 300) == 4


def test_an_oversized_region_is_planned_in_territories_and_published_once(place: Place) -> None:
    region = region_in_two_towns(place)
    job_id = queue(place, region, publish=True)
    assert [(t.part, t.parts) for t in tasks_of(place, job_id)] == [(0, 2), (1, 2), (2, 2)]

    jobs.run(place.engine, job_id, place.settings, params=fast)

    job = job_of(place, job_id)
    assert job.status is JobStatus.succeeded, job.message
    outcome = job.result["regions"][region]
    assert outcome["territories"] == 2
    assert outcome["published"] is True
    _, *parts = tasks_of(place, job_id)
    assert sorted(len(p.scope["jobs"]) for p in parts) == [PER_TOWN, PER_TOWN]
    assert all(p.status is JobStatus.succeeded and p.solution for p in parts)
    with db.transaction(place.engine) as session:
        (plan,) = session.exec(select(Plan).where(Plan.starts_on == FRIDAY)).all()
        assert plan.status is PlanStatus.published
        assert plan.stats["territories"] == 2
        assert job.plan_ids == [plan.id]
        # Every technician works in their own town.
        crossing = session.exec(
            select(Technician.code, Site.lat)
            .join(PlanStop, col(PlanStop.technician_id) == Technician.id)
            .join(Visit, col(Visit.id) == PlanStop.visit_id)
            .join(ServiceRequest, col(ServiceRequest.id) == Visit.request_id)
            .join(Site, col(Site.id) == ServiceRequest.site_id)
            .where(PlanStop.plan_id == plan.id, sa.func.abs(Technician.home_lat - Site.lat) > 0.1)
        ).all()
        assert crossing == []
        stops = session.exec(select(PlanStop).where(PlanStop.plan_id == plan.id)).all()
        left = session.exec(select(PlanUnassigned).where(PlanUnassigned.plan_id == plan.id)).all()
        assert len(stops) + len(left) == 2 * PER_TOWN
        assert len(stops) == outcome["assigned"] > 0
        assert {s.technician_id for s in stops} == set(
            session.exec(
                select(Technician.id)
                .join(Region, col(Region.id) == Technician.region_id)
                .where(Region.code == region)
            ).all()
        )


def test_a_failed_territory_fails_its_region_while_the_others_publish(
    place: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = region_in_two_towns(place)
    small = region_with_work(place, visits=2)

    def crashes(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("solver crashed")

    monkeypatch.setattr(territories, "solve_part", crashes)
    job_id = queue(place, None, publish=True)
    jobs.run(place.engine, job_id, place.settings, params=fast)

    job = job_of(place, job_id)
    assert job.status is JobStatus.failed
    assert job.result["failed_regions"] == [big]
    assert "territory 1 of 2 failed" in job.result["regions"][big]["error"]
    assert "solver crashed" in job.result["regions"][big]["error"]
    assert job.result["regions"][small]["published"] is True
    with db.transaction(place.engine) as session:
        published = session.exec(
            select(Region.code)
            .join(Plan, col(Plan.region_id) == Region.id)
            .where(Plan.status == PlanStatus.published)
        ).all()
    assert published == [small]
