"""Planning tasks under leases: a job of every region is one task per region; a task whose
worker died is taken over and its plan stored and published once; a worker that lost its
lease writes nothing more; two plans of one region never run at once; a task whose workers
keep dying is given up, and a server starting again runs what was left queued."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from dispatch import db, jobs, leases, planning, tasks
from dispatch.models import (
    JobStatus,
    Plan,
    PlanningTask,
    PlanStatus,
    Region,
    RegionLock,
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

LEASE = 30.0


@pytest.fixture
def place(backend: str, tmp_path: Path) -> Iterator[Place]:
    """A database of its own: tests here count every plan and task there is."""
    yield from open_place(backend, tmp_path)


class Died(BaseException):
    """A worker process ending abruptly: nothing after it runs, nothing is recorded."""


def tasks_of(place: Place, job_id: int) -> list[PlanningTask]:
    with db.transaction(place.engine) as session:
        return list(
            session.exec(
                select(PlanningTask)
                .where(PlanningTask.job_id == job_id)
                .order_by(col(PlanningTask.id))
            )
        )


def lapse(place: Place, task_id: int) -> None:
    """What a dead worker's lease and lock come to once their time is up."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    with db.transaction(place.engine) as session:
        task = session.get_one(PlanningTask, task_id)
        task.lease_until = past
        session.execute(
            sa.update(RegionLock).where(RegionLock.job_id == task.job_id).values(held_until=past)
        )


def plans_of(place: Place, region: str) -> list[Plan]:
    with db.transaction(place.engine) as session:
        return list(
            session.exec(
                select(Plan)
                .join(Region, col(Region.id) == Plan.region_id)
                .where(Region.code == region, Plan.starts_on == FRIDAY)
            )
        )


def run(place: Place, task_id: int) -> leases.Ran:
    return tasks.run(place.engine, task_id, lease=LEASE, params=fast)


def test_a_job_of_every_region_is_one_task_per_region(place: Place) -> None:
    regions = sorted(region_with_work(place, visits=2) for _ in range(3))
    job_id = queue(place, None)
    assert [t.status for t in tasks_of(place, job_id)] == [JobStatus.queued] * 3

    jobs.run(place.engine, job_id, place.settings, params=fast)

    job = job_of(place, job_id)
    assert job.status is JobStatus.succeeded, job.message
    assert sorted(job.result["regions"]) == regions
    assert all(t.status is JobStatus.succeeded and t.attempts == 1 for t in tasks_of(place, job_id))
    assert sorted(job.plan_ids) == sorted(t.plan_id for t in tasks_of(place, job_id))  # type: ignore[type-var]


def test_a_task_whose_worker_died_before_publishing_is_published_once_by_another(
    place: Place, monkeypatch: pytest.MonkeyPatch
) -> None:
    region = region_with_work(place, visits=3)
    job_id = queue(place, region, publish=True)
    (task,) = tasks_of(place, job_id)

    def dies(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise Died

    with monkeypatch.context() as patched:
        patched.setattr(planning, "publish", dies)
        with pytest.raises(Died):
            run(place, task.id)  # type: ignore[arg-type]
    stored = tasks_of(place, job_id)[0]
    assert stored.status is JobStatus.running
    assert stored.plan_id is not None
    assert run(place, task.id) is leases.Ran.not_ours  # type: ignore[arg-type]  # lease still live

    lapse(place, task.id)  # type: ignore[arg-type]
    requeued, given_up = leases.abandoned(place.engine)
    assert (requeued, given_up) == ([task.id], [])
    assert jobs.run_task(place.engine, task.id, place.settings, params=fast) is leases.Ran.done  # type: ignore[arg-type]

    (plan,) = plans_of(place, region)  # the draft of the first attempt, not a second one
    assert plan.id == stored.plan_id
    assert plan.status is PlanStatus.published
    after = tasks_of(place, job_id)[0]
    assert (after.status, after.attempts, after.published) == (JobStatus.succeeded, 2, True)
    job = job_of(place, job_id)
    assert job.status is JobStatus.succeeded
    assert job.plan_ids == [plan.id]
    assert job.result["regions"][region]["published"] is True


def test_a_worker_whose_lease_was_taken_over_writes_nothing_more(place: Place) -> None:
    region = region_with_work(place, visits=2)
    job_id = queue(place, region)
    (task,) = tasks_of(place, job_id)
    slow = leases.claim(place.engine, task.id, "host:1:slow", LEASE)  # type: ignore[arg-type]
    assert isinstance(slow, leases.Claimed)
    lapse(place, task.id)  # type: ignore[arg-type]
    quick = leases.claim(place.engine, task.id, "host:2:quick", LEASE)  # type: ignore[arg-type]
    assert isinstance(quick, leases.Claimed)

    with pytest.raises(leases.LeaseLost), db.transaction(place.engine) as session:
        leases.renew(session, slow)
    with db.transaction(place.engine) as session:
        leases.renew(session, quick)
    assert tasks_of(place, job_id)[0].lease_owner == "host:2:quick"


def test_two_plans_of_one_region_never_run_at_once(place: Place) -> None:
    region = region_with_work(place, visits=2)
    first, second = queue(place, region), queue(place, region)
    (held,) = tasks_of(place, first)
    (waiting,) = tasks_of(place, second)
    assert isinstance(leases.claim(place.engine, held.id, "host:1:a", LEASE), leases.Claimed)  # type: ignore[arg-type]

    assert run(place, waiting.id) is leases.Ran.busy  # type: ignore[arg-type]
    now = tasks_of(place, second)[0]
    assert now.status is JobStatus.queued
    assert now.attempts == 0
    assert f"by job {first}" in now.message

    # The holder dies: its lock lapses with its lease, and the waiting plan goes ahead.
    lapse(place, held.id)  # type: ignore[arg-type]
    assert run(place, waiting.id) is leases.Ran.done  # type: ignore[arg-type]
    assert tasks_of(place, second)[0].status is JobStatus.succeeded
    with db.transaction(place.engine) as session:
        assert session.exec(select(RegionLock)).all() == []


def test_a_task_whose_workers_keep_dying_is_given_up(place: Place) -> None:
    region = region_with_work(place, visits=1)
    job_id = queue(place, region)
    (task,) = tasks_of(place, job_id)
    for attempt in range(leases.MAX_ATTEMPTS):
        claimed = leases.claim(place.engine, task.id, f"host:{attempt}:x", LEASE)  # type: ignore[arg-type]
        assert isinstance(claimed, leases.Claimed)
        lapse(place, task.id)  # type: ignore[arg-type]
        if attempt < leases.MAX_ATTEMPTS - 1:
            assert leases.abandoned(place.engine) == ([task.id], [])

    sweeper = jobs.Sweeper(place.engine, place.settings, lambda _: pytest.fail("handed over"))
    try:
        assert sweeper.sweep() == []
    finally:
        sweeper.stop()
    job = job_of(place, job_id)
    assert job.status is JobStatus.failed
    assert f"given up after {leases.MAX_ATTEMPTS} attempts" in job.message


def test_a_server_starting_again_runs_the_tasks_left_queued(place: Place) -> None:
    region = region_with_work(place, visits=2)
    job_id = queue(place, region)  # committed, never handed over: the server stopped
    executor = jobs.InProcessExecutor(place.engine, place.settings, params=fast, resume=True)
    try:
        for _ in range(1200):  # up to a minute on a busy machine
            if job_of(place, job_id).status in leases.ENDED:
                break
            time.sleep(0.05)
    finally:
        executor.shutdown()
    assert job_of(place, job_id).status is JobStatus.succeeded
