"""Seed fixtures: a small generated data set on disk, and a helper to break it on purpose."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dispatch.seed.generator import generate
from dispatch.seed.spec import SeedSpec

SMALL = SeedSpec(technicians=6, requests=24, sites=10, contracts=12, regions=2, days=3, seed=11)


@pytest.fixture
def small_seed(tmp_path: Path) -> Path:
    """A small data set; of the demo accounts only the administrator's, since every distinct
    password costs an argon2 hash (~0.2 s) per load."""
    directory = tmp_path / "seed"
    generate(SMALL).write(directory)
    users = read_rows(directory / "users.csv")
    write_rows(directory / "users.csv", [u for u in users if u["role"] == "admin"])
    return directory


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> None:
    columns = columns or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def set_cell(directory: Path, file: str, index: int, column: str, value: str) -> int:
    """Change one cell (``index`` counts data rows from 0); returns its spreadsheet row."""
    path = directory / file
    rows = read_rows(path)
    rows[index][column] = value
    write_rows(path, rows)
    return index + 2
