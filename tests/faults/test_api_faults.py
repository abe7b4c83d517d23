"""The API server process when things go wrong: killed in the middle of publishing a plan, the
plan in force is untouched and a server started again finishes the job (publishing the draft
already stored, not a second one); PostgreSQL stopped and started again, requests fail fast
with 503 meanwhile and succeed afterwards without restarting the server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from dispatch import db, jobs
from dispatch.models import (
    EventTopic,
    JobStatus,
    OutboxEvent,
    Plan,
    PlanStatus,
    PlanStop,
    Region,
    Visit,
)
from tests.conftest import free_port, stop_group
from tests.dispatch.test_jobs import FRIDAY, Place, fast, queue, region_with_work
from tests.faults.conftest import LEASE_SECONDS, ended, job_row, task_rows, wait_for

pytestmark = pytest.mark.slow


@dataclass
class Server:
    process: subprocess.Popen
    base: str
    log: Path


def start_server(place: Place, tmp: Path, name: str) -> Server:
    """`dispatch serve` (planning in its own process) on a free port, answering."""
    port = free_port()
    log = tmp / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")} | {
        "DISPATCH_DATABASE_URL": place.settings.database_url,
        "DISPATCH_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "DISPATCH_LOG_LEVEL": "warning",
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("dispatch")), "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)

    def answering() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(answering, 90, log.read_text)
    return server


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        yield started
    finally:
        for server in started:
            if server.process.poll() is None:
                stop_group(server.process)
            print(f"--- {server.log.name}\n{server.log.read_text()[-2000:]}")


def published_plan(place: Place, region: str) -> tuple[int, dict[int, tuple[int, object]]]:
    """The plan in force for Friday and the visits as it placed them (technician, start)."""
    with db.transaction(place.engine) as session:
        (plan,) = session.exec(
            select(Plan)
            .join(Region, col(Region.id) == Plan.region_id)
            .where(Region.code == region, Plan.status == PlanStatus.published)
        ).all()
        placed = {
            visit.id: (visit.technician_id, visit.planned_start)
            for visit in session.exec(
                select(Visit)
                .join(PlanStop, col(PlanStop.visit_id) == Visit.id)
                .where(PlanStop.plan_id == plan.id)
            )
        }
        return plan.id, placed  # type: ignore[return-value]


def slow_down_events(place: Place) -> None:
    """Every event written makes its transaction take long: a publication is then caught
    in the middle, after it superseded the old plan and moved visits, before it commits."""
    with place.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                sa.text(
                    "CREATE FUNCTION slow_event() RETURNS trigger AS $$ "
                    "BEGIN PERFORM pg_sleep(5); RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                sa.text(
                    "CREATE TRIGGER slow_event BEFORE INSERT ON outbox_event "
                    "FOR EACH ROW EXECUTE FUNCTION slow_event()"
                )
            )
        else:
            # SQLite cannot sleep in a trigger: a join of a million rows per event keeps the
            # transaction busy for seconds instead.
            connection.execute(sa.text("CREATE TABLE slow_rows (x INTEGER)"))
            connection.execute(sa.text("INSERT INTO slow_rows VALUES " + ",".join(["(1)"] * 1000)))
            connection.execute(
                sa.text(
                    "CREATE TRIGGER slow_event BEFORE INSERT ON outbox_event BEGIN "
                    "SELECT count(*) FROM slow_rows a, slow_rows b, slow_rows c; END"
                )
            )


def normal_events(place: Place) -> None:
    with place.engine.begin() as connection:
        connection.execute(
            sa.text(
                "DROP TRIGGER slow_event"
                + (" ON outbox_event" if connection.dialect.name == "postgresql" else "")
            )
        )


def in_the_middle(place: Place, job_id: int) -> bool:
    """The server is inside the publishing transaction, held up writing its events."""
    (task,) = task_rows(place, job_id)
    if "publishing" not in task.message:
        return False
    if place.engine.dialect.name != "postgresql":
        time.sleep(1.0)  # the join takes far longer than this
        return True
    with place.engine.connect() as connection:
        return bool(
            connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event = 'PgSleep'"
                )
            ).scalar()
        )


def test_an_api_killed_while_publishing_leaves_the_plan_in_force_intact(
    place: Place, servers: list[Server], tmp_path: Path
) -> None:
    region = region_with_work(place, visits=3)
    first = queue(place, region, publish=True)
    jobs.run(place.engine, first, place.settings, params=fast)
    before, placed = published_plan(place, region)

    slow_down_events(place)
    job_id = queue(place, region, publish=True)  # left queued: the server takes it up
    servers.append(start_server(place, tmp_path, "first"))
    wait_for(lambda: in_the_middle(place, job_id), 90, lambda: str(task_rows(place, job_id)))
    os.killpg(servers[0].process.pid, signal.SIGKILL)
    servers[0].process.wait()
    normal_events(place)

    # Nothing of the publication is left: the old plan is in force as it was.
    assert published_plan(place, region) == (before, placed)
    with db.transaction(place.engine) as session:
        announced = session.exec(
            select(OutboxEvent).where(OutboxEvent.topic == EventTopic.plan_published)
        ).all()
        assert [event.payload["plan"] for event in announced] == [before]
    (task,) = task_rows(place, job_id)
    assert task.status is JobStatus.running
    draft = task.plan_id
    assert draft is not None

    # A server started again takes the task over once its lease lapses and publishes the
    # draft the killed one stored: no second draft.
    servers.append(start_server(place, tmp_path, "second"))
    job = wait_for(lambda: ended(place, job_id), 120, lambda: str(task_rows(place, job_id)))
    assert job.status is JobStatus.succeeded, job.message  # type: ignore[attr-defined]
    assert published_plan(place, region)[0] == draft
    assert task_rows(place, job_id)[0].attempts == 2
    with db.transaction(place.engine) as session:
        statuses = sorted(
            (plan.id, plan.status)
            for plan in session.exec(select(Plan).where(Plan.starts_on == FRIDAY))
        )
    assert statuses == [(before, PlanStatus.superseded), (draft, PlanStatus.published)]
    assert job_row(place, job_id).plan_ids == [draft]


def _restart_postgres_or_skip(url: str) -> list[str]:
    """The command that controls the local PostgreSQL cluster the tests use."""
    host = make_url(url).host
    control = shutil.which("pg_ctlcluster")
    clusters = sorted(Path("/etc/postgresql").glob("*/main")) if control else []
    reason = None
    if host not in ("127.0.0.1", "localhost"):
        reason = f"PostgreSQL at {host} is not this machine's"
    elif not clusters:
        reason = "no local PostgreSQL cluster (pg_ctlcluster, /etc/postgresql/*/main)"
    elif os.geteuid() != 0:
        reason = "controlling the PostgreSQL cluster needs root"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must restart PostgreSQL")
        pytest.skip(reason)
    return [control, "--skip-systemctl-redirect", clusters[-1].parent.name, "main"]  # type: ignore[list-item]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_api_recovers_from_a_postgresql_restart_without_restarting(
    place: Place, servers: list[Server], tmp_path: Path
) -> None:
    control = _restart_postgres_or_skip(place.settings.database_url)
    servers.append(start_server(place, tmp_path, "server"))
    api = httpx.Client(base_url=servers[0].base, timeout=20)
    assert api.get("/healthz").status_code == 200

    subprocess.run([*control, "stop", "--", "-m", "fast"], check=True, timeout=60)
    try:
        started = time.monotonic()
        down = api.get("/healthz")
        # A clear refusal at once, not a hang and not a 500.
        assert down.status_code == 503, down.text
        assert down.headers["content-type"].startswith("application/problem+json")
        assert time.monotonic() - started < 10
    finally:
        subprocess.run([*control, "start"], check=True, timeout=60)
    wait_for(lambda: api.get("/healthz").status_code == 200, 60, lambda: "still failing")
    answers = [api.get("/healthz").status_code for _ in range(20)]
    assert answers == [200] * 20
    assert servers[0].process.poll() is None  # the same server, never restarted
