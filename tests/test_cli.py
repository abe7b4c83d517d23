"""The `dispatch` command line: migrations, seed generation and loading, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from dispatch import db
from dispatch.cli import app
from dispatch.seed.rows import ROW_TYPES
from tests.dispatch.seed.conftest import set_cell

runner = CliRunner()


def _run(*args: str, url: str | None = None) -> object:
    prefix = ["--database-url", url] if url else []
    return runner.invoke(app, [*prefix, *args])


def _total_rows(url: str) -> int:
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            tables = [t for t in sa.inspect(connection).get_table_names() if t != "alembic_version"]
            return sum(
                connection.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                for t in tables
            )
    finally:
        engine.dispose()


@pytest.fixture
def migrated_url(empty_database_url: str) -> str:
    result = _run("db", "upgrade", url=empty_database_url)
    assert result.exit_code == 0, result.output
    return empty_database_url


def test_db_upgrade_then_current_shows_the_head(migrated_url: str) -> None:
    result = _run("db", "current", url=migrated_url)
    assert result.exit_code == 0
    assert f"database: {db.head_revision()}" in result.output


def test_seed_generate_writes_every_file(tmp_path: Path) -> None:
    result = _run(
        "seed", "generate", "--out", str(tmp_path), "--technicians", "6", "--requests", "20",
        "--regions", "2", "--seed", "5",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(t.FILE for t in ROW_TYPES)


def test_seed_generate_names_an_impossible_parameter(tmp_path: Path) -> None:
    result = _run("seed", "generate", "--out", str(tmp_path), "--regions", "11")
    assert result.exit_code == 2
    assert "regions=11 is outside 1..10" in result.output


def test_seed_load_commits_everything(migrated_url: str, tmp_path: Path) -> None:
    _run("seed", "generate", "--out", str(tmp_path), "--technicians", "4", "--requests", "8",
         "--regions", "2", "--contracts", "12")  # fmt: skip
    result = _run("seed", "load", str(tmp_path), "--anchor", "2026-11-30", url=migrated_url)
    assert result.exit_code == 0, result.output
    assert "day 0 = 2026-11-30" in result.output
    assert _total_rows(migrated_url) > 0


def test_failed_seed_load_writes_nothing(migrated_url: str, tmp_path: Path) -> None:
    _run("seed", "generate", "--out", str(tmp_path), "--technicians", "4", "--requests", "8",
         "--regions", "2", "--contracts", "12")  # fmt: skip
    # The last file fails, after every other file has been inserted.
    row = set_cell(tmp_path, "visit_windows.csv", 0, "starts", "25:00")
    result = _run("seed", "load", str(tmp_path), url=migrated_url)
    assert result.exit_code == 1
    assert f"visit_windows.csv, row {row}, field 'starts' (value '25:00')" in result.output
    assert "nothing was written" in result.output
    assert _total_rows(migrated_url) == 0


def test_seed_load_refuses_a_bad_anchor(tmp_path: Path) -> None:
    result = _run("seed", "load", str(tmp_path), "--anchor", "tomorrow")
    assert result.exit_code == 2
    assert "--anchor 'tomorrow'" in result.output


def test_misconfiguration_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_ENVIRONMENT", "production")
    monkeypatch.delenv("DISPATCH_SECRET_KEY", raising=False)
    result = _run("db", "current")
    assert result.exit_code == 2
    assert "DISPATCH_SECRET_KEY" in result.output
