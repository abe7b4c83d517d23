"""Call-centre and dispatcher commands: ``dispatch request`` (register, resolve, escalate,
cancel) and ``dispatch visit`` / ``dispatch route`` (assign, unassign, pin, unpin, lock,
unlock). Each runs in one transaction; a refusal names the option and value and writes
nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from sqlmodel import Session, SQLModel, select

from dispatch import db, geocoding, intake, moves
from dispatch.cli_options import fail, parse_date, parse_moment
from dispatch.models import ServiceRequest, Technician, Visit
from dispatch.settings import Settings
from schedules.errors import DomainError

request_app = typer.Typer(
    help="Service requests: the call centre's first line.", no_args_is_help=True
)
visit_app = typer.Typer(help="A dispatcher's manual changes to visits.", no_args_is_help=True)
route_app = typer.Typer(help="Locking technicians' routes.", no_args_is_help=True)
console = Console()
Row = TypeVar("Row", bound=SQLModel)


@contextmanager
def _unit(ctx: typer.Context) -> Iterator[Session]:
    """One transaction; a domain refusal becomes a clear error and nothing is written."""
    settings: Settings = ctx.obj
    engine = db.make_engine(settings.database_url)
    try:
        with db.transaction(engine) as session:
            yield session
    except DomainError as error:
        where = f"{error.field} {error.value!r}: " if error.field else ""
        fail(f"{where}{error.message}")
    finally:
        engine.dispose()


def _by_code(session: Session, model: type[Row], code: str, option: str) -> Row:
    found = session.exec(select(model).where(model.code == code)).first()  # type: ignore[attr-defined]
    if found is None:
        fail(f"{option} {code!r} does not exist")
    return found


@request_app.command("register")
def register(
    ctx: typer.Context,
    customer: Annotated[str, typer.Option(help="Customer code.")],
    contract: Annotated[str, typer.Option(help="Contract code.")],
    contact: Annotated[str, typer.Option(help="Who called.")],
    description: Annotated[str, typer.Option(help="What is wrong.")],
    site: Annotated[
        str | None, typer.Option(help="Site code (or --address for a new one).")
    ] = None,
    address: Annotated[str | None, typer.Option(help="A new site's address.")] = None,
    site_name: Annotated[str | None, typer.Option(help="A new site's name.")] = None,
    region: Annotated[str | None, typer.Option(help="A new site's region code.")] = None,
    lat: Annotated[float | None, typer.Option(help="A new site's latitude.")] = None,
    lon: Annotated[float | None, typer.Option(help="A new site's longitude.")] = None,
    channel: Annotated[str, typer.Option(help="phone, email, portal or monitoring.")] = "phone",
    urgency: Annotated[str, typer.Option(help="low, normal, high or emergency.")] = "normal",
    phone: Annotated[str | None, typer.Option(help="Contact phone.")] = None,
    email: Annotated[str | None, typer.Option(help="Contact e-mail.")] = None,
) -> None:
    """Register a request; its SLA deadline is computed at once."""
    new_site = None
    if address is not None:
        if region is None:
            fail("--region is needed with --address")
        new_site = intake.NewSite(
            name=site_name or address, address=address, lat=lat, lon=lon, region_code=region
        )
    settings: Settings = ctx.obj
    with _unit(ctx) as session:
        request = intake.register_request(
            session,
            customer_code=customer,
            contract_code=contract,
            site_code=site,
            new_site=new_site,
            channel=channel,
            urgency=urgency,
            contact_name=contact,
            contact_phone=phone,
            contact_email=email,
            description=description,
            geocoder=geocoding.from_settings(settings),
        )
        due = request.sla_due_at.isoformat() if request.sla_due_at else "no SLA"
        console.print(f"{request.code} registered; response due {due}", soft_wrap=True)


@request_app.command("resolve")
def resolve(
    ctx: typer.Context,
    request: Annotated[str, typer.Argument(help="Request code.")],
    minutes: Annotated[int, typer.Option(help="First-line time spent.")],
) -> None:
    """Close a request resolved remotely (its time counts where the contract says so)."""
    with _unit(ctx) as session:
        row = _by_code(session, ServiceRequest, request, "REQUEST")
        intake.resolve_remotely(session, row, minutes=minutes)
        console.print(f"{row.code} resolved remotely in {minutes} min")


@request_app.command("escalate")
def escalate(
    ctx: typer.Context,
    request: Annotated[str, typer.Argument(help="Request code.")],
    duration: Annotated[int, typer.Option(help="Estimated minutes on site.")],
    skill: Annotated[
        list[str] | None, typer.Option(help="CODE:LEVEL, repeatable, e.g. network:3.")
    ] = None,
    window: Annotated[
        list[str] | None,
        typer.Option(help="START/END in ISO 8601 with offset, repeatable."),
    ] = None,
    earliest: Annotated[str | None, typer.Option(help="Earliest day (YYYY-MM-DD).")] = None,
    due: Annotated[
        str | None, typer.Option(help="Due day (YYYY-MM-DD); default: from the SLA clock.")
    ] = None,
) -> None:
    """Escalate a request to an on-site visit."""
    skills: dict[str, int] = {}
    for item in skill or []:
        code, _, level = item.partition(":")
        if not code or not level.isdigit():
            fail(f"--skill {item!r} is not CODE:LEVEL")
        skills[code] = int(level)
    spans = []
    for item in window or []:
        start, _, end = item.partition("/")
        if not end:
            fail(f"--window {item!r} is not START/END")
        spans.append((parse_moment(start, "--window"), parse_moment(end, "--window")))
    with _unit(ctx) as session:
        row = _by_code(session, ServiceRequest, request, "REQUEST")
        visit = intake.escalate(
            session,
            row,
            duration_minutes=duration,
            skills=skills,
            windows=spans or None,  # type: ignore[arg-type]
            earliest_date=parse_date(earliest, "--earliest") if earliest else None,
            due_date=parse_date(due, "--due") if due else None,
        )
        console.print(
            f"{visit.code} created for {row.code}: {visit.earliest_date}..{visit.due_date}, "
            f"priority {visit.priority}",
            soft_wrap=True,
        )


@request_app.command("cancel")
def cancel(
    ctx: typer.Context,
    request: Annotated[str, typer.Argument(help="Request code.")],
    reason: Annotated[str, typer.Option(help="Why.")],
) -> None:
    """Cancel a request and its visits not yet under way."""
    with _unit(ctx) as session:
        row = _by_code(session, ServiceRequest, request, "REQUEST")
        intake.cancel_request(session, row, reason)
        console.print(f"{row.code} cancelled")


@visit_app.command("assign")
def assign(
    ctx: typer.Context,
    visit: Annotated[str, typer.Argument(help="Visit code.")],
    technician: Annotated[str, typer.Option(help="Technician code.")],
    day: Annotated[str, typer.Option("--date", help="Local day (YYYY-MM-DD).")],
    position: Annotated[
        int | None, typer.Option(help="Place in the route (0 = first); default: cheapest.")
    ] = None,
    pin: Annotated[bool, typer.Option("--pin", help="Keep it there in later plans.")] = False,
) -> None:
    """Put a visit on a technician's route of a day, checked like the optimiser's plans."""
    when = parse_date(day, "--date")
    with _unit(ctx) as session:
        row = _by_code(session, Visit, visit, "VISIT")
        tech = _by_code(session, Technician, technician, "--technician")
        moved = moves.assign(session, row, tech, when, position=position, pin=pin)
        order = ", ".join(
            f"{v.code} {v.planned_start:%H:%M}Z"
            for v in moved.route  # type: ignore[union-attr]
        )
        console.print(f"{tech.code} on {when}: {order}", soft_wrap=True)


@visit_app.command("unassign")
def unassign(ctx: typer.Context, visit: Annotated[str, typer.Argument(help="Visit code.")]) -> None:
    """Take a visit off its route; it waits for the next plan."""
    with _unit(ctx) as session:
        row = _by_code(session, Visit, visit, "VISIT")
        moves.unassign(session, row)
        console.print(f"{row.code} unassigned")


@visit_app.command("pin")
def pin(
    ctx: typer.Context,
    visit: Annotated[str, typer.Argument(help="Visit code.")],
    technician: Annotated[str, typer.Option(help="Technician code.")],
    day: Annotated[str, typer.Option("--date", help="Local day (YYYY-MM-DD).")],
    position: Annotated[int | None, typer.Option(help="Place in the route.")] = None,
) -> None:
    """Keep a visit with a technician on a day (and position) in later plans."""
    when = parse_date(day, "--date")
    with _unit(ctx) as session:
        row = _by_code(session, Visit, visit, "VISIT")
        tech = _by_code(session, Technician, technician, "--technician")
        moves.pin(session, row, tech, when, position)
        console.print(f"{row.code} pinned to {tech.code} on {when}")


@visit_app.command("unpin")
def unpin(ctx: typer.Context, visit: Annotated[str, typer.Argument(help="Visit code.")]) -> None:
    """Let later plans place a visit freely again."""
    with _unit(ctx) as session:
        row = _by_code(session, Visit, visit, "VISIT")
        moves.unpin(session, row)
        console.print(f"{row.code} unpinned")


@route_app.command("lock")
def lock(
    ctx: typer.Context,
    technician: Annotated[str, typer.Argument(help="Technician code.")],
    day: Annotated[str, typer.Option("--date", help="Local day (YYYY-MM-DD).")],
) -> None:
    """Keep a technician's route of a day exactly as it is in later plans."""
    when = parse_date(day, "--date")
    with _unit(ctx) as session:
        tech = _by_code(session, Technician, technician, "TECHNICIAN")
        moves.lock_route(session, tech, when)
        console.print(f"route of {tech.code} on {when} locked")


@route_app.command("unlock")
def unlock(
    ctx: typer.Context,
    technician: Annotated[str, typer.Argument(help="Technician code.")],
    day: Annotated[str, typer.Option("--date", help="Local day (YYYY-MM-DD).")],
) -> None:
    when = parse_date(day, "--date")
    with _unit(ctx) as session:
        tech = _by_code(session, Technician, technician, "TECHNICIAN")
        moves.unlock_route(session, tech, when)
        console.print(f"route of {tech.code} on {when} unlocked")
