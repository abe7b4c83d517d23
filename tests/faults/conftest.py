"""What the fault tests share: a database of their own per test, and real `dispatch worker`
processes on a Redis queue of the test's own, started, awaited and stopped by the test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlmodel import select

from dispatch import db
from dispatch.models import JobStatus, PlanningJob, PlanningTask
from dispatch.settings import Settings
from dispatch.workers import celery_app
from tests.conftest import REDIS_URL as REDIS
from tests.conftest import redis_or_skip, stop_group
from tests.dispatch.test_jobs import Place, open_place

# Short, so that a dead worker's task is taken over within seconds.
LEASE_SECONDS = 2.0
pytestmark = pytest.mark.slow


@pytest.fixture
def place(backend: str, tmp_path: Path) -> Iterator[Place]:
    yield from open_place(backend, tmp_path)


@dataclass
class Workers:
    """`dispatch worker` processes of one queue, each in a process group of its own."""

    settings: Settings
    logs: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self, count: int = 1) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")} | {
            "DISPATCH_DATABASE_URL": self.settings.database_url,
            "DISPATCH_BROKER_URL": REDIS,
            "DISPATCH_BROKER_QUEUE": self.settings.broker_queue,
            "DISPATCH_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            "DISPATCH_LOG_LEVEL": "warning",
        }
        for _ in range(count):
            sink = (self.logs / f"worker-{len(self.processes)}.log").open("wb")
            self.processes.append(
                subprocess.Popen(
                    [str(Path(sys.executable).with_name("dispatch")), "worker"],
                    env=env,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        self.wait_ready(len(self.processes))

    def wait_ready(self, count: int, seconds: float = 90) -> None:
        """Until ``count`` workers answer a ping (bounded: they import the solver first)."""
        app = celery_app(self.settings)
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if len(app.control.ping(timeout=1.0) or []) >= count:
                    return
                for process in self.processes:
                    assert process.poll() is None, self.tail()
            raise AssertionError(f"{count} workers not ready in {seconds} s\n{self.tail()}")
        finally:
            app.close()

    def owning(self, lease_owner: str) -> subprocess.Popen:
        """The worker whose process (or pool child) holds a lease ("host:pid:random")."""
        pid = int(lease_owner.split(":")[1])
        group = os.getpgid(pid)
        return next(p for p in self.processes if p.pid == group)

    def tail(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-1500:]}" for path in sorted(self.logs.glob("*"))
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                stop_group(process)


@pytest.fixture
def workers(place: Place, tmp_path: Path) -> Iterator[Workers]:
    redis_or_skip()
    settings = Settings(
        database_url=place.settings.database_url,
        broker_url=REDIS,
        broker_queue=f"test-{uuid.uuid4().hex[:8]}",
        job_lease_seconds=LEASE_SECONDS,
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    started = Workers(settings, logs)
    try:
        yield started
    finally:
        started.stop()
        print(started.tail())


def wait_for(
    what: Callable[[], object], seconds: float, describe: Callable[[], str] = str
) -> object:
    """``what()`` once it is truthy, polled every 0.1 s, or fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {describe()}")


def job_row(place: Place, job_id: int) -> PlanningJob:
    with db.transaction(place.engine) as session:
        return session.get_one(PlanningJob, job_id)


def task_rows(place: Place, job_id: int) -> list[PlanningTask]:
    with db.transaction(place.engine) as session:
        return list(
            session.exec(
                select(PlanningTask).where(PlanningTask.job_id == job_id).order_by(PlanningTask.id)  # type: ignore[arg-type]
            )
        )


def ended(place: Place, job_id: int) -> PlanningJob | None:
    job = job_row(place, job_id)
    return job if job.status in (JobStatus.succeeded, JobStatus.failed) else None
