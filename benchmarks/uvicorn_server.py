"""The API server for load benchmarks: uvicorn on a free loopback port (one process, or a
supervisor and N workers), its CPU time over all its processes, PostgreSQL's and the rest of
the machine's."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# The machine may be shared: a run during which other processes took more than this share of
# it is repeated once the machine is quiet again (up to --retries times).
BUSY_ELSEWHERE = 0.10


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_flags() -> list[str]:
    """uvloop and httptools when installed (uvicorn[standard] brings both)."""
    flags = []
    if importlib.util.find_spec("uvloop"):
        flags += ["--loop", "uvloop"]
    if importlib.util.find_spec("httptools"):
        flags += ["--http", "httptools"]
    return flags


def _stat(pid: int) -> tuple[str, list[str]] | None:
    """The command name and /proc/<pid>/stat from the state on (field 3), or None once the
    process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces, hence the split at the last ")".
    head, _, rest = text.rpartition(")")
    return head.partition("(")[2], rest.split()


def _processes() -> dict[int, tuple[str, list[str]]]:
    # /proc/<pid>/task/*/children needs a kernel option that is often off: scan /proc instead.
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))):
            found[int(entry.name)] = stat
    return found


def family(
    root: int, processes: dict[int, tuple[str, list[str]]] | None = None
) -> dict[int, list[str]]:
    """``root`` and all its descendants: pid to /proc stat fields."""
    processes = processes if processes is not None else _processes()
    children: dict[int, list[int]] = {}
    for pid, (_, fields) in processes.items():
        children.setdefault(int(fields[1]), []).append(pid)
    family: dict[int, list[str]] = {}
    pending = [root]
    while pending:
        pid = pending.pop()
        if pid in processes:
            family[pid] = processes[pid][1]
            pending += children.get(pid, [])
    return family


def _cpu_ticks(fields: list[str]) -> int:
    """User + system time, with that of children already reaped (cutime, cstime): a worker
    that exits mid-run moves its time to its parent instead of taking it away."""
    return sum(int(fields[i]) for i in (11, 12, 13, 14))


def backend_database(pid: int) -> str | None:
    """The database a PostgreSQL backend serves ("postgres: 15/main: user db host state");
    None for the postmaster, the server's own helpers and any other process."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return None
    words = title.split(": ", 2)[-1].split() if title.startswith("postgres: ") else []
    return words[1] if len(words) > 2 else None


def database_backends(database: str) -> list[int]:
    """Pids of the local PostgreSQL server's backends serving ``database`` now."""
    return sorted(
        pid
        for pid, (name, _) in _processes().items()
        if name == "postgres" and backend_database(pid) == database
    )


def _serves_other_database(pid: int, database: str) -> bool:
    """A PostgreSQL backend of another database: someone else's work. The postmaster and the
    server's own helpers count as ours."""
    served = backend_database(pid)
    return served is not None and served != database


def cpu_snapshot(server_pid: int, database: str | None) -> tuple[float, float, float]:
    """CPU seconds so far: uvicorn and every process under it; the local PostgreSQL server
    (with ``database`` the one the API uses, less other databases' backends; backends that
    have exited are in the postmaster's cutime, whoever used them); the whole machine (all
    time not idle)."""
    processes = _processes()
    server = sum(_cpu_ticks(fields) for fields in family(server_pid, processes).values())
    database_ticks = 0
    if database:
        for pid, (name, fields) in processes.items():
            if name == "postgres" and not _serves_other_database(pid, database):
                database_ticks += _cpu_ticks(fields)
    tick = os.sysconf("SC_CLK_TCK")
    return server / tick, database_ticks / tick, _machine_ticks()[0] / tick


def _machine_ticks() -> tuple[int, int]:
    """Busy (neither idle nor waiting for I/O) and all CPU time of the machine so far."""
    times = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(times) - times[3] - times[4], sum(times)


def wait_for_quiet(limit: float = 60.0) -> bool:
    """Until the machine (our idle server included) is idle but for BUSY_ELSEWHERE over a
    second; False when it is not within ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        busy, total = _machine_ticks()
        time.sleep(1)
        busy_after, total_after = _machine_ticks()
        if busy_after - busy <= BUSY_ELSEWHERE * max(1, total_after - total):
            return True
    return False


@dataclass
class Server:
    process: subprocess.Popen
    base: str
    log: Path
    workers: int

    def started_workers(self) -> int:
        return self.log.read_text(errors="replace").count("Application startup complete.")


@contextmanager
def serve(url: str, tmp: Path, workers: int = 1) -> Iterator[Server]:
    """uvicorn with ``workers`` processes (with more than one, a supervisor forks them and
    they share the listening socket), yielded once every worker has started and it answers;
    afterwards it and all its workers are gone."""
    port = free_port()
    log = tmp / f"uvicorn-{port}.log"
    env = {**os.environ, "DISPATCH_DATABASE_URL": url, "DISPATCH_LOG_LEVEL": "warning"}
    # --log-level info for the one "Application startup complete." line per worker; without
    # the access log nothing is logged per request.
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app_from_env",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "info", "--timeout-graceful-shutdown", "1",
        *server_flags(),
    ]  # fmt: skip
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
            command, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    server = Server(process, f"http://127.0.0.1:{port}", log, workers)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"uvicorn exited with {process.returncode}:\n{log.read_text()}")
            # /healthz answers as soon as the first worker is up: a run must not start while
            # another is still importing the app, or that one's share would land on the rest.
            if server.started_workers() >= workers:
                try:
                    with urllib.request.urlopen(f"{server.base}/healthz", timeout=2) as answer:  # noqa: S310
                        if answer.status == 200:
                            break
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise SystemExit(f"uvicorn did not answer in 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        yield server
    finally:
        started_at = {pid: fields[19] for pid, fields in family(process.pid).items()}
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # A supervisor that had to be killed leaves its workers running: end those left, each
        # by its pid, checking the start time so that a reused pid is left alone.
        for pid, started in started_at.items():
            stat = _stat(pid) if pid != process.pid else None
            if stat and stat[1][19] == started and stat[1][0] != "Z":
                os.kill(pid, signal.SIGKILL)
