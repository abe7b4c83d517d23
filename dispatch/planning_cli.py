"""Planning commands: ``dispatch plan`` (a day or a horizon of one region or all, with progress
and a summary), ``publish``, ``replan`` during the day and ``eta check``."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import select

import routing
from dispatch import adapter, db, eta, planning
from dispatch.cli_options import fail, parse_date, parse_moment
from dispatch.models import Plan, Region
from dispatch.replan import replan_day, watch
from dispatch.settings import Settings
from schedules.errors import DomainError
from schedules.periods import local_day

console = Console()


def plan_command(
    ctx: typer.Context,
    day: Annotated[
        str, typer.Option("--date", help="First local day of the plan, like 2026-11-30.")
    ],
    region: Annotated[
        str | None, typer.Option(help="Region code; every region when not given.")
    ] = None,
    days: Annotated[int, typer.Option(help="Days in the horizon (1-31).")] = 1,
    seconds: Annotated[
        float | None,
        typer.Option(help="Solver time limit per region; default: the solver_time_limit setting."),
    ] = None,
    strategy: Annotated[
        str, typer.Option(help="optimised, or greedy (the baseline a dispatcher makes by hand).")
    ] = "optimised",
    publish: Annotated[
        bool, typer.Option("--publish", help="Publish the new plan once it is stored.")
    ] = False,
) -> None:
    """Plan REGION (or every region) from DATE for DAYS days and store a draft plan.

    A failed, interrupted or killed run leaves the plans in force unchanged: the solve holds
    no transaction and the plan is written in one."""
    settings: Settings = ctx.obj
    first = parse_date(day, "--date")
    if not 1 <= days <= 31:
        fail(f"--days {days} is outside 1..31")
    if seconds is not None and seconds <= 0:
        fail(f"--seconds {seconds} must be positive")
    try:
        planning.check_request(strategy, days)
    except DomainError as error:
        fail(f"--{error.field} {error.value!r}: {error.message}")
    limit = seconds if seconds is not None else settings.solver_time_limit_seconds
    travel = routing.Osrm(settings.osrm_url) if settings.osrm_url else None
    engine = db.make_engine(settings.database_url)
    try:
        with db.transaction(engine) as session:
            if region is None:
                regions = list(session.exec(select(Region).order_by(Region.code)))
            else:
                found = session.exec(select(Region).where(Region.code == region)).first()
                if found is None:
                    fail(f"--region {region!r} is not a known region code")
                regions = [found]
        for where in regions:
            _plan_one(engine, where, first, days, limit, strategy, publish, travel)
    finally:
        engine.dispose()


def _plan_one(
    engine,  # type: ignore[no-untyped-def]
    region: Region,
    first: date,
    days: int,
    limit: float,
    strategy: str,
    publish: bool,
    travel: routing.MatrixProvider | None,
) -> None:
    started, read_at = time.perf_counter(), datetime.now(UTC)
    with db.transaction(engine) as session:
        built = adapter.build(session, region, first, days, travel=travel)
    read = time.perf_counter() - started
    label = f"{region.code}: {len(built.visits)} visits, {len(built.technicians)} technicians"
    # Printed even where the live progress is not (logs, pipes): the solve has begun.
    console.print(f"{label}: solving for up to {limit:g} s", soft_wrap=True)
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task(f"{label}: solving", total=None)

        def progress(objective: float, elapsed: float) -> None:
            bar.update(task, description=f"{label}: best {objective:,.0f} at {elapsed:.1f} s")

        solution = planning.solve_built(
            built,
            params=routing.SolveParams(time_limit_seconds=limit),
            strategy=strategy,
            progress=progress,
        )
    with db.transaction(engine) as session:
        plan = planning.store_plan(
            session,
            session.get_one(Region, region.id),
            built,
            solution,
            strategy=strategy,
            wall_seconds=time.perf_counter() - started,
            read_at=read_at,
        )
        published = planning.publish(session, plan) if publish else None
    _summary(region, plan, read, published)


def _summary(
    region: Region, plan: Plan, read_seconds: float, published: planning.Published | None
) -> None:
    stats = plan.stats
    state = "published" if published else "draft"
    console.print(
        f"[bold]{escape(region.code)}[/bold] plan {plan.id} v{plan.version} ({state}), "
        f"{plan.starts_on} + {plan.days} day(s), {plan.strategy}, {plan.wall_seconds:.1f} s "
        f"(reading {read_seconds:.1f} s)",
        soft_wrap=True,
    )
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="dim")
    table.add_column(justify="right")
    table.add_row("visits assigned", f"{stats['assigned']} of {stats['visits']}")
    for reason, count in sorted(stats["unassigned_by_reason"].items()):
        table.add_row(f"unassigned: {reason}", str(count))
    table.add_row("travel", f"{stats['travel_km']} km, {stats['travel_hours']} h")
    table.add_row("SLA late (visits)", str(len(stats["sla_late"])))
    table.add_row("SLA late (minutes)", str(stats["late_minutes"]))
    if published:
        table.add_row("superseded plans", ", ".join(str(p.id) for p in published.superseded) or "-")
    console.print(table)
    utilisation = stats["utilisation"]
    if utilisation:
        console.print("utilisation per technician")
        busy = Table(box=None, pad_edge=False)
        busy.add_column("technician")
        busy.add_column("work / shift", justify="right")
        for tech, share in utilisation.items():
            busy.add_row(tech, f"{share:.0%}")
        console.print(busy)
    if stats["quotas"]:
        console.print("quota use (minutes)")
        quotas = Table(box=None, pad_edge=False)
        for name in ("contract/period", "left before", "planned", "days left before"):
            quotas.add_column(name, justify="left" if name == "contract/period" else "right")
        for quota_id, use in sorted(stats["quotas"].items()):
            quotas.add_row(
                quota_id,
                str(use["remaining_minutes_before"]),
                str(use["planned_minutes"]),
                str(use["days_remaining_before"]),
            )
        console.print(quotas)


def publish_command(
    ctx: typer.Context,
    plan_id: Annotated[int, typer.Argument(help="The draft plan to publish.", metavar="PLAN")],
) -> None:
    """Publish draft PLAN: it replaces the plans it overlaps, visits take its times, the
    quota ledger and customers' arrival windows follow."""
    settings: Settings = ctx.obj
    engine = db.make_engine(settings.database_url)
    try:
        with db.transaction(engine) as session:
            plan = session.get(Plan, plan_id)
            if plan is None:
                fail(f"PLAN {plan_id} does not exist")
            try:
                done = planning.publish(session, plan)
            except DomainError as error:
                fail(f"PLAN {plan_id}: {error.message}")
            console.print(
                f"plan {plan_id} published: {done.scheduled} visits scheduled, "
                f"{done.unscheduled} back to unscheduled, superseded "
                f"{', '.join(str(p.id) for p in done.superseded) or 'nothing'}",
                soft_wrap=True,
            )
    finally:
        engine.dispose()


def replan_command(
    ctx: typer.Context,
    region: Annotated[
        str | None, typer.Option(help="Region code (with --watch: every region when not given).")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(help="The moment to re-plan from (ISO 8601 with offset); default: now."),
    ] = None,
    seconds: Annotated[
        float | None,
        typer.Option(help="Solver time limit; default: the replan_time_limit setting."),
    ] = None,
    no_publish: Annotated[
        bool, typer.Option("--no-publish", help="Store the re-plan as a draft only.")
    ] = False,
    watch_events: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Keep running: re-plan a region whenever events change its day (an urgent "
            "visit, an absence, a cancellation, a visit far off its estimate, a late arrival).",
        ),
    ] = False,
    interval: Annotated[float, typer.Option(help="With --watch: seconds between checks.")] = 30.0,
    rounds: Annotated[
        int | None, typer.Option(help="With --watch: stop after this many checks.")
    ] = None,
) -> None:
    """Re-plan the rest of today in REGION from the technicians' current state and publish it;
    with --watch, whenever events call for it."""
    settings: Settings = ctx.obj
    now = datetime.now(UTC) if at is None else parse_moment(at, "--at")
    if seconds is not None and seconds <= 0:
        fail(f"--seconds {seconds} must be positive")
    limit = seconds if seconds is not None else settings.replan_time_limit_seconds
    if region is None and not watch_events:
        fail("--region is needed (or --watch for every region)")
    if interval < 0:
        fail(f"--interval {interval} is negative")
    engine = db.make_engine(settings.database_url)
    try:
        with db.transaction(engine) as session:
            found = None
            if region is not None:
                found = session.exec(select(Region).where(Region.code == region)).first()
                if found is None:
                    fail(f"--region {region!r} is not a known region code")
        if watch_events:
            _watch(engine, found, interval, rounds, limit)
            return
        assert found is not None
        with db.transaction(engine) as session:
            started = time.perf_counter()
            done = replan_day(
                session,
                found,
                local_day(now, found.timezone),
                now,
                params=routing.SolveParams(time_limit_seconds=limit),
                publish=not no_publish,
            )
            read = time.perf_counter() - started
        _summary(found, done.plan, read, None)
    finally:
        engine.dispose()


def _watch(
    engine,  # type: ignore[no-untyped-def]
    region: Region | None,
    interval: float,
    rounds: int | None,
    limit: float,
) -> None:
    def told(where: Region, reasons: list[str], planned: planning.Planned) -> None:
        stats = planned.plan.stats
        console.print(
            f"{datetime.now(UTC):%H:%M:%S} {where.code} re-planned ({'; '.join(reasons)}): "
            f"plan {planned.plan.id}, {stats['assigned']} of {stats['visits']} visits",
            soft_wrap=True,
        )

    console.print(f"watching {region.code if region else 'every region'} every {interval:g} s")
    try:
        done = watch(
            engine,
            interval=interval,
            params=routing.SolveParams(time_limit_seconds=limit),
            regions={region.id} if region else None,  # type: ignore[arg-type]
            rounds=rounds,
            on_replan=told,
        )
    except KeyboardInterrupt:
        return
    console.print(f"{done} re-plan(s)")


def eta_check_command(
    ctx: typer.Context,
    at: Annotated[
        str | None, typer.Option(help="The moment to check at (ISO 8601); default: now.")
    ] = None,
) -> None:
    """Raise visit.late for every visit whose arrival window has closed unmet, and give its
    customer a new window."""
    settings: Settings = ctx.obj
    now = datetime.now(UTC) if at is None else parse_moment(at, "--at")
    engine = db.make_engine(settings.database_url)
    try:
        with db.transaction(engine) as session:
            late = eta.overdue(session, now)
        console.print(f"{len(late)} visit(s) late: {', '.join(v.code for v in late) or '-'}")
    finally:
        engine.dispose()
