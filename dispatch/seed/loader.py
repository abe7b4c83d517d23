"""Loads a seed directory into the database in one transaction, or reports every problem found
(file, row, field, value) and writes nothing."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from dispatch.seed import resolve
from dispatch.seed.context import Context
from dispatch.seed.rows import (
    ROW_TYPES,
    FieldRuleError,
    HolidayRow,
    SeedRow,
    VisitRow,
    VisitWindowRow,
)
from schedules.calendars import next_working_day

MAX_REPORTED = 50


@dataclass(frozen=True)
class SeedIssue:
    """One problem: where it is (file, spreadsheet row with the header as row 1, column) and
    what is wrong."""

    file: str
    row: int | None
    field: str | None
    value: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.field:
            where += f", field {self.field!r}"
        if self.value not in (None, ""):
            where += f" (value {self.value!r})"
        return f"{where}: {self.message}"


class SeedLoadError(Exception):
    """The seed directory was rejected; nothing was written."""

    def __init__(self, issues: list[SeedIssue]) -> None:
        self.issues = issues
        shown = "\n".join(f"  - {issue}" for issue in issues[:MAX_REPORTED])
        more = len(issues) - MAX_REPORTED
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(
            f"seed data rejected ({len(issues)} problem(s)); nothing was written:\n{shown}{tail}"
        )


@dataclass
class ParsedFile:
    """A file's rows that passed validation, with their spreadsheet row numbers."""

    rows: list[tuple[int, SeedRow]] = field(default_factory=list)
    # Codes of rows that failed validation: references to them are not reported twice.
    broken_keys: set[str] = field(default_factory=set)


@dataclass
class LoadSummary:
    anchor: date
    counts: dict[str, int]


def read_directory(directory: Path) -> tuple[dict[type[SeedRow], ParsedFile], list[SeedIssue]]:
    """Parse and validate every seed file of ``directory`` (no database involved)."""
    parsed: dict[type[SeedRow], ParsedFile] = {}
    issues: list[SeedIssue] = []
    if not directory.is_dir():
        issues.append(SeedIssue(str(directory), None, None, None, "is not a directory"))
        return parsed, issues
    known = {row_type.FILE for row_type in ROW_TYPES}
    present = {path.name for path in directory.glob("*.csv")}
    for name in sorted(present - known):
        issues.append(
            SeedIssue(name, None, None, None, f"is not a seed file; expected {sorted(known)}")
        )
    if not present & known:
        issues.append(SeedIssue(str(directory), None, None, None, "holds no seed file"))
    for row_type in ROW_TYPES:
        parsed[row_type] = _read_file(directory / row_type.FILE, row_type, issues)
    return parsed, issues


def _read_file(path: Path, row_type: type[SeedRow], issues: list[SeedIssue]) -> ParsedFile:
    result = ParsedFile()
    name = row_type.FILE
    if not path.exists():  # every file is optional: a missing one loads nothing
        return result
    try:
        # utf-8-sig: spreadsheet programs often prepend a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            if not _header_ok(name, header, row_type, issues):
                return result
            for index, raw in enumerate(reader):
                _read_row(name, index + 2, raw, row_type, result, issues)
    except (UnicodeDecodeError, csv.Error) as exc:
        issues.append(SeedIssue(name, None, None, None, f"cannot be read as UTF-8 CSV: {exc}"))
    return result


def _header_ok(
    name: str, header: list[str], row_type: type[SeedRow], issues: list[SeedIssue]
) -> bool:
    known = set(row_type.columns())
    required = {n for n, f in row_type.model_fields.items() if f.is_required()}
    before = len(issues)
    for column in header:
        if column not in known:
            issues.append(
                SeedIssue(name, 1, column, None, f"unknown column; expected {sorted(known)}")
            )
    for column in sorted(required - set(header)):
        issues.append(SeedIssue(name, 1, column, None, "required column is missing"))
    return len(issues) == before


def _read_row(
    name: str,
    number: int,
    raw: dict[str | None, Any],
    row_type: type[SeedRow],
    result: ParsedFile,
    issues: list[SeedIssue],
) -> None:
    if None in raw:
        issues.append(SeedIssue(name, number, None, None, "the row has more cells than columns"))
        return
    try:
        result.rows.append((number, row_type.model_validate(raw)))
    except ValidationError as exc:
        for error in exc.errors():
            column = str(error["loc"][0]) if error["loc"] else None
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, FieldRuleError):
                column = cause.field
            message = error["msg"].removeprefix("Value error, ")
            issues.append(SeedIssue(name, number, column, raw.get(column), message))
        for key in ("code", "username"):
            if raw.get(key):
                result.broken_keys.add(str(raw[key]).strip())


def load_directory(
    session: Session,
    directory: Path,
    *,
    anchor: date | None = None,
    now: datetime,
    timezone: str,
    progress: Callable[[str], None] | None = None,
) -> LoadSummary:
    """Validate and load ``directory`` through ``session`` (flushes, never commits: the caller
    owns the transaction). Raises SeedLoadError listing every problem; the caller then rolls
    back, so nothing is written. ``progress`` hears each file's name as its loading starts."""
    parsed, issues = read_directory(directory)
    if issues:
        raise SeedLoadError(issues)
    if anchor is None:
        holidays = {r.date for _, r in parsed[HolidayRow].rows}  # type: ignore[attr-defined]
        anchor = next_working_day(now.astimezone(ZoneInfo(timezone)).date(), holidays)
    writer = _Writer(session, parsed, anchor=anchor, now=now, progress=progress)
    writer.run()
    if writer.issues:
        raise SeedLoadError(writer.issues)
    return LoadSummary(anchor=anchor, counts=writer.counts)


class _Writer:
    """Inserts file after file, resolving codes to ids and relative days to dates."""

    def __init__(
        self,
        session: Session,
        parsed: dict[type[SeedRow], ParsedFile],
        *,
        anchor: date,
        now: datetime,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.progress = progress or (lambda _file: None)
        self.session = session
        self.parsed = parsed
        self.issues: list[SeedIssue] = []
        self.counts: dict[str, int] = {}
        self.ctx = Context(session=session, anchor=anchor, now=now, report=self.report)
        self.file = ""
        self.row = 0

    def report(self, column: str | None, value: Any, message: str) -> None:
        shown = None if value is None else str(value)
        self.issues.append(SeedIssue(self.file, self.row, column, shown, message))

    def run(self) -> None:
        self.ctx.broken = {t: set(p.broken_keys) for t, p in self.parsed.items()}
        for row_type, build in resolve.BUILDERS.items():
            self.file = row_type.FILE
            self.progress(self.file)
            built: list[tuple[int, SeedRow, Callable[[], SQLModel]]] = []
            for number, row in self.parsed[row_type].rows:
                self.row = number
                factory = build(self.ctx, row, number)
                if factory is None:
                    self.ctx.mark_broken(row)
                else:
                    built.append((number, row, factory))
            self._insert(row_type, built)
            self.counts[self.file] = len(self.parsed[row_type].rows)
        self._every_visit_has_a_window()

    def _every_visit_has_a_window(self) -> None:
        with_window = {key[0] for key in self.ctx.seen.get(VisitWindowRow, {})}
        self.file = VisitRow.FILE
        for (code,), number in self.ctx.seen.get(VisitRow, {}).items():
            if code not in with_window:
                self.row = number
                self.report("code", code, f"has no time window in {VisitWindowRow.FILE}")

    def _insert(
        self, row_type: type[SeedRow], built: list[tuple[int, SeedRow, Callable[[], SQLModel]]]
    ) -> None:
        """Insert a file's rows in one batch; if the database refuses it, retry row by row to
        name each refused row."""
        objects = [factory() for _, _, factory in built]
        try:
            with self.session.begin_nested():
                self.session.add_all(objects)
                self.session.flush()
        except IntegrityError:
            objects = self._insert_one_by_one(built)
        for (_, row, _), obj in zip(built, objects, strict=True):
            if obj is None:
                self.ctx.mark_broken(row)
            else:
                self.ctx.remember(row, obj)

    def _insert_one_by_one(
        self, built: list[tuple[int, SeedRow, Callable[[], SQLModel]]]
    ) -> list[SQLModel | None]:
        stored: list[SQLModel | None] = []
        for number, _, factory in built:
            obj = factory()
            try:
                with self.session.begin_nested():
                    self.session.add(obj)
                    self.session.flush()
            except IntegrityError as exc:
                self.row = number
                self.report(*_explain(obj, exc))
                stored.append(None)
            else:
                stored.append(obj)
        return stored


def _explain(obj: SQLModel, exc: IntegrityError) -> tuple[str | None, Any, str]:
    """Turn a refused insert into (column, value, message) using the constraint's name."""
    table: sa.Table = obj.__table__  # type: ignore[attr-defined]
    text = str(exc.orig)
    name = getattr(getattr(exc.orig, "diag", None), "constraint_name", None)
    if name is None:
        found = re.search(r"constraint failed: (\w+)", text)
        name = found.group(1) if found else None
    for constraint in table.constraints:
        if name and constraint.name == name:
            columns = [c.name for c in constraint.columns] if hasattr(constraint, "columns") else []
            rule = getattr(constraint, "sqltext", None)
            column = columns[0] if columns else None
            detail = f"breaks the rule {name}" + (f" ({rule})" if rule is not None else "")
            return column, getattr(obj, column, None) if column else None, detail
    return None, None, f"refused by the database: {text.splitlines()[0]}"


def count_rows(session: Session, models: Iterable[type[SQLModel]]) -> dict[str, int]:
    return {
        m.__tablename__: session.exec(select(sa.func.count()).select_from(m)).one()  # type: ignore[attr-defined]
        for m in models
    }
