"""HTTP load on the API server over loopback, SQLite and PostgreSQL: the demo data with a
planned and published day, uvicorn (one process, or a supervisor and --workers processes
sharing the port), and a load generator in another process. Throughput (closed loop: a fixed
number of connections, each sending as soon as it has its answer) and latency at the issue's
target rate (open loop: requests sent on a fixed schedule, latency counted from the scheduled
send, so a slow server cannot hide its queue).

    python -m benchmarks.api_load [--backends sqlite,postgresql] [--workers 1] [--seconds 10]
        [--open-seconds 5] [--concurrency 32] [--rate 1000] [--retries 2] [--profile]
        [--no-record]

The load generator is raw asyncio (uvloop when installed), not an HTTP client library: the
load shares the machine with the server, and a client's CPU per request is taken from the
server. CPU per request is reported for uvicorn (all its processes), the load generator,
PostgreSQL and the rest of the machine; a run during which other processes were busy is
repeated.

A fresh server per endpoint; PostgreSQL is skipped with a message when it does not answer.
--profile adds, per database, each endpoint run in-process in one thread: time and SQL
statements per request, thread-pool calls a served request makes, and where the time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from benchmarks.common import POSTGRES, append_results, database, markdown_table, postgres_reachable
from benchmarks.loadgen import Outcome, Target, drive
from benchmarks.uvicorn_server import BUSY_ELSEWHERE, serve, server_flags, wait_for_quiet

# The database, the app and the solver are imported only where used: the command starts in a
# blink when it only prints its help.

DEMO = Path(__file__).resolve().parent.parent / "seed_data" / "default"
TIMEZONE = "Europe/Moscow"
TECHNICIAN_PASSWORD = "demo-technician-2026"  # noqa: S105  (published demo password, README)
TARGET_RPS = 1000.0
TARGET_P99_MS = 50.0
STACK = "GET /docs"
HEALTH = "GET /healthz"
MY_DAY = "GET /api/v1/me/day"
TRACK = "GET /api/v1/track/{token}"


# ---------------------------------------------------------------------------------------------
# The database: demo data, a published day, accounts and links to drive the load with
# ---------------------------------------------------------------------------------------------


@dataclass
class Fixture:
    """What the load uses: the day with stops, technicians' bearer tokens, tracking tokens."""

    day: date
    technicians: list[str]  # usernames of technicians with stops that day, most stops first
    stops: dict[str, int]
    tracking_tokens: list[str]
    bearer: list[str] = field(default_factory=list)
    setup_seconds: float = 0.0


def prepare(url: str, *, plan_seconds: float, links: int) -> Fixture:
    """Demo data (day 0 = the next working day), every region's day 0 planned and published,
    and tracking links for up to ``links`` of its scheduled visits."""
    from sqlmodel import col, func, select

    from dispatch import db, tracking
    from dispatch.models import Region, Technician, User, Visit, VisitStatus
    from dispatch.planning import plan_region, publish
    from dispatch.seed.loader import load_directory
    from routing import SolveParams

    started = time.perf_counter()
    engine = db.make_engine(url)
    try:
        with db.transaction(engine) as session:
            loaded = load_directory(session, DEMO, now=datetime.now(UTC), timezone=TIMEZONE)
        day = loaded.anchor
        with db.transaction(engine) as session:
            for region in session.exec(select(Region).order_by(Region.code)).all():
                planned = plan_region(
                    session, region, day, params=SolveParams(time_limit_seconds=plan_seconds)
                )
                publish(session, planned.plan)
        with db.transaction(engine) as session:
            scheduled = session.exec(
                select(Visit)
                .where(Visit.status == VisitStatus.scheduled)
                .order_by(Visit.planned_start, Visit.code)
                .limit(links)
            ).all()
            tokens = [tracking.issue(session, visit) for visit in scheduled]
            per_technician = session.exec(
                select(User.username, func.count(col(Visit.id)))
                .join(Technician, col(Technician.id) == User.technician_id)
                .join(Visit, col(Visit.technician_id) == Technician.id)
                .where(Visit.status == VisitStatus.scheduled)
                .group_by(User.username)
                .order_by(func.count(col(Visit.id)).desc(), User.username)
            ).all()
    finally:
        engine.dispose()
    if not tokens or not per_technician:
        raise SystemExit("the published day has no scheduled visits; nothing to load")
    return Fixture(
        day=day,
        technicians=[username for username, _ in per_technician],
        stops=dict(per_technician),
        tracking_tokens=tokens,
        setup_seconds=time.perf_counter() - started,
    )


def sign_in(base: str, usernames: list[str]) -> list[str]:
    """Access tokens of ``usernames`` through the API's own password flow."""
    tokens = []
    for username in usernames:
        body = f"username={username}&password={TECHNICIAN_PASSWORD}".encode()
        request = urllib.request.Request(f"{base}/api/v1/auth/token", data=body, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            tokens.append(json.loads(answer.read())["access_token"])
    return tokens


def endpoints(fixture: Fixture) -> dict[str, list[Target]]:
    """What each endpoint's load requests, in rotation: every signed-in technician's day,
    every tracking link."""
    day = f"/api/v1/me/day?date={fixture.day.isoformat()}"
    return {
        HEALTH: [("/healthz", {})],
        MY_DAY: [(day, {"Authorization": f"Bearer {t}"}) for t in fixture.bearer],
        TRACK: [(f"/api/v1/track/{t}", {}) for t in fixture.tracking_tokens],
    }


# ---------------------------------------------------------------------------------------------
# In-process profile of one endpoint: queries per request and the top costs
# ---------------------------------------------------------------------------------------------


# Where profiled time is spent, by the file's package (first match wins).
BUCKETS = (
    ("sqlite3 / psycopg (driver)", ("sqlite3", "psycopg")),
    ("sqlalchemy / sqlmodel", ("sqlalchemy", "sqlmodel")),
    ("pydantic", ("pydantic",)),
    ("jwt", ("/jwt/",)),
    ("fastapi / starlette", ("fastapi", "starlette")),
    ("our code (api, dispatch, schedules)", ("/api/", "/dispatch/", "/schedules/")),
    ("asyncio / anyio / stdlib", ("asyncio", "anyio", "/lib/python3")),
)


def _bucket(path: str) -> str:
    return next((name for name, keys in BUCKETS if any(k in path for k in keys)), "other")


async def _call(app, path: str, headers: dict[str, str]) -> int:  # type: ignore[no-untyped-def]
    """One GET through the ASGI app, without a server or an HTTP client."""
    route, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": route, "raw_path": route.encode(), "root_path": "",
        "query_string": query.encode(), "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80), "state": {},
        "headers": [(b"host", b"bench")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    status = 0

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def profile(url: str, fixture: Fixture, requests: int = 500, top: int = 12) -> str:
    """Each endpoint ``requests`` times through the ASGI app in-process, in one thread (sync
    routes and dependencies run inline instead of in the thread pool, so the profiler sees
    them): time per request, SQL statements per request, profiled time by package and the
    functions that take most of it."""
    import cProfile
    import io
    import pstats
    from unittest import mock

    import anyio.to_thread
    import sqlalchemy as sa

    from api.app import create_app
    from dispatch.settings import Settings

    hops: Counter = Counter()

    async def inline(func, *args, **_):  # type: ignore[no-untyped-def]
        hops[getattr(func, "__qualname__", repr(func))] += 1
        return func(*args)

    cases = {
        HEALTH: ("/healthz", {}),
        MY_DAY: (
            f"/api/v1/me/day?date={fixture.day.isoformat()}",
            {"Authorization": f"Bearer {fixture.bearer[0]}"},
        ),
        TRACK: (f"/api/v1/track/{fixture.tracking_tokens[0]}", {}),
    }
    out = io.StringIO()

    async def run() -> None:
        app = create_app(Settings(database_url=url))
        async with app.router.lifespan_context(app):
            statements: list[str] = []
            sa.event.listen(
                app.state.engine,
                "before_cursor_execute",
                lambda *a: statements.append(a[2].split()[0].upper()),
            )
            for name, (path, headers) in cases.items():
                for _ in range(50):
                    assert await _call(app, path, headers) == 200, name
                statements.clear()
                hops.clear()
                await _call(app, path, headers)
                queries = Counter(statements)
                threaded = sum(hops.values())
                began = time.perf_counter()
                for _ in range(requests):
                    await _call(app, path, headers)
                plain = (time.perf_counter() - began) / requests * 1000
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(requests):
                    await _call(app, path, headers)
                profiler.disable()
                stats = pstats.Stats(profiler)
                by_bucket: Counter = Counter()
                for (path_, _, _), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
                    by_bucket[_bucket(path_)] += own
                total = sum(by_bucket.values())
                print(
                    f"\n{name}: {plain:.2f} ms per request in-process, one thread, no "
                    f"profiler; {sum(queries.values())} SQL statements per request "
                    f"({', '.join(f'{k} {v}' for k, v in queries.items())}); {threaded} "
                    "calls a request makes to the thread pool when served",
                    file=out,
                )
                print("  profiled time by package, share and ms per request:", file=out)
                for bucket, own in by_bucket.most_common():
                    print(
                        f"    {bucket:40} {own / total:6.1%} {own / requests * 1000:6.3f}",
                        file=out,
                    )
                listing = io.StringIO()
                pstats.Stats(profiler, stream=listing).sort_stats("tottime").print_stats(top)
                body = listing.getvalue()
                print(body[body.find("   ncalls") :].rstrip(), file=out)

    with mock.patch.object(anyio.to_thread, "run_sync", inline):
        asyncio.run(run())
    return out.getvalue()


# ---------------------------------------------------------------------------------------------


def table_row(
    backend: str, workers: int, name: str, mode: str, outcome: Outcome, ceiling: float
) -> list:
    per_request = max(1, outcome.requests)
    return [
        backend,
        workers,
        name,
        mode,
        f"{outcome.rps:.0f}",
        f"{outcome.percentile(0.5):.1f}",
        f"{outcome.percentile(0.99):.1f}",
        outcome.errors,
        f"{outcome.rps / ceiling:.2f}" if ceiling and mode.startswith("closed") else "-",
        f"{outcome.server_cpu_seconds / per_request * 1e3:.2f}",
        f"{outcome.client_cpu_seconds / per_request * 1e3:.2f}",
        f"{outcome.database_cpu_seconds / per_request * 1e3:.2f}" if backend != "sqlite" else "-",
        f"{outcome.other_cpu_seconds / per_request * 1e3:.2f}",
    ]


def measure(backend: str, args: argparse.Namespace, tmp: Path) -> tuple[list[list], str, str]:
    """Table rows, a note and (with --profile) the profile of one backend."""
    from sqlalchemy.engine import make_url

    rows = []
    report = ""
    with database(backend, tmp, prefix="load") as url:
        fixture = prepare(url, plan_seconds=args.plan_seconds, links=args.links)
        with serve(url, tmp) as server:  # one process is plenty to sign in
            fixture.bearer = sign_in(server.base, fixture.technicians[: args.technicians])
        targets = endpoints(fixture)
        # PostgreSQL's CPU is counted for the API's database only (None: SQLite).
        db_name = make_url(url).database if backend != "sqlite" else None
        closed = {
            "mode": "closed",
            "concurrency": args.concurrency,
            "timeout": args.timeout,
            "database": db_name,
        }
        opened = {
            "mode": "open",
            "database": db_name,
            "rate": args.rate,
            "max_in_flight": args.max_in_flight,
            "timeout": args.timeout,
            "connections": args.concurrency,
        }
        if args.stack:
            # The HTTP stack alone: a small static page, no database, no thread pool.
            targets = {STACK: [("/docs", {})], **targets}
        ceiling = 0.0
        disturbed = 0  # runs during which other processes were busy
        for name, endpoint in targets.items():
            # A fresh server per endpoint: one that fell behind the open loop must not slow
            # down the next endpoint's measurement.
            with serve(url, tmp, args.workers) as server:
                drive(server, endpoint, seconds=args.warmup, **closed)
                runs = [(f"closed, {args.concurrency} conn", closed)]
                if name not in (STACK, HEALTH):
                    runs.append((f"open, {args.rate:g}/s", opened))
                for mode, spec in runs:
                    seconds = args.seconds if spec is closed else args.open_seconds
                    for attempt in range(args.retries + 1):
                        wait_for_quiet()
                        outcome = drive(server, endpoint, seconds=seconds, **spec)
                        cores = outcome.seconds * (os.cpu_count() or 1)
                        elsewhere = outcome.other_cpu_seconds / cores
                        if elsewhere <= BUSY_ELSEWHERE:
                            break
                        disturbed += 1
                        print(
                            f"  {name} {mode}: other processes took {elsewhere:.0%} of the "
                            + ("machine; repeating" if attempt < args.retries else "machine"),
                            file=sys.stderr,
                        )
                    if name == STACK:
                        ceiling = outcome.rps
                    rows.append(table_row(backend, args.workers, name, mode, outcome, ceiling))
                    print(" | ".join(map(str, rows[-1])), flush=True)
                    if outcome.errors:
                        print(f"  {name} {mode}: statuses {outcome.statuses}", file=sys.stderr)
        if args.profile:
            report = f"== {backend}\n" + profile(url, fixture)
    stops = [fixture.stops[t] for t in fixture.technicians[: args.technicians]]
    note = (
        f"{backend}: demo data, day {fixture.day} of every region planned "
        f"({args.plan_seconds:g} s per region) and published, setup {fixture.setup_seconds:.0f} "
        f"s; my day rotates {len(fixture.bearer)} technicians with {min(stops)}-{max(stops)} "
        f"stops; track rotates {len(fixture.tracking_tokens)} links; runs during which other "
        f"processes took over {BUSY_ELSEWHERE:.0%} of the machine were repeated (up to "
        f"{args.retries} times): {disturbed} such runs."
    )
    return rows, note, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--seconds", type=float, default=10.0, help="per closed-loop run")
    parser.add_argument("--open-seconds", type=float, default=5.0, help="per open-loop run")
    parser.add_argument("--warmup", type=float, default=2.0, help="per endpoint, not measured")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--retries", type=int, default=2, help="repeats of a run disturbed by other processes"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="closed-loop connections")
    parser.add_argument("--rate", type=float, default=TARGET_RPS, help="open-loop requests/s")
    parser.add_argument("--max-in-flight", type=int, default=256, help="open-loop connections")
    parser.add_argument("--timeout", type=float, default=2.0, help="per request, then an error")
    parser.add_argument("--technicians", type=int, default=8, help="signed-in technicians")
    parser.add_argument("--links", type=int, default=200, help="tracking links in rotation")
    parser.add_argument("--plan-seconds", type=float, default=2.0, help="solver limit per region")
    parser.add_argument("--profile", action="store_true", help="also cProfile in-process")
    parser.add_argument(
        "--no-stack", dest="stack", action="store_false", help=f"skip {STACK} (no database)"
    )
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)

    rows: list[list] = []
    notes: list[str] = []
    profiles: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        for backend in [b for b in args.backends.split(",") if b]:
            if backend == "postgresql" and (why := postgres_reachable()):
                message = f"postgresql skipped: not reachable at {POSTGRES} ({why})"
                print(message, file=sys.stderr)
                notes.append(message + ".")
                continue
            found, note, report = measure(backend, args, Path(scratch))
            rows += found
            notes.append(note)
            profiles.append(report)
    header = [
        "database", "uvicorn workers", "endpoint", "load", "200 answers/s", "p50 ms", "p99 ms",
        "errors", "x ceiling", "server CPU ms/req", "client CPU ms/req", "postgres CPU ms/req",
        "other CPU ms/req",
    ]  # fmt: skip
    table = markdown_table(header, rows)
    flags = " ".join(server_flags()) or "default loop and parser"
    processes = (
        "one uvicorn process"
        if args.workers == 1
        else f"uvicorn --workers {args.workers} (a supervisor and {args.workers} worker "
        "processes sharing the port)"
    )
    client_loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    notes.append(
        f"Server: {processes} ({flags}, no access log) on 127.0.0.1. Load generator: raw "
        f"asyncio on {client_loop} (one asyncio.Protocol per keep-alive HTTP/1.1 connection, "
        "prebuilt requests, status line and Content-Length read) in another process, on the "
        f"same {os.cpu_count()} cores. Closed "
        f"loop: {args.concurrency} connections each sending as soon as answered, "
        f"{args.seconds:g} s after {args.warmup:g} s of warm-up; x ceiling is throughput over "
        f"that of {STACK}, the trivial endpoint (a FastAPI route answering a fixed page: no "
        f"database, no thread pool), what the HTTP stack alone can do; {HEALTH} (a plain "
        "route in the thread pool, two small queries) for comparison. Open loop: "
        f"{args.rate:g} requests/s on a fixed schedule for {args.open_seconds:g} s, latency "
        f"from the scheduled send (queueing included), {args.concurrency} connections and "
        f"more when all are busy, up to {args.max_in_flight}. Connections are opened 2 ms apart "
        "before the clock starts (a burst of connects lands on one worker); a request "
        f"unanswered after {args.timeout:g} s is an error. "
        f"Target: >= {TARGET_RPS:g} requests/s with p99 <= {TARGET_P99_MS:g} ms for my day "
        "and track. CPU ms/req: CPU time over the run divided by requests, server: uvicorn and "
        "all its processes, client: the load process, postgres: the database server's "
        "processes, other: the rest of the machine's busy time (other processes, interrupts; "
        "near 0 when nothing else runs)."
    )
    print(table)
    print("\n".join(notes))
    for report in profiles:
        print(report)
    if not args.no_record and rows:
        append_results(
            "API under HTTP load (my day, tracking link)",
            " ".join(["python -m benchmarks.api_load", *(argv or sys.argv[1:])]),
            table,
            " ".join(notes),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
