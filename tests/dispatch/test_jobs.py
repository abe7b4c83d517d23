"""Planning jobs: a request is refused up front when it is malformed or too large, a queued job
runs to succeeded with its plans and a summary, a failing region is recorded while the others
are planned, and whatever goes wrong the job ends failed with a reason, never left running."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from dispatch import db, jobs, planning
from dispatch.models import (
    JobStatus,
    Plan,
    PlanningJob,
    PlanStatus,
    Region,
    ServiceRequest,
    Site,
    Urgency,
    Visit,
    VisitStatus,
)
from dispatch.settings import Settings
from routing import SolveParams
from schedules.errors import InvalidError, NotFoundError, TooLargeError
from tests.conftest import new_database
from tests.dispatch.test_planning import customer_with_contract, visits_for
from tests.factories import make_region, make_working_technician

FRIDAY = date(2026, 11, 27)
FAST = SolveParams.for_tests()


def fast(_: int) -> SolveParams:
    return FAST


@dataclass
class Place:
    """A database of its own (jobs commit): its engine and settings."""

    engine: sa.Engine
    settings: Settings


def open_place(backend: str, tmp: Path) -> Iterator[Place]:
    url, drop = new_database(backend, tmp)
    db.upgrade(url)
    engine = db.make_engine(url)
    try:
        yield Place(engine, Settings(database_url=url))
    finally:
        engine.dispose()
        drop()


@pytest.fixture(scope="module")
def place(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Place]:
    yield from open_place(backend, tmp_path_factory.mktemp("jobs"))


def region_with_work(place: Place, visits: int = 3, code: str | None = None) -> str:
    """A region with two technicians and ``visits`` open visits on Friday; its code."""
    with db.transaction(place.engine) as session:
        region = make_region(session, **({"code": code} if code else {}))
        make_working_technician(session, region=region)
        make_working_technician(session, region=region, home_lat=55.8)
        site, contract = customer_with_contract(session, region, quota_hours=100)
        visits_for(session, site, contract, FRIDAY, [Urgency.normal] * visits)
        return region.code


def visits_of(session: Session, region: str) -> list[Visit]:
    return list(
        session.exec(
            select(Visit)
            .join(ServiceRequest, col(ServiceRequest.id) == Visit.request_id)
            .join(Site, col(Site.id) == ServiceRequest.site_id)
            .join(Region, col(Region.id) == Site.region_id)
            .where(Region.code == region)
        )
    )


def queue(place: Place, region: str | None, **overrides) -> int:  # type: ignore[no-untyped-def]
    values = {
        "region_code": region,
        "starts_on": FRIDAY,
        "days": 1,
        "strategy": "optimised",
        "time_limit_seconds": 1,
        "publish": False,
        "requested_by": None,
        "settings": place.settings,
    } | overrides
    # As the API does: a writer from the start, so SQLite never refuses it half-way.
    with db.transaction(db.writers(place.engine)) as session:
        return jobs.request_plan(session, **values).id  # type: ignore[return-value]


def job_of(place: Place, job_id: int) -> PlanningJob:
    with db.transaction(place.engine) as session:
        return session.get_one(PlanningJob, job_id)


def test_a_queued_job_plans_its_region_and_sums_it_up(place: Place) -> None:
    region = region_with_work(place)
    job_id = queue(place, region)
    assert job_of(place, job_id).status is JobStatus.queued

    jobs.run(place.engine, job_id, place.settings, params=fast)

    job = job_of(place, job_id)
    assert job.status is JobStatus.succeeded
    assert job.progress == 1.0
    assert job.started_at is not None
    assert job.finished_at >= job.started_at  # type: ignore[operator]
    (plan_id,) = job.plan_ids
    with db.transaction(place.engine) as session:
        plan = session.get_one(Plan, plan_id)
        assert plan.status is PlanStatus.draft
        assert session.get_one(Region, plan.region_id).code == region
    assert job.result["assigned"] == 3
    assert job.result["unassigned"] == 0
    assert job.result["regions"][region]["plan_id"] == plan_id
    assert job.result["regions"][region]["published"] is False
    assert job.result["failed_regions"] == []
    assert region in job.message


def test_a_job_asked_to_publish_schedules_the_visits(place: Place) -> None:
    region = region_with_work(place, visits=2)
    job_id = queue(place, region, publish=True)
    jobs.run(place.engine, job_id, place.settings, params=fast)

    job = job_of(place, job_id)
    assert job.status is JobStatus.succeeded
    assert job.result["regions"][region]["published"] is True
    with db.transaction(place.engine) as session:
        assert session.get_one(Plan, job.plan_ids[0]).status is PlanStatus.published
        statuses = {v.status for v in visits_of(session, region)}
    assert statuses == {VisitStatus.scheduled}


def test_a_job_runs_once_however_often_it_is_handed_over(place: Place) -> None:
    region = region_with_work(place, visits=1)
    job_id = queue(place, region)
    jobs.run(place.engine, job_id, place.settings, params=fast)
    jobs.run(place.engine, job_id, place.settings, params=fast)
    with db.transaction(place.engine) as session:
        region_id = planning.region_by_code(session, region).id
        plans = session.exec(select(Plan).where(Plan.region_id == region_id)).all()
    assert [p.id for p in plans] == job_of(place, job_id).plan_ids


def test_requests_are_refused_up_front_naming_the_field(place: Place) -> None:
    region = region_with_work(place, visits=3)
    with pytest.raises(NotFoundError) as unknown:
        queue(place, "NO-SUCH")
    assert (unknown.value.field, unknown.value.value) == ("region", "NO-SUCH")
    for overrides, field in (
        ({"days": 0}, "days"),
        ({"days": 32}, "days"),
        ({"strategy": "random"}, "strategy"),
        ({"time_limit_seconds": 0}, "time_limit_seconds"),
        ({"time_limit_seconds": place.settings.max_plan_seconds + 1}, "time_limit_seconds"),
    ):
        with pytest.raises(InvalidError) as refused:
            queue(place, region, **overrides)
        assert refused.value.field == field, overrides
    small = place.settings.model_copy(update={"max_plan_visits": 2})
    with pytest.raises(TooLargeError) as too_large:
        queue(place, region, settings=small)
    assert (too_large.value.field, too_large.value.value) == ("visits", 3)


def test_the_default_time_limit_is_the_solver_setting(place: Place) -> None:
    region = region_with_work(place, visits=1)
    job_id = queue(place, region, time_limit_seconds=None)
    expected = math.ceil(place.settings.solver_time_limit_seconds)
    assert job_of(place, job_id).time_limit_seconds == expected


@pytest.fixture
def own_place(backend: str, tmp_path: Path) -> Iterator[Place]:
    """A database for a test that plans every region there is."""
    yield from open_place(backend, tmp_path)


def test_a_failing_region_is_recorded_and_the_others_are_planned(
    own_place: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every region is planned when none is named; one whose solve breaks fails the job
    with its error in the result, and the other's plan stands."""
    place = own_place
    good = region_with_work(place, visits=2, code="R-GOOD")
    bad = region_with_work(place, visits=2, code="R-BAD")
    with db.transaction(place.engine) as session:
        doomed = {v.code for v in visits_of(session, bad)}
    solve = planning.solve_built

    def breaking(built, **kwargs):  # type: ignore[no-untyped-def]
        if doomed & set(built.visits):
            raise RuntimeError("solver crashed")
        return solve(built, **kwargs)

    monkeypatch.setattr(planning, "solve_built", breaking)
    job_id = queue(place, None)
    jobs.run(place.engine, job_id, place.settings, params=fast)

    job = job_of(place, job_id)
    assert job.status is JobStatus.failed
    assert job.finished_at is not None
    assert job.result["failed_regions"] == [bad]
    assert "solver crashed" in job.result["regions"][bad]["error"]
    assert "plan_id" not in job.result["regions"][bad]
    assert job.plan_ids == [job.result["regions"][good]["plan_id"]]
    assert job.result["assigned"] == 2
    assert bad in job.message
    assert "solver crashed" in job.message


def test_an_unexpected_error_leaves_the_job_failed_not_running(
    place: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    region = region_with_work(place, visits=1)
    job_id = queue(place, region)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(jobs, "_finish", broken)
    jobs.run(place.engine, job_id, place.settings, params=fast)

    job = job_of(place, job_id)
    assert job.status is JobStatus.failed
    assert "disk full" in job.message
    assert job.finished_at is not None


def test_the_executor_runs_jobs_after_the_submitter_returns(place: Place) -> None:
    region = region_with_work(place, visits=2)
    executor = jobs.InProcessExecutor(place.engine, place.settings, params=fast)
    job_id = queue(place, region)
    try:
        executor.submit(job_id)
        for _ in range(1200):  # up to a minute on a busy machine
            if job_of(place, job_id).status in (JobStatus.succeeded, JobStatus.failed):
                break
            time.sleep(0.05)
    finally:
        executor.shutdown()
    assert job_of(place, job_id).status is JobStatus.succeeded


def test_shutdown_leaves_no_job_queued_or_running(place: Place) -> None:
    """Jobs running at shutdown finish; those not yet begun are failed, saying why."""
    region = region_with_work(place, visits=2)
    executor = jobs.InProcessExecutor(place.engine, place.settings, params=fast)
    submitted = [queue(place, region) for _ in range(3)]
    for job_id in submitted:
        executor.submit(job_id)
    executor.shutdown()

    ended = [job_of(place, job_id) for job_id in submitted]
    assert all(job.status in (JobStatus.succeeded, JobStatus.failed) for job in ended)
    for job in ended:
        if job.status is JobStatus.failed:
            assert "server stopped" in job.message


def test_an_inline_executor_runs_the_job_before_submit_returns(place: Place) -> None:
    region = region_with_work(place, visits=1)
    executor = jobs.InProcessExecutor(place.engine, place.settings, inline=True, params=fast)
    job_id = queue(place, region)
    executor.submit(job_id)
    assert job_of(place, job_id).status is JobStatus.succeeded
    executor.shutdown()
