"""Planning on Celery workers when things go wrong or wide: a worker killed in the middle of
a solve has its task completed by another worker, published once; the regions of a job of
every region, and the territories of an oversized region, are solved side by side on two
workers and assembled into one result."""

from __future__ import annotations

import os
import signal

from sqlmodel import col, select

from dispatch import db, jobs, workers
from dispatch.models import JobStatus, Plan, PlanStatus, Region
from tests.dispatch.test_jobs import FRIDAY, Place, queue, region_with_work
from tests.dispatch.test_territories import region_in_two_towns
from tests.faults.conftest import (
    Workers,
    ended,
    job_row,
    task_rows,
    wait_for,
)


def submit(place: Place, started: Workers, job_id: int) -> None:
    executor = workers.CeleryExecutor(place.engine, started.settings)
    try:
        executor.submit(job_id)
    finally:
        executor.shutdown()


def test_a_worker_killed_mid_solve_has_its_task_completed_by_another(
    place: Place, workers: Workers
) -> None:
    region = region_with_work(place, visits=4)
    workers.start(2)
    # Long enough a solve to be killed in the middle of it.
    job_id = queue(place, region, time_limit_seconds=8, publish=True)
    submit(place, workers, job_id)

    def solving():  # type: ignore[no-untyped-def]
        (task,) = task_rows(place, job_id)
        return task if "solving" in task.message or "best" in task.message else None

    task = wait_for(solving, 90, lambda: f"{task_rows(place, job_id)}\n{workers.tail()}")
    victim = workers.owning(task.lease_owner)  # type: ignore[attr-defined]
    os.killpg(victim.pid, signal.SIGKILL)  # no goodbye: the lease is left to lapse
    victim.wait()

    job = wait_for(lambda: ended(place, job_id), 120, workers.tail)
    assert job.status is JobStatus.succeeded, job.message  # type: ignore[attr-defined]
    (done,) = task_rows(place, job_id)
    assert done.attempts == 2
    assert done.published
    survivor = next(p for p in workers.processes if p is not victim)
    assert workers.owning(f"x:{done.outcome['worker'].split(':')[1]}") is survivor
    with db.transaction(place.engine) as session:
        plans = list(
            session.exec(
                select(Plan)
                .join(Region, col(Region.id) == Plan.region_id)
                .where(Region.code == region, Plan.starts_on == FRIDAY)
            )
        )
    # The killed attempt stored nothing; the one that finished published once.
    assert [(p.id, p.status) for p in plans] == [(done.plan_id, PlanStatus.published)]
    assert job.plan_ids == [done.plan_id]  # type: ignore[attr-defined]


def test_the_regions_of_a_job_are_planned_side_by_side_on_two_workers(
    place: Place, workers: Workers
) -> None:
    regions = sorted(region_with_work(place, visits=3) for _ in range(2))
    workers.start(2)
    # 10 s: the solver searches in two processes of its own, which a worker must allow.
    job_id = queue(place, None, time_limit_seconds=10)
    submit(place, workers, job_id)

    job = wait_for(lambda: ended(place, job_id), 120, workers.tail)
    assert job.status is JobStatus.succeeded, job.message  # type: ignore[attr-defined]
    assert sorted(job.result["regions"]) == regions  # type: ignore[attr-defined]
    first, second = task_rows(place, job_id)
    assert first.outcome["worker"] != second.outcome["worker"]
    # Each solve takes its 10 s; side by side they overlap.
    assert first.started_at < second.finished_at  # type: ignore[operator]
    assert second.started_at < first.finished_at  # type: ignore[operator]
    assert job_row(place, job_id).progress == 1.0
    assert jobs.task_ids(place.engine, job_id) == []


def test_the_territories_of_an_oversized_region_are_solved_on_two_workers(
    place: Place, workers: Workers
) -> None:
    place.settings = place.settings.model_copy(update={"territory_visits": 50})
    region = region_in_two_towns(place)
    workers.start(2)
    job_id = queue(place, region, time_limit_seconds=4, publish=True)
    submit(place, workers, job_id)

    job = wait_for(lambda: ended(place, job_id), 120, workers.tail)
    assert job.status is JobStatus.succeeded, job.message  # type: ignore[attr-defined]
    assert job.result["regions"][region]["territories"] == 2  # type: ignore[attr-defined]
    _, first, second = task_rows(place, job_id)
    assert first.outcome["worker"] != second.outcome["worker"]
    assert first.started_at < second.finished_at  # type: ignore[operator]
    assert second.started_at < first.finished_at  # type: ignore[operator]
