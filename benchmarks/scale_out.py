"""Planning every region on Celery workers at scale: one all-regions job (10,000 visits over 10
regions by default) run by 1 and by 2 `dispatch worker` processes; wall time of each and the
speed-up, against the target of <= 300 s with 2 workers.

    python -m benchmarks.scale_out [--visits 10000] [--regions 10] [--seconds 20]
        [--workers 1,2] [--backend postgresql] [--broker redis://127.0.0.1:6379/14] [--record]

The data is generated and loaded once; each run gets its own copy of that database, its own
broker queue and freshly started workers (ready before the clock starts). The job is made and
handed over as the API does (jobs.request_plan, then workers.CeleryExecutor.submit); wall time
runs from the hand-over to the job's finished_at. Skips (exit 0) when PostgreSQL or Redis does
not answer. Appends to RESULTS.md only with --record.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import append_results, machine, markdown_table, postgres_reachable

# The database, the solver and Celery are imported only where used: the command starts in a
# blink when it only prints its help or skips.

if TYPE_CHECKING:
    import sqlalchemy as sa

    from benchmarks.scale_data import Dataset, Footprint
    from dispatch.models import PlanningJob
    from dispatch.settings import Settings

TARGET_SECONDS = 300.0
TARGET_WORKERS = 2
BROKER = "redis://127.0.0.1:6379/14"
POLL_SECONDS = 1.0
SAY_EVERY_SECONDS = 15.0
# Ready workers take a task within a second; a job still queued after this never will be (a
# worker failing on every task, say one whose code no longer matches the database).
QUEUED_SECONDS = 120.0
ERROR_SHOWN = 90
# Per region. 10 regions on 2 workers take 5 rounds of the limit plus ~7 s to read, store and
# publish 1,000 visits: ~135 s at 20 s, well within the target on a shared machine too.
SECONDS = 20
# Set by hand: the run has a limit of its own, whatever DISPATCH_* the shell carries.
MAX_PLAN_SECONDS = 3600


@dataclass
class Run:
    """One job on ``workers`` workers: how it ended and what it cost."""

    workers: int
    status: str
    message: str
    wall: float
    result: dict[str, Any]
    region_seconds: list[float]
    copy_seconds: float
    memory: Footprint
    cpu: dict[str, float]


def redis_reachable(url: str) -> str | None:
    """None when Redis answers at ``url``, else why not."""
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------------------------
# One run: a copy of the data, W workers, one all-regions job
# ---------------------------------------------------------------------------------------------


def _settings(url: str, args: argparse.Namespace, visits: int) -> Settings:
    from dispatch.settings import Settings

    return Settings(
        database_url=url,
        broker_url=args.broker,
        broker_queue=f"scale-out-{uuid.uuid4().hex[:10]}",
        max_plan_visits=max(visits, 1),
        max_plan_seconds=max(MAX_PLAN_SECONDS, args.seconds),
        territory_visits=args.territory_visits,
    )


def _request(engine: sa.Engine, settings: Settings, dataset: Dataset, seconds: int) -> int:
    """The all-regions job, made as the API makes it."""
    from dispatch import db, jobs

    with db.transaction(engine) as session:
        job = jobs.request_plan(
            session, region_code=None, starts_on=dataset.day, days=1, strategy="optimised",
            time_limit_seconds=seconds, publish=True, requested_by=None, settings=settings,
        )  # fmt: skip
        return job.id  # type: ignore[return-value]


def _poll(engine: sa.Engine, job_id: int, memory: Footprint, limit: float) -> PlanningJob:
    """The job's row once it has ended, or as it is after ``limit`` seconds (or once no worker
    has taken it up in QUEUED_SECONDS)."""
    from dispatch import db
    from dispatch.models import JobStatus, PlanningJob

    started = time.monotonic()
    said = -SAY_EVERY_SECONDS
    while True:
        with db.transaction(engine) as session:
            job = session.get_one(PlanningJob, job_id)
        memory.sample()
        elapsed = time.monotonic() - started
        stalled = job.status is JobStatus.queued and elapsed > QUEUED_SECONDS
        if job.status in (JobStatus.succeeded, JobStatus.failed) or stalled or elapsed > limit:
            return job
        if elapsed - said >= SAY_EVERY_SECONDS:
            said = elapsed
            print(f"  {elapsed:4.0f} s {job.status} {job.progress:4.0%} {job.message}", flush=True)
        time.sleep(POLL_SECONDS)


def _status(job: PlanningJob, limit: float) -> str:
    if job.finished_at is not None:
        return str(job.status)
    if job.status == "queued":
        return f"not taken up in {QUEUED_SECONDS:.0f} s (see the worker logs)"
    return f"not ended in {limit:.0f} s"


def _region_seconds(engine: sa.Engine, plan_ids: list[int]) -> list[float]:
    """Each region's plan wall time (read, solve, store), as the job recorded it."""
    from sqlmodel import col, select

    from dispatch import db
    from dispatch.models import Plan

    with db.transaction(engine) as session:
        found = session.exec(select(Plan.wall_seconds).where(col(Plan.id).in_(plan_ids)))
        return sorted(s for s in found if s is not None)


def _cpu(roots: list[int], settings: Settings, backend: str) -> tuple[float, ...]:
    """CPU seconds so far: workers, database server, machine, and this script (the poller)."""
    from sqlalchemy.engine import make_url

    from benchmarks.scale_data import cpu_seconds

    database = make_url(settings.database_url).database if backend != "sqlite" else None
    return (*cpu_seconds(roots, database), sum(os.times()[:2]))


def run_job(
    settings: Settings, dataset: Dataset, args: argparse.Namespace, roots: list[int]
) -> Run:
    """Hand the all-regions job to the workers as the API does and wait for its end."""
    from benchmarks.scale_data import Footprint
    from dispatch import db, workers

    engine = db.make_engine(settings.database_url)
    executor = workers.CeleryExecutor(engine, settings)
    memory = Footprint(roots)
    # Generous: a run that takes this long has failed the target many times over.
    limit = 120 + 2 * args.regions * (args.seconds + 30)
    try:
        job_id = _request(engine, settings, dataset, args.seconds)
        before = _cpu(roots, settings, dataset.backend)
        submitted = datetime.now(UTC)
        executor.submit(job_id)
        ended = _poll(engine, job_id, memory, limit)
        used = [b - a for a, b in zip(before, _cpu(roots, settings, dataset.backend), strict=True)]
        workers_cpu, database_cpu, machine_cpu, own_cpu = used
        return Run(
            workers=len(roots),
            status=_status(ended, limit),
            message=ended.message,
            wall=((ended.finished_at or datetime.now(UTC)) - submitted).total_seconds(),
            result=ended.result or {},
            region_seconds=_region_seconds(engine, list(ended.plan_ids or [])),
            copy_seconds=0.0,
            memory=memory,
            cpu={
                "workers": workers_cpu,
                "database": database_cpu,
                "elsewhere": machine_cpu - workers_cpu - database_cpu - own_cpu,
            },
        )
    finally:
        executor.shutdown()
        engine.dispose()


def measure(count: int, dataset: Dataset, args: argparse.Namespace, tmp: Path) -> Run:
    """One run on ``count`` workers, on a copy of the data of its own."""
    from benchmarks.scale_data import copy_of, started_workers

    with copy_of(dataset, tmp) as (url, copied):
        settings = _settings(url, args, sum(dataset.open_visits.values()))
        print(f"{count} worker(s): database copied in {copied:.1f} s; starting workers", flush=True)
        with started_workers(count, settings, tmp) as processes:
            run = run_job(settings, dataset, args, [p.pid for p in processes])
        run.copy_seconds = copied
    if run.status != "succeeded":
        for log in sorted(tmp.glob(f"{settings.broker_queue}-*.log")):
            print(f"--- {log.name} (end)\n{log.read_text(errors='replace')[-3000:]}")
    print(f"{count} worker(s): {run.status} in {run.wall:.1f} s: {run.message}", flush=True)
    return run


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _per_worker(result: dict[str, Any]) -> str:
    """How many regions each worker process planned (the outcome names its worker)."""
    counts = Counter(o.get("worker") for o in result.get("regions", {}).values())
    if not counts or None in counts:
        return "-"
    return " + ".join(str(n) for _, n in counts.most_common())


def _row(run: Run, base: Run) -> list[object]:
    result = run.result
    failed = len(result.get("failed_regions", []))
    times = run.region_seconds
    spread = f"{times[0]:.1f} / {statistics.median(times):.1f} / {times[-1]:.1f}" if times else "-"
    elsewhere = 100 * run.cpu["elsewhere"] / max(1e-9, run.wall * (os.cpu_count() or 1))
    return [
        run.workers,
        run.status,
        f"{len(result.get('regions', {})) - failed} / {failed}",
        result.get("assigned", "-"),
        result.get("unassigned", "-"),
        f"{run.wall:.1f}",
        f"{base.wall / run.wall:.2f}" if run.wall > 0 else "-",
        spread,
        f"{run.cpu['workers']:.0f}",
        _per_worker(result),
        run.memory.most_processes,
        f"{run.memory.together_kib / 1024:.0f} / {run.memory.largest_kib / 1024:.0f}",
        f"{elsewhere:.0f}%",
    ]


def _regions_table(runs: list[Run], dataset: Dataset) -> str:
    """Per region: its open visits and, per run, visits assigned (or the region's error)."""

    def outcome(run: Run, code: str) -> object:
        region = run.result.get("regions", {}).get(code, {})
        error = region.get("error")
        return error[:ERROR_SHOWN] if error else region.get("assigned", "-")

    header = ["region", "open visits", *(f"assigned, {run.workers} worker(s)" for run in runs)]
    rows = [
        [code, visits, *(outcome(run, code) for run in runs)]
        for code, visits in dataset.open_visits.items()
    ]
    return markdown_table(header, rows)


def report(runs: list[Run], dataset: Dataset, args: argparse.Namespace) -> tuple[str, str, str]:
    """The summary table, the per-region table and the notes."""
    base = min(runs, key=lambda run: run.workers)
    header = [
        "workers", "job", "regions planned / failed", "assigned", "unassigned", "wall s",
        f"speed-up vs {base.workers}", "region s min / median / max", "worker CPU s",
        "regions per worker", "processes", "peak RSS MiB all / largest", "CPU elsewhere",
    ]  # fmt: skip
    table = markdown_table(header, [_row(run, base) for run in runs])
    return table, _regions_table(runs, dataset), _notes(runs, dataset, args)


def _verdict(runs: list[Run]) -> str:
    target = next((run for run in runs if run.workers == TARGET_WORKERS), None)
    if target is None:
        return f"not measured (no run with {TARGET_WORKERS} workers)"
    if target.status == "succeeded" and target.wall <= TARGET_SECONDS:
        return f"met ({target.wall:.0f} s)"
    return f"NOT met ({target.status}, {target.wall:.0f} s)"


def _notes(runs: list[Run], dataset: Dataset, args: argparse.Namespace) -> str:
    per_region = dataset.open_visits.values()
    spec = dataset.spec
    return (
        f"Target: all regions planned in <= {TARGET_SECONDS:.0f} s with {TARGET_WORKERS} "
        f"workers: {_verdict(runs)}. Data: {sum(per_region)} open visits on {dataset.day} over "
        f"{len(per_region)} regions ({min(per_region)}-{max(per_region)} each), "
        f"{spec.technicians} technicians (SeedSpec requests={spec.requests}, days=1, "
        f"seed={spec.seed}); generated in {dataset.generate_seconds:.0f} s, loaded into "
        f"{dataset.backend} in {dataset.load_seconds:.0f} s, copied for each run in "
        f"{max(run.copy_seconds for run in runs):.0f} s at most. Each run: W `dispatch worker "
        "--concurrency 1` processes on a queue of their own, ready before the clock starts; "
        f"one job of every region (optimised, published, {args.seconds} s solver limit per "
        "region) made by jobs.request_plan and handed over by CeleryExecutor.submit; wall s "
        "from the hand-over to the job's finished_at. Region s: each plan's wall time (read, "
        "solve, store; publication comes after). Processes: the most processes under the "
        "workers at once (the worker processes and the solver's helper processes) on "
        f"{os.cpu_count()} cores; the solver's limit is wall-clock, so workers beyond the cores "
        "still cut wall time while each search gets less CPU (compare assigned). Peak RSS: "
        "those processes together at their busiest / the largest one. CPU elsewhere: the "
        "machine's busy time outside the workers, the database server and this script, as a "
        "share of all cores over the run (far from 0: other work disturbed the run)."
        + _territory_note(dataset, args)
    )


def _territory_note(dataset: Dataset, args: argparse.Namespace) -> str:
    cut = [v for v in dataset.open_visits.values() if v > args.territory_visits]
    if not cut:
        return ""
    return (
        f" Regions over {args.territory_visits} open visits ({len(cut)}) are cut into "
        f"territories of at most about that many, each solved as a task of its own "
        f"({args.seconds} s limit) and assembled by its region's lead task; their region s "
        "is the assembly's, and regions per worker counts the leads."
    )


def _unreachable(args: argparse.Namespace) -> str | None:
    if args.backend == "postgresql" and (why := postgres_reachable()):
        return f"PostgreSQL not reachable ({why})"
    if why := redis_reachable(args.broker):
        return f"Redis not reachable at {args.broker} ({why})"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=10_000)
    parser.add_argument("--regions", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=SECONDS, help="limit per region")
    parser.add_argument("--workers", default="1,2", help="worker counts, one run each")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--broker", default=BROKER)
    parser.add_argument(
        "--territory-visits",
        type=int,
        default=1_000_000,
        help="cut regions with more open visits into territories (default: never)",
    )
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",") if w]
    if not counts or min(counts) < 1 or args.seconds < 1:
        parser.error("--workers needs counts of at least 1 and --seconds at least 1")
    if why := _unreachable(args):
        print(f"scale_out skipped: {why}")
        return 0
    from benchmarks.scale_data import loaded, scale_spec

    spec = scale_spec(args.visits, args.regions)
    print(f"{machine()}; generating {spec.requests} visits, {spec.technicians} technicians")
    with (
        tempfile.TemporaryDirectory() as scratch,
        loaded(args.backend, Path(scratch), spec) as data,
    ):
        print(
            f"generated in {data.generate_seconds:.1f} s, loaded in {data.load_seconds:.1f} s: "
            f"{sum(data.open_visits.values())} open visits on {data.day}",
            flush=True,
        )
        runs = [measure(count, data, args, Path(scratch)) for count in counts]
    table, regions, notes = report(runs, data, args)
    print(f"{table}\n\n{regions}\n\n{notes}")
    if args.record:
        append_results(
            f"Scale-out: all regions on Celery workers, {spec.requests} visits",
            " ".join(["python -m benchmarks.scale_out", *(argv or sys.argv[1:])]),
            f"{table}\n\n<details><summary>per region</summary>\n\n{regions}\n\n</details>",
            notes,
        )
    return 0 if all(run.status == "succeeded" for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
