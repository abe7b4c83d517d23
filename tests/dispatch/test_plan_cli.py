"""`dispatch plan` end to end on a seeded database: a stored draft, publishing, clear errors,
and a killed run that leaves the plan in force as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from dispatch import db
from dispatch.cli import app
from dispatch.seed.generator import generate
from dispatch.seed.spec import SeedSpec
from tests.conftest import new_database

runner = CliRunner()
# The seed's day 0 is the anchor: the Monday the data is loaded for.
ANCHOR = date(2026, 11, 30)


@pytest.fixture(scope="module")
def seeded_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("plan-cli")
    url, drop = new_database(backend, tmp)
    data = tmp / "seed"
    generate(SeedSpec(technicians=6, requests=60, regions=1, seed=11)).write(data)
    for args in (["db", "upgrade"], ["seed", "load", str(data), "--anchor", ANCHOR.isoformat()]):
        result = runner.invoke(app, ["--database-url", url, *args])
        assert result.exit_code == 0, result.output
    yield url
    drop()


def run(url: str, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["--database-url", url, *args])


def plans(url: str) -> list[tuple[int, str]]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return [
                (row.version, row.status)
                for row in connection.execute(
                    sa.text("SELECT version, status FROM plan ORDER BY id")
                )
            ]
    finally:
        engine.dispose()


def last_plan_id(url: str) -> int:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT max(id) FROM plan")).scalar_one()
    finally:
        engine.dispose()


def region_code(url: str) -> str:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SELECT code FROM region")).scalar_one()
    finally:
        engine.dispose()


def test_plan_stores_a_draft_and_prints_the_summary(seeded_url: str) -> None:
    region = region_code(seeded_url)
    result = run(
        seeded_url, "plan", "--region", region, "--date", ANCHOR.isoformat(), "--seconds", "2"
    )
    assert result.exit_code == 0, result.output
    assert "visits assigned" in result.output
    assert "utilisation per technician" in result.output
    assert plans(seeded_url)[-1][1] == "draft"


def test_publish_and_greedy(seeded_url: str) -> None:
    region = region_code(seeded_url)
    result = run(
        seeded_url, "plan", "--region", region, "--date", ANCHOR.isoformat(), "--days", "2",
        "--strategy", "greedy", "--publish",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "(published)" in result.output
    assert plans(seeded_url)[-1][1] == "published"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "30.11.2026"], "--date '30.11.2026' is not a date"),
        (["--date", "2026-11-30", "--region", "XX"], "--region 'XX' is not a known region"),
        (["--date", "2026-11-30", "--days", "40"], "--days 40 is outside 1..31"),
        (["--date", "2026-11-30", "--strategy", "magic"], "--strategy 'magic'"),
        (["--date", "2026-11-30", "--seconds", "0"], "--seconds 0.0 must be positive"),
    ],
)
def test_bad_options_are_named(seeded_url: str, args: list[str], message: str) -> None:
    result = run(seeded_url, "plan", *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_killed_run_leaves_the_plans_as_they_were(seeded_url: str, tmp_path: Path) -> None:
    region = region_code(seeded_url)
    before = plans(seeded_url)
    log = tmp_path / "plan.log"
    with log.open("w") as out:
        # Its own session, so that the solver's worker processes can be found by it.
        child = subprocess.Popen(
            [str(Path(sys.executable).parent / "dispatch"), "--database-url", seeded_url, "plan",
             "--region", region, "--date", ANCHOR.isoformat(), "--seconds", "60"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"},
            start_new_session=True,
        )  # fmt: skip
        # Killed while solving: the log shows the solve has started, and a worker with it.
        deadline = time.monotonic() + 60
        while "solving for up to" not in log.read_text() or not _session(child.pid) - {child.pid}:
            assert child.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    assert plans(seeded_url) == before
    # The workers end with the run instead of searching (or waiting) on for nobody.
    deadline = time.monotonic() + 15
    while _session(child.pid):
        assert time.monotonic() < deadline, f"orphaned workers: {_session(child.pid)}"
        time.sleep(0.2)


def _session(sid: int) -> set[int]:
    """Live processes of the session ``sid`` (Linux /proc)."""
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # After the command's closing parenthesis: state, ppid, pgrp, session, ...
            state, _, _, session = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:4]
        except (OSError, ValueError):
            continue
        if int(session) == sid and state != "Z":
            members.add(int(entry.name))
    return members


def test_publish_replan_and_eta_check(seeded_url: str) -> None:
    region = region_code(seeded_url)
    drafted = run(
        seeded_url, "plan", "--region", region, "--date", ANCHOR.isoformat(), "--seconds", "1"
    )
    assert drafted.exit_code == 0, drafted.output
    plan_id = last_plan_id(seeded_url)
    published = run(seeded_url, "publish", str(plan_id))
    assert published.exit_code == 0, published.output
    assert f"plan {plan_id} published" in published.output
    again = run(seeded_url, "publish", str(plan_id))
    assert again.exit_code == 2
    assert "only a draft can be published" in again.output
    # 11:00 on the plan's day in Moscow.
    at = f"{ANCHOR.isoformat()}T11:00:00+03:00"
    replanned = run(seeded_url, "replan", "--region", region, "--at", at, "--seconds", "1")
    assert replanned.exit_code == 0, replanned.output
    assert plans(seeded_url)[-1][1] == "published"
    checked = run(seeded_url, "eta", "check", "--at", f"{ANCHOR.isoformat()}T23:00:00+03:00")
    assert checked.exit_code == 0, checked.output
    assert "visit(s) late" in checked.output
    bad = run(seeded_url, "replan", "--region", region, "--at", "11:00")
    assert bad.exit_code == 2
    assert "--at '11:00'" in bad.output


def test_replan_needs_a_region_unless_watching(seeded_url: str) -> None:
    missing = run(seeded_url, "replan")
    assert missing.exit_code == 2
    assert "--region is needed" in missing.output
    watched = run(seeded_url, "replan", "--watch", "--rounds", "1", "--interval", "0")
    assert watched.exit_code == 0, watched.output
    assert "watching every region" in watched.output
    assert "0 re-plan(s)" in watched.output
