"""What the scale-out benchmark (benchmarks.scale_out) runs on: a generated day of N visits over R
regions, loaded once, an identical copy of that database for each run, and `dispatch worker`
processes, started, measured (memory, CPU) and stopped."""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from benchmarks.common import POSTGRES, database
from benchmarks.dispatch_e2e import load, next_monday
from benchmarks.uvicorn_server import cpu_snapshot
from dispatch import adapter, db
from dispatch.models import Region, ServiceRequest, Site, Visit
from dispatch.seed.generator import generate
from dispatch.seed.spec import SeedSpec
from dispatch.settings import Settings

# The generator's technicians fit about 5.7 visits each in a day (benchmarks.scaling at 10
# visits per technician); one per 6 visits leaves most of the day plannable, some displaced.
VISITS_PER_TECHNICIAN = 6.0
SEED = 11
READY_SECONDS = 180.0
READY = re.compile(r"celery@\S+ ready\.")


def scale_spec(
    visits: int, regions: int, per_technician: float = VISITS_PER_TECHNICIAN
) -> SeedSpec:
    """A one-day spec: with days=1 every generated request is one visit allowed on day 0 (the
    generator gives one visit per request, and spreads later earliest days only over
    ``days``), so the planned day holds exactly ``visits`` open visits, spread over the regions
    by where their sites fall."""
    return SeedSpec(
        technicians=max(2 * regions, math.ceil(visits / per_technician)),
        requests=visits,
        days=1,
        regions=regions,
        seed=SEED,
    )


@dataclass
class Dataset:
    """A loaded source database and what is in it."""

    backend: str
    url: str
    day: date
    spec: SeedSpec
    open_visits: dict[str, int]
    generate_seconds: float
    load_seconds: float


@contextmanager
def loaded(backend: str, tmp: Path, spec: SeedSpec) -> Iterator[Dataset]:
    """``spec`` generated and loaded into a fresh database with day 0 on the next Monday (a
    working day for every technician); dropped afterwards."""
    started = time.perf_counter()
    directory = tmp / "seed"
    generate(spec).write(directory)
    generated = time.perf_counter() - started
    day = next_monday()
    with database(backend, tmp, prefix="scale") as url:
        loading = load(url, directory, day)
        yield Dataset(backend, url, day, spec, _open_visits(url, day), generated, loading)


def _open_visits(url: str, day: date) -> dict[str, int]:
    """Per region, the visits a plan of ``day`` takes on (the adapter's choice: open, and
    allowed to start by then)."""
    engine = db.make_engine(url)
    try:
        with db.transaction(engine) as session:
            counted = session.exec(
                select(Region.code, sa.func.count(col(Visit.id)))
                .join(Site, col(Site.region_id) == Region.id)
                .join(ServiceRequest, col(ServiceRequest.site_id) == Site.id)
                .join(Visit, col(Visit.request_id) == ServiceRequest.id)
                .where(col(Visit.status).in_(adapter.PLANNABLE), Visit.earliest_date <= day)
                .group_by(Region.code)
                .order_by(Region.code)
            )
            return dict(counted.all())
    finally:
        engine.dispose()


@contextmanager
def copy_of(dataset: Dataset, tmp: Path) -> Iterator[tuple[str, float]]:
    """A copy of ``dataset``'s database and the seconds it took, so that every run starts from
    the same state; dropped afterwards. PostgreSQL copies it server-side (CREATE DATABASE ...
    TEMPLATE: a file copy, far cheaper than loading again); SQLite copies the file."""
    started = time.perf_counter()
    if dataset.backend == "sqlite":
        source = Path(make_url(dataset.url).database or "")
        target = tmp / f"copy-{uuid.uuid4().hex[:10]}.db"
        shutil.copyfile(source, target)
        try:
            yield f"sqlite:///{target}", time.perf_counter() - started
        finally:
            target.unlink(missing_ok=True)
        return
    source = make_url(dataset.url).database
    name = f"dispatch_scale_copy_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
        url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
        yield url, time.perf_counter() - started
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# ---------------------------------------------------------------------------------------------
# Worker processes: started, waited for, measured, stopped
# ---------------------------------------------------------------------------------------------


def _statuses() -> dict[int, dict[str, str]]:
    """/proc/<pid>/status of every process ("PPid", "VmRSS", ...)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "status").read_text()
        except OSError:
            continue
        found[int(entry.name)] = {
            key: value.strip()
            for key, _, value in (line.partition(":") for line in text.split("\n"))
        }
    return found


def _kib(status: dict[str, str], key: str) -> int:
    return int(status.get(key, "0 kB").split()[0])


@dataclass
class Footprint:
    """Memory of the workers and every process under them, sampled each poll: the solver's
    helper processes come and go with each region, so their peaks are read while they run."""

    roots: list[int]
    together_kib: int = 0
    largest_kib: int = 0
    most_processes: int = 0

    def sample(self) -> None:
        statuses = _statuses()
        children: dict[int, list[int]] = {}
        for pid, status in statuses.items():
            children.setdefault(int(status.get("PPid", "0")), []).append(pid)
        family, pending = [], list(self.roots)
        while pending:
            pid = pending.pop()
            if pid in statuses:
                family.append(pid)
                pending += children.get(pid, [])
        self.most_processes = max(self.most_processes, len(family))
        self.together_kib = max(self.together_kib, sum(_kib(statuses[p], "VmRSS") for p in family))
        self.largest_kib = max([self.largest_kib, *(_kib(statuses[p], "VmHWM") for p in family)])


def cpu_seconds(roots: list[int], database: str | None) -> tuple[float, float, float]:
    """CPU seconds so far of the workers (their reaped solver processes included), of the
    database server and of the whole machine."""
    snapshots = [cpu_snapshot(pid, database) for pid in roots]
    return sum(s[0] for s in snapshots), snapshots[0][1], snapshots[0][2]


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the worker's process group (Celery's warm shutdown), SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()


def _wait_ready(processes: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while True:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                raise SystemExit(f"a worker exited with {process.returncode}:\n{log.read_text()}")
        # Celery logs "celery@<host> ready." once it consumes from the queue.
        if all(READY.search(log.read_text(errors="replace")) for log in logs):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"workers not ready in {READY_SECONDS:.0f} s:\n{logs[0].read_text()}")
        time.sleep(0.2)


@contextmanager
def started_workers(count: int, settings: Settings, tmp: Path) -> Iterator[list[subprocess.Popen]]:
    """``count`` `dispatch worker --concurrency 1` processes on ``settings``' database and
    queue, yielded once every one is ready; stopped (with all they started) afterwards."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISPATCH_")} | {
        "DISPATCH_DATABASE_URL": settings.database_url,
        "DISPATCH_BROKER_URL": settings.broker_url or "",
        "DISPATCH_BROKER_QUEUE": settings.broker_queue,
        "DISPATCH_MAX_PLAN_VISITS": str(settings.max_plan_visits),
        "DISPATCH_MAX_PLAN_SECONDS": str(settings.max_plan_seconds),
        # INFO for Celery's "ready." line; it adds one line per task, no more.
        "DISPATCH_LOG_LEVEL": "info",
    }
    command = [str(Path(sys.executable).with_name("dispatch")), "worker", "--concurrency", "1"]
    processes: list[subprocess.Popen] = []
    logs = [tmp / f"{settings.broker_queue}-{index}.log" for index in range(count)]
    try:
        for log in logs:
            with log.open("wb") as sink:
                processes.append(
                    subprocess.Popen(  # noqa: S603  (our own interpreter's entry point)
                        command, env=env, stdout=sink, stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )  # fmt: skip
        _wait_ready(processes, logs)
        yield processes
    finally:
        for process in processes:
            _stop(process)
        _forget_queue(settings)


def _forget_queue(settings: Settings) -> None:
    """Remove the run's queue from the broker: a queue per run would otherwise stay for ever."""
    import redis

    client = redis.Redis.from_url(settings.broker_url or "")
    try:
        client.delete(settings.broker_queue, f"_kombu.binding.{settings.broker_queue}")
    finally:
        client.close()
