"""A bounded soak of the API server: a fixed-rate open-loop load mixing my day and tracking
links on uvicorn --workers 2 over PostgreSQL for a set time, in consecutive windows, with per
window the answers, errors, latency and resident memory of every server process and of the
database's backends; at the end, whether there were errors and whether memory stayed flat.

    python -m benchmarks.api_soak [--backend postgresql] [--minutes 10] [--rate 400]
        [--workers 2] [--window 30] [--warmup 60] [--record]

The parts are api_load's (demo data with a published day, sign-in, the endpoints' requests),
uvicorn_server's (the server and its processes) and loadgen's (the open loop, CPU accounting).
Each window is one open-loop run from a fresh load process: the server sees new client
connections every window, and the load pauses for the fraction of a second a load process
takes to start (reported). Memory is read from /proc/<pid>/status after each window: VmRSS
for the server's processes; for PostgreSQL's backends RssAnon, their private memory, since
their VmRSS also counts the shared buffers they have touched, which only grows towards
shared_buffers and is no leak. The verdict judges the server's processes; the backends' figures
are shown beside it. Exits 1 when a request failed or memory grew.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.api_load import MY_DAY, TRACK, endpoints, prepare, sign_in
from benchmarks.common import POSTGRES, append_results, database, markdown_table, postgres_reachable
from benchmarks.loadgen import Outcome, Target, drive
from benchmarks.uvicorn_server import (
    Server,
    database_backends,
    family,
    serve,
    server_flags,
    wait_for_quiet,
)

# Mixed my day and track cost about 2 ms of CPU per request on this 2-core machine (server,
# database and load generator together, see RESULTS.md), so the closed loop saturates around
# 1,000 requests/s: 400/s is a sustained load at about 40% of the machine, with room for the
# other work a shared machine runs, so that a queue building up means something.
DEFAULT_RATE = 400.0
# A server process whose fitted growth over the soak after warm-up stays under this is flat:
# the order of what a Python process's allocator drifts by, and under what a leak of 200 bytes
# per request would add at this rate (400/s x 9 min x 200 B = 41 MiB, 21 MiB per worker of 2).
FLAT_MIB = 10.0
# Tokens are signed once, before the soak: they must outlive it (the server's
# DISPATCH_ACCESS_TOKEN_MINUTES, 15 by default and at most 1440).
TOKEN_MARGIN_MINUTES = 10
MAX_TOKEN_MINUTES = 1440


def mixed(targets: dict[str, list[Target]]) -> list[Target]:
    """My day and track in turn, each rotating through all of its own requests."""
    days, links = targets[MY_DAY], targets[TRACK]
    return [
        target
        for i in range(max(len(days), len(links)))
        for target in (days[i % len(days)], links[i % len(links)])
    ]


def status_mib(pid: int, key: str) -> float | None:
    """A memory figure of /proc/<pid>/status (VmRSS, RssAnon...) in MiB; None once gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024  # the kernel counts in kB
    except OSError:
        return None
    return None


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@dataclass
class Window:
    index: int
    end: float  # seconds since the soak began
    outcome: Outcome
    paused: float  # seconds without load before this window: the load process starting
    rss: dict[str, float]  # server process label -> VmRSS, MiB
    backends: int  # the database's backends at the window's end
    connections: int | None  # connections opened to the database during the window
    backend_private_mib: float


class Watch:
    """The server's processes, named once (supervisor, worker 1, ...) so that a restarted
    worker shows as a new one rather than as a jump in an old one's memory; the database's
    backends, and the connections opened to it (PostgreSQL counts them in pg_stat_database:
    backends sampled between windows would miss those opened and closed within one)."""

    def __init__(
        self, root: int, database: str | None, sessions: Callable[[], int] | None = None
    ) -> None:
        self.root = root
        self.database = database
        self.count_sessions = sessions  # connections made to the database so far
        self.labels: dict[int, str] = {}
        self.sessions: int | None = None
        self.changes: list[str] = []

    def _label(self, pid: int) -> str:
        if pid == self.root:
            return "supervisor"
        # uvicorn's workers are spawned by multiprocessing, which may add its tracker.
        if "resource_tracker" in _command(pid):
            return "resource tracker"
        return f"worker {sum(label.startswith('worker') for label in self.labels.values()) + 1}"

    def sample(self) -> tuple[dict[str, float], int, int | None, float]:
        pids = sorted(family(self.root))
        if self.labels and set(pids) != set(self.labels):
            gone = [label for pid, label in self.labels.items() if pid not in pids]
            self.changes.append(f"{', '.join(gone) or 'none'} gone, {len(pids)} processes now")
        for pid in pids:
            if pid not in self.labels:
                self.labels[pid] = self._label(pid)
        rss = {self.labels[p]: mib for p in pids if (mib := status_mib(p, "VmRSS")) is not None}
        if not self.database or not self.count_sessions:
            return rss, 0, None, 0.0
        backends = database_backends(self.database)
        before, self.sessions = self.sessions, self.count_sessions()
        opened = self.sessions - before if before is not None else None
        private = sum(status_mib(pid, "RssAnon") or 0.0 for pid in backends)
        return rss, len(backends), opened, private


def soak(
    server: Server, targets: list[Target], args: argparse.Namespace, watch: Watch
) -> list[Window]:
    """Consecutive open-loop windows at ``args.rate`` until ``args.minutes`` are up."""
    spec = {
        "mode": "open",
        "database": watch.database,
        "rate": args.rate,
        "max_in_flight": args.max_in_flight,
        "timeout": args.timeout,
        "connections": args.connections,
    }
    watch.sample()  # names the processes while idle, counts connections so far
    total = args.minutes * 60
    windows: list[Window] = []
    began = time.monotonic()
    print(" | ".join(WINDOW_HEADER), flush=True)
    while (elapsed := time.monotonic() - began) < total - 1:
        seconds = min(args.window, total - elapsed)
        called = time.monotonic()
        outcome = drive(server, targets, seconds=seconds, **spec)
        paused = time.monotonic() - called - outcome.seconds
        rss, backends, opened, private = watch.sample()
        window = Window(
            len(windows) + 1, time.monotonic() - began, outcome, paused, rss, backends, opened,
            private,
        )  # fmt: skip
        windows.append(window)
        print(" | ".join(map(str, window_row(window, watch))), flush=True)
        if outcome.errors:
            print(f"  window {window.index}: statuses {outcome.statuses}", file=sys.stderr)
    return windows


WINDOW_HEADER = [
    "window", "end s", "requests", "200 answers/s", "errors", "p50 ms", "p99 ms",
    "server CPU ms/req", "postgres CPU ms/req", "other busy", "RSS MiB by process",
    "backends", "connections opened", "backends' private MiB",
]  # fmt: skip


def window_row(window: Window, watch: Watch) -> list[object]:
    outcome = window.outcome
    per_request = max(1, outcome.requests) / 1e3
    busy = outcome.other_cpu_seconds / max(1e-9, outcome.seconds * (os.cpu_count() or 1))
    return [
        window.index,
        f"{window.end:.0f}",
        outcome.requests,
        f"{outcome.rps:.0f}",
        outcome.errors,
        f"{outcome.percentile(0.5):.1f}",
        f"{outcome.percentile(0.99):.1f}",
        f"{outcome.server_cpu_seconds / per_request:.2f}",
        f"{outcome.database_cpu_seconds / per_request:.2f}" if watch.database else "-",
        f"{busy:.0%}",
        " / ".join(f"{mib:.0f}" for mib in window.rss.values()),
        window.backends if watch.database else "-",
        "-" if window.connections is None else window.connections,
        f"{window.backend_private_mib:.1f}" if watch.database else "-",
    ]


@dataclass
class Trend:
    name: str
    first: float
    settled: float  # at the first window after warm-up
    last: float
    slope: float | None  # MiB per 10 minutes, fitted over the windows after warm-up
    growth: float | None  # MiB, the fit's rise over those windows

    @property
    def verdict(self) -> str:
        if self.growth is None:
            return "too short to judge"
        return "flat" if self.growth < FLAT_MIB else "growing"


def trend(name: str, points: list[tuple[float, float]], warmup: float) -> Trend:
    """Memory over the soak: ``points`` are (seconds, MiB) at each window's end."""
    settled = [(t, mib) for t, mib in points if t > warmup]
    slope = growth = None
    # Three points at least: two always fit a line exactly, noise included.
    if len(settled) >= 3:
        times, values = zip(*settled, strict=True)
        per_second = statistics.linear_regression(times, values).slope
        slope, growth = per_second * 600, per_second * (times[-1] - times[0])
    after = settled[0][1] if settled else float("nan")
    return Trend(name, points[0][1], after, points[-1][1], slope, growth)


def trends(windows: list[Window], watch: Watch, warmup: float) -> list[Trend]:
    found = []
    for label in dict.fromkeys(label for w in windows for label in w.rss):
        points = [(w.end, w.rss[label]) for w in windows if label in w.rss]
        found.append(trend(label, points, warmup))
    if watch.database:
        points = [(w.end, w.backend_private_mib) for w in windows]
        found.append(trend("postgres backends, private (not judged)", points, warmup))
    return found


def shown(windows: list[Window], rows: int = 12) -> list[Window]:
    """About ``rows`` windows spread over the soak, the first and last included."""
    step = max(1, math.ceil(len(windows) / rows))
    picked = windows[::step]
    return picked if picked[-1] is windows[-1] else [*picked, windows[-1]]


def run(args: argparse.Namespace, tmp: Path) -> tuple[list[Window], Watch, str]:
    """The soak's windows, what watched the processes and a note on what was set up."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from dispatch import db
    from dispatch.settings import Settings

    # The servers started here inherit this process's environment: tokens signed before the
    # soak must still be valid at its end.
    token_minutes = math.ceil(args.minutes) + TOKEN_MARGIN_MINUTES
    os.environ["DISPATCH_ACCESS_TOKEN_MINUTES"] = str(token_minutes)
    pool = db.server_pool(Settings())
    with database(args.backend, tmp, prefix="soak") as url:
        fixture = prepare(url, plan_seconds=args.plan_seconds, links=args.links)
        with serve(url, tmp) as server:  # one process is plenty to sign in
            fixture.bearer = sign_in(server.base, fixture.technicians[: args.technicians])
        targets = mixed(endpoints(fixture))
        db_name = make_url(url).database if args.backend != "sqlite" else None
        # On the server's maintenance database, so that it does not count itself.
        admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")

        def sessions() -> int:
            with admin.connect() as connection:
                return connection.execute(
                    sa.text("SELECT sessions FROM pg_stat_database WHERE datname = :name"),
                    {"name": db_name},
                ).scalar_one()

        try:
            with serve(url, tmp, args.workers) as server:
                quiet = wait_for_quiet()
                watch = Watch(server.process.pid, db_name, sessions if db_name else None)
                windows = soak(server, targets, args, watch)
        finally:
            admin.dispose()
    flags = " ".join(server_flags()) or "default loop and parser"
    setup = (
        f"{args.backend}: demo data, day {fixture.day} of every region planned "
        f"({args.plan_seconds:g} s per region) and published; uvicorn --workers {args.workers} "
        f"({flags}, no access log) with the API's pool at {pool['pool_size']} + "
        f"{pool['max_overflow']} overflow connections per process; load: {args.rate:g} "
        f"requests/s on a fixed schedule, my day ({len(fixture.bearer)} technicians) and a "
        f"tracking link ({len(fixture.tracking_tokens)} links) in turn"
        + ("" if quiet else "; the machine was not quiet when the soak began")
        + f"; access tokens valid {token_minutes} minutes (DISPATCH_ACCESS_TOKEN_MINUTES)."
    )
    return windows, watch, setup


def report(
    windows: list[Window], watch: Watch, args: argparse.Namespace, setup: str
) -> tuple[str, str, bool]:
    """The soak's tables, its notes and whether it passed."""
    everything = Outcome(
        requests=sum(w.outcome.requests for w in windows),
        errors=sum(w.outcome.errors for w in windows),
        seconds=sum(w.outcome.seconds for w in windows),
        latencies_ms=[ms for w in windows for ms in w.outcome.latencies_ms],
        statuses=dict(sum((Counter(w.outcome.statuses) for w in windows), Counter())),
    )
    memory = trends(windows, watch, args.warmup)
    verdicts = {t.verdict for t in memory if "not judged" not in t.name}
    verdict = next(v for v in ("growing", "too short to judge", "flat") if v in verdicts)
    passed = everything.errors == 0 and verdict != "growing" and not watch.changes

    per_window = markdown_table(WINDOW_HEADER, [window_row(w, watch) for w in shown(windows)])
    memory_table = markdown_table(
        ["process", "RSS first window MiB", "after warm-up MiB", "last MiB",
         "growth after warm-up MiB (fit)", "slope MiB / 10 min", "verdict"],
        [
            [t.name, f"{t.first:.1f}", f"{t.settled:.1f}", f"{t.last:.1f}",
             "-" if t.growth is None else f"{t.growth:+.1f}",
             "-" if t.slope is None else f"{t.slope:+.1f}", t.verdict]
            for t in memory
        ],
    )  # fmt: skip
    errors = (
        "0 errors"
        if not everything.errors
        else f"{everything.errors} ERRORS ({everything.statuses})"
    )
    # The first requests of a fresh server (imports, caches, connections) are slow: the whole
    # soak's p99 includes them, this one shows the steady state.
    steady = [w.outcome for w in windows if w.end - w.outcome.seconds >= args.warmup]
    latencies = [ms for outcome in steady for ms in outcome.latencies_ms]
    settled = (
        f"{Outcome(len(latencies), 0, 1.0, latencies, {}).percentile(0.99):.1f} ms"
        if latencies
        else "-"
    )
    cores = os.cpu_count() or 1
    elsewhere = sum(w.outcome.other_cpu_seconds for w in windows) / (everything.seconds * cores)
    summary = (
        f"Soak: {everything.requests} requests in {len(windows)} windows over "
        f"{windows[-1].end / 60:.1f} minutes, {everything.rps:.0f} answers/s (target "
        f"{args.rate:g}/s); {errors}; latency over the whole soak p50 "
        f"{everything.percentile(0.5):.1f} ms, p99 {everything.percentile(0.99):.1f} ms, "
        f"max {max(everything.latencies_ms):.0f} ms; after warm-up p99 {settled}; other "
        f"processes took {elsewhere:.0%} of the machine; memory of the server's processes after "
        f"warm-up: {verdict} (each under {FLAT_MIB:g} MiB of fitted growth)"
        + (f"; server processes changed: {'; '.join(watch.changes)}" if watch.changes else "")
        + ("." if passed else ". FAILED.")
        + (
            " Memory means little when requests failed: a server behind its load holds the "
            "requests queued for it (and keeps serving those the client gave up on)."
            if everything.errors
            else ""
        )
    )
    notes = (
        f"{summary} {setup} Latency from the scheduled send, {args.connections} connections "
        f"and more when all are busy, up to {args.max_in_flight}; a request unanswered after "
        f"{args.timeout:g} s is an error. Windows of {args.window:g} s, each from a fresh load "
        f"process (load paused {sum(w.paused for w in windows):.1f} s in all between "
        f"windows); the first {args.warmup:g} s are warm-up, left out of the memory fit. RSS "
        f"by process: VmRSS of {' / '.join(windows[-1].rss)}"
        + (
            "; backends: PostgreSQL backends of the API's database at the window's end, their "
            "private memory RssAnon; connections opened: during the window "
            "(pg_stat_database.sessions), 0 when the pool keeps its connections"
            if watch.database
            else ""
        )
        + ". Other busy: CPU the rest of the machine took (other processes), of all cores."
    )
    return per_window + "\n\n" + memory_table, notes, passed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="requests/s")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--window", type=float, default=30.0, help="seconds per window")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds not fitted")
    parser.add_argument("--connections", type=int, default=32, help="opened before each window")
    parser.add_argument("--max-in-flight", type=int, default=256, help="connections at most")
    parser.add_argument("--timeout", type=float, default=2.0, help="per request, then an error")
    parser.add_argument("--technicians", type=int, default=8, help="signed-in technicians")
    parser.add_argument("--links", type=int, default=200, help="tracking links in rotation")
    parser.add_argument("--plan-seconds", type=float, default=2.0, help="solver limit per region")
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= MAX_TOKEN_MINUTES - TOKEN_MARGIN_MINUTES:
        parser.error(f"--minutes must be within (0, {MAX_TOKEN_MINUTES - TOKEN_MARGIN_MINUTES}]")
    if args.backend == "postgresql" and (why := postgres_reachable()):
        print(f"postgresql not reachable at {POSTGRES} ({why})", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        windows, watch, setup = run(args, Path(scratch))
    tables, notes, passed = report(windows, watch, args, setup)
    print(tables)
    print(notes)
    if args.record:
        append_results(
            "API soak: fixed rate, my day and tracking link, memory over time",
            " ".join(["python -m benchmarks.api_soak", *(argv or sys.argv[1:])]),
            tables,
            notes,
        )
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
