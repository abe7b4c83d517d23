"""What every benchmark shares: where it ran, a fresh database to run on, and appending a
result section to RESULTS.md."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
POSTGRES = os.environ.get(
    "DISPATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _git(*args: str) -> str:
    return subprocess.run(  # noqa: S603  (a fixed git command)
        ["git", *args],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    ).stdout.strip()


def commit() -> str:
    """The commit measured, marked when tracked files differ from it."""
    try:
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        return _git("rev-parse", "--short", "HEAD") + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children, in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def append_results(title: str, command: str, table_markdown: str, notes: str = "") -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"\n## {title}\n\n{stamp}; commit {commit()}; {machine()}\n\n"
        f"`{command}`\n\n{table_markdown}\n"
    )
    if notes:
        section += f"\n{notes}\n"
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nAppended by the scripts in this folder.\n")
    with RESULTS.open("a") as handle:
        handle.write(section)


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def postgres_reachable() -> str | None:
    """None when the server answers, else why not."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        return str(exc.orig).strip().splitlines()[0]
    finally:
        admin.dispose()
    return None


@contextmanager
def database(backend: str, tmp: Path, prefix: str = "bench") -> Iterator[str]:
    """A fresh, migrated database of ``backend`` (SQLite: a file in ``tmp``; PostgreSQL: one
    named dispatch_<prefix>_..., on the test server); dropped afterwards."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from dispatch import db

    if backend == "sqlite":
        url = f"sqlite:///{tmp / f'{uuid.uuid4().hex}.db'}"
        db.upgrade(url)
        yield url
        return
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    name = f"dispatch_{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    try:
        db.upgrade(url)
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
