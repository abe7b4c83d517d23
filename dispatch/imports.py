"""CSV imports of technicians, sites and service requests: every row is checked with the same
rules as a single create, and either all rows are written or none, each failing row named."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import (
    AwareDatetime,
    BeforeValidator,
    StringConstraints,
    ValidationError,
    field_validator,
)
from sqlmodel import Session

from dispatch import catalogue, inputs, intake
from dispatch.models import Channel, Urgency
from dispatch.seed.rows import (
    Code,
    Email,
    FieldRuleError,
    Level,
    Phone,
    SeedRow,
    SiteRow,
    TechnicianRow,
)
from schedules.errors import DomainError, InvalidError, TooLargeError

# The largest amount an integer column holds on PostgreSQL.
MAX_CENTS = 2**31 - 1
YEARS = range(1970, 9999)


class Kind(StrEnum):
    technicians = "technicians"
    sites = "sites"
    requests = "requests"


def _skills(value: Any) -> Any:
    """``network:3;printers:2`` as {"network": 3, "printers": 2}; levels are checked after."""
    if not isinstance(value, str):
        return value
    found: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in value.split(";"))):
        code, colon, level = (piece.strip() for piece in pair.partition(":"))
        if not colon or not code or not level:
            raise ValueError(f"{pair!r} is not a skill and level like network:3")
        if code in found:
            raise ValueError(f"skill {code!r} is given twice")
        found[code] = level
    return found


class TechnicianImport(TechnicianRow):
    skills: Annotated[dict[str, Level], BeforeValidator(_skills)] = {}

    @field_validator("hourly_cost")
    @classmethod
    def _fits_the_column(cls, cents: int) -> int:
        # PostgreSQL's integer column would refuse more; SQLite would silently take it.
        if cents > MAX_CENTS:
            raise ValueError(f"hourly_cost is over {MAX_CENTS // 100}.{MAX_CENTS % 100:02d}")
        return cents


class RequestImport(SeedRow):
    customer: Code
    contract: Code
    site: Code
    channel: Channel
    urgency: Urgency = Urgency.normal
    contact_name: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    contact_phone: Phone | None = None
    contact_email: Email | None = None
    description: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    registered_at: AwareDatetime | None = None

    @field_validator("registered_at")
    @classmethod
    def _in_reach(cls, at: datetime | None) -> datetime | None:
        # Converting year 1 or 9999 to UTC can leave the calendar; no real request is there.
        if at is not None and at.year not in YEARS:
            raise ValueError(f"registered_at is outside the years {YEARS.start}..{YEARS.stop - 1}")
        return at


def _technician(session: Session, row: TechnicianImport) -> str:
    return catalogue.create_technician(
        session,
        code=row.code,
        name=row.name,
        region_code=row.region,
        home_lat=row.home_lat,
        home_lon=row.home_lon,
        email=row.email,
        phone=row.phone,
        home_address=row.home_address,
        max_work_minutes=row.max_work_minutes,
        hourly_cost_cents=row.hourly_cost,
        skills=row.skills,
        active=row.active,
    ).code


def _site(session: Session, row: SiteRow) -> str:
    return catalogue.create_site(
        session,
        code=row.code,
        customer_code=row.customer,
        region_code=row.region,
        name=row.name,
        address=row.address,
        lat=row.lat,
        lon=row.lon,
        contact_name=row.contact_name,
        contact_phone=row.contact_phone,
        access_notes=row.access_notes,
    ).code


def _request(session: Session, row: RequestImport) -> str:
    return intake.register_request(
        session,
        customer_code=row.customer,
        contract_code=row.contract,
        site_code=row.site,
        channel=row.channel,
        urgency=row.urgency,
        contact_name=row.contact_name,
        contact_phone=row.contact_phone,
        contact_email=row.contact_email,
        description=row.description,
        registered_at=row.registered_at,
    ).code


@dataclass(frozen=True, slots=True)
class Format:
    row: type[SeedRow]
    create: Callable[[Session, Any], str]
    # The column whose values must be unique within the file; None: rows get new codes.
    key: str | None


FORMATS: dict[Kind, Format] = {
    Kind.technicians: Format(TechnicianImport, _technician, "code"),
    Kind.sites: Format(SiteRow, _site, "code"),
    Kind.requests: Format(RequestImport, _request, None),
}
# Service fields that are not the CSV's column names.
COLUMN_OF = {"hourly_cost_cents": "hourly_cost"}


def columns(kind: Kind) -> tuple[list[str], list[str]]:
    """The required and the optional columns of a kind's file, in the documented order."""
    fields = FORMATS[kind].row.model_fields
    return (
        [name for name, f in fields.items() if f.is_required()],
        [name for name, f in fields.items() if not f.is_required()],
    )


@dataclass(frozen=True, slots=True)
class ImportResult:
    kind: Kind
    # Data rows in the file (blank lines left out).
    rows: int
    dry_run: bool
    # Codes of the rows created, in file order; empty in a dry run.
    codes: tuple[str, ...]


def import_csv(
    session: Session,
    *,
    kind: Kind | str,
    data: bytes | str,
    max_rows: int,
    dry_run: bool = False,
) -> ImportResult:
    """Create every row of a CSV file (UTF-8, a header row naming the columns) of ``kind``,
    each through the service that creates one, in a savepoint of its own: so a row is checked
    against the database and the rows before it. If any row fails, nothing is kept and one
    InvalidError lists every failing row ({row, field, value, message}, ``row`` counting
    data rows from 1); nothing is kept in a dry run either. Flushes, never commits."""
    kind = inputs.member(Kind, "kind", kind)
    form = FORMATS[kind]
    header, records = _read(data)
    _check_header(form.row, header)
    # Blank lines are skipped but counted, so that row numbers match the file's records.
    numbered = [(n, cells) for n, cells in enumerate(records, 1) if any(map(str.strip, cells))]
    if len(numbered) > max_rows:
        raise TooLargeError(
            f"the file has {len(numbered)} rows; one import takes at most {max_rows}",
            field="rows",
            value=len(numbered),
        )
    if not numbered:
        raise InvalidError("the file has a header but no rows", field="rows", value=0)
    errors: list[dict[str, Any]] = []
    valid = _validated(form, header, numbered, errors)
    codes = _created(session, form, valid, errors, keep=not dry_run)
    if errors:
        errors.sort(key=lambda e: e["row"])
        failed = len({e["row"] for e in errors})
        first = errors[0]
        raise InvalidError(
            f"{failed} of {len(numbered)} rows are invalid (first: row {first['row']}, "
            f"{first['field']}: {first['message']}); nothing was imported",
            field=first["field"],
            value=first["value"],
            errors=errors,
        )
    return ImportResult(kind, len(numbered), dry_run, () if dry_run else tuple(codes))


def _read(data: bytes | str) -> tuple[list[str], list[list[str]]]:
    if isinstance(data, bytes):
        try:
            # utf-8-sig: spreadsheet programs often prepend a byte-order mark.
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidError(
                f"the file is not UTF-8 text: byte {exc.object[exc.start]:#04x} at offset "
                f"{exc.start}",
                field="body",
                value=f"offset {exc.start}",
            ) from None
    reader = csv.reader(io.StringIO(data, newline=""))
    try:
        header = next(reader, [])
        records = list(reader)
    except csv.Error as exc:
        raise InvalidError(
            f"the file is not CSV: line {reader.line_num}: {exc}",
            field="body",
            value=f"line {reader.line_num}",
        ) from None
    header = [name.strip() for name in header]
    if not any(header):
        raise InvalidError(
            "the file has no header row naming its columns", field="header", value=None
        )
    return header, records


def _check_header(row_type: type[SeedRow], header: list[str]) -> None:
    known = row_type.model_fields
    problems = []
    for index, name in enumerate(header):
        if name not in known:
            message = f"unknown column {name!r}; the columns are {', '.join(known)}"
            problems.append({"field": name, "value": name, "message": message})
        elif name in header[:index]:
            problems.append({"field": name, "value": name, "message": "column given twice"})
    for name, field in known.items():
        if field.is_required() and name not in header:
            problems.append({"field": name, "value": None, "message": "required column missing"})
    if problems:
        first = problems[0]
        raise InvalidError(
            f"header: {first['field']}: {first['message']}",
            field=first["field"],
            value=first["value"],
            errors=problems,
        )


def _validated(
    form: Format,
    header: list[str],
    numbered: list[tuple[int, list[str]]],
    errors: list[dict[str, Any]],
) -> list[tuple[int, SeedRow]]:
    """The rows that pass their row model; each complaint of the others is added to
    ``errors``, and so is a key repeated within the file."""
    valid = []
    first_of: dict[str, int] = {}
    for number, cells in numbered:
        if len(cells) > len(header):
            errors.append(
                _error(
                    number,
                    "row",
                    len(cells),
                    f"the row has {len(cells)} cells; the header names {len(header)} columns",
                )
            )
            continue
        # A blank cell is a missing value, so that optional columns take their defaults.
        raw = dict(zip(header, cells, strict=False))
        given = {name: value for name, value in raw.items() if value.strip()}
        broken = False
        if form.key is not None and (key := given.get(form.key, "").strip()):
            if key in first_of:
                errors.append(
                    _error(number, form.key, key, f"also on row {first_of[key]} of this file")
                )
                broken = True
            else:
                first_of[key] = number
        try:
            row = form.row.model_validate(given)
        except ValidationError as exc:
            for problem in exc.errors():
                column = str(problem["loc"][0]) if problem["loc"] else "row"
                cause = problem.get("ctx", {}).get("error")
                if isinstance(cause, FieldRuleError):
                    column = cause.field
                message = problem["msg"].removeprefix("Value error, ")
                errors.append(_error(number, column, raw.get(column, ""), message))
            continue
        if not broken:
            valid.append((number, row))
    return valid


def _created(
    session: Session,
    form: Format,
    rows: list[tuple[int, SeedRow]],
    errors: list[dict[str, Any]],
    *,
    keep: bool,
) -> list[str]:
    """Create each row in a savepoint inside one savepoint for the file, which is kept only
    with ``keep`` and no errors."""
    codes = []
    outer = session.begin_nested()
    try:
        for number, row in rows:
            try:
                with session.begin_nested():
                    codes.append(form.create(session, row))
            except DomainError as exc:
                errors.append(_error(number, _column(exc.field), exc.value, exc.message))
            except (sa.exc.IntegrityError, sa.exc.DataError) as exc:
                # A table rule the services do not check first; the row is named anyway.
                reason = str(exc.orig).splitlines()[0] if exc.orig else "constraint"
                errors.append(_error(number, "row", number, f"the database refused it: {reason}"))
    except BaseException:
        outer.rollback()
        raise
    if keep and not errors:
        outer.commit()
    else:
        outer.rollback()
    return codes


def _column(field: str | None) -> str:
    if field is None:
        return "row"
    name = field.split(".")[0]
    return COLUMN_OF.get(name, name.removesuffix("_code"))


def _error(row: int, field: str, value: Any, message: str) -> dict[str, Any]:
    return {"row": row, "field": field, "value": value, "message": message}
