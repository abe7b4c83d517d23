"""The ``dispatch`` command line: database, seed data, planning, server, demo, billing and
reports."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import select

from dispatch import billing, db, reports
from dispatch.cli_options import parse_date
from dispatch.models import Region
from dispatch.operations_cli import request_app, route_app, visit_app
from dispatch.planning_cli import (
    eta_check_command,
    plan_command,
    publish_command,
    replan_command,
)
from dispatch.seed.generator import generate
from dispatch.seed.loader import SeedLoadError, load_directory
from dispatch.seed.rows import ROW_TYPES
from dispatch.seed.spec import SeedSpec, SpecError
from dispatch.settings import Settings
from schedules.billing import hours, money, parse_period_label, to_csv, totals
from schedules.errors import InvalidError, NotFoundError

app = typer.Typer(
    help="Field-service dispatch: plan technicians' days against contracts and SLAs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Schema migrations (the only way the schema is created).")
seed_app = typer.Typer(help="Generate and load demo or benchmark data.")
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
billing_app = typer.Typer(help="T&M billing of completed visits.", no_args_is_help=True)
report_app = typer.Typer(help="Account reports per contract and period.", no_args_is_help=True)
app.add_typer(billing_app, name="billing")
app.add_typer(report_app, name="report")
app.command("plan")(plan_command)
app.command("publish")(publish_command)
app.command("replan")(replan_command)
eta_app = typer.Typer(help="Customers' arrival windows.", no_args_is_help=True)
eta_app.command("check")(eta_check_command)
app.add_typer(eta_app, name="eta")
app.add_typer(request_app, name="request")
app.add_typer(visit_app, name="visit")
app.add_typer(route_app, name="route")

console = Console()
errors = Console(stderr=True)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    if settings is None:  # pragma: no cover - the callback always sets it
        raise typer.Exit(2)
    return settings


@app.callback()
def main(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(help="Database URL; overrides DISPATCH_DATABASE_URL.", show_default=False),
    ] = None,
) -> None:
    overrides = {"database_url": database_url} if database_url else {}
    try:
        ctx.obj = Settings(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "settings"
            errors.print(f"[red]configuration error[/red] DISPATCH_{field.upper()}: {error['msg']}")
        raise typer.Exit(2) from None
    logging.basicConfig(
        level=ctx.obj.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the schema to REVISION (default: the newest)."""
    settings = _settings(ctx)
    with console.status(f"migrating {_safe_url(settings.database_url)} to {revision}"):
        db.upgrade(settings.database_url, revision)
    console.print(f"schema at [bold]{revision}[/bold]")


@db_app.command("downgrade")
def db_downgrade(
    ctx: typer.Context, revision: Annotated[str, typer.Argument(help="Target revision.")]
) -> None:
    """Migrate the schema back to REVISION ('base' removes every table)."""
    db.downgrade(_settings(ctx).database_url, revision)
    console.print(f"schema at [bold]{revision}[/bold]")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the schema revision of the database and the newest one the code ships."""
    engine = db.make_engine(_settings(ctx).database_url)
    try:
        with engine.connect() as connection:
            current = db.current_revision(connection)
    finally:
        engine.dispose()
    console.print(f"database: {current or 'empty'}; code: {db.head_revision()}")


@db_app.command("revision")
def db_revision(
    ctx: typer.Context,
    message: Annotated[str, typer.Option("--message", "-m", help="What the migration does.")],
) -> None:
    """Write a new migration from the difference between the models and the database."""
    from alembic import command  # development-only path

    command.revision(db.alembic_config(_settings(ctx).database_url), message, autogenerate=True)


@seed_app.command("generate")
def seed_generate(
    out: Annotated[Path, typer.Option(help="Directory to write the CSV files into.")],
    technicians: Annotated[int, typer.Option(min=2)] = 40,
    requests: Annotated[int, typer.Option(min=0)] = 400,
    sites: Annotated[int | None, typer.Option(help="Default: 3 per technician.")] = None,
    contracts: Annotated[int | None, typer.Option(help="Default: max(25, technicians/2).")] = None,
    regions: Annotated[int | None, typer.Option(help="Default: 4 (at most 10).")] = None,
    days: Annotated[int, typer.Option(help="Working days the requests spread over.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same files.")] = 2026,
) -> None:
    """Generate a deterministic data set (Moscow and its oblast) into OUT."""
    try:
        spec = SeedSpec(
            technicians=technicians,
            requests=requests,
            sites=sites,
            contracts=contracts,
            regions=regions,
            days=days,
            seed=seed,
        )
    except SpecError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    with console.status("generating"):
        counts = generate(spec).write(out)
    _counts_table(f"written to {out}", counts)


@seed_app.command("load")
def seed_load(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Argument(
            help="Directory of seed CSV files; default: the demo data.", show_default=False
        ),
    ] = None,
    anchor: Annotated[
        str | None,
        typer.Option(help="Day 0 of the data (YYYY-MM-DD); default: the next working day."),
    ] = None,
) -> None:
    """Load DIRECTORY in one transaction; on any error nothing is written."""
    settings = _settings(ctx)
    day0 = parse_date(anchor, "--anchor") if anchor else None
    _load(settings, directory or _demo_dir(settings), day0)


def _demo_dir(settings: Settings) -> Path:
    from seed_data import DEFAULT_DIR

    return Path(settings.seed_dir) if settings.seed_dir else DEFAULT_DIR


def _load(settings: Settings, directory: Path, anchor: date | None) -> None:
    engine = db.make_engine(settings.database_url)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    try:
        with (
            Progress(*columns, console=console, transient=True) as bar,
            db.transaction(engine) as session,
        ):
            task = bar.add_task(f"loading {directory}", total=len(ROW_TYPES))

            def advance(file: str) -> None:
                bar.update(task, advance=1, description=f"loading {file}")

            summary = load_directory(
                session,
                directory,
                anchor=anchor,
                now=datetime.now(UTC),
                timezone=settings.default_timezone,
                progress=advance,
            )
    except SeedLoadError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    _counts_table(f"loaded {directory} (day 0 = {summary.anchor})", summary.counts)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Default: DISPATCH_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: DISPATCH_PORT.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Run the HTTP API."""
    _serve(_settings(ctx), host=host, port=port, workers=workers, reload=reload)


def _serve(
    settings: Settings, *, host: str | None, port: int | None, workers: int, reload: bool
) -> None:
    import uvicorn

    # Worker processes build their own app from the environment, so pass the settings there.
    os.environ["DISPATCH_DATABASE_URL"] = settings.database_url
    uvicorn.run(
        "api.app:create_app_from_env",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        reload=reload,
        log_level=settings.log_level,
    )


@app.command()
def demo(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(help="Default: DISPATCH_PORT.")] = None,
    fresh: Annotated[bool, typer.Option(help="Delete the SQLite demo database first.")] = False,
) -> None:
    """Migrate, load the demo data (once) and serve: the quickest way to look around."""
    settings = _settings(ctx)
    started = time.perf_counter()
    if fresh:
        _delete_sqlite_file(settings.database_url)
    with console.status("migrating"):
        db.upgrade(settings.database_url)
    if _is_empty(settings):
        _load(settings, _demo_dir(settings), None)
    else:
        console.print("database already holds data; use --fresh to start over")
    shown_port = port or settings.port
    console.print(
        f"ready in {time.perf_counter() - started:.1f} s: API docs at "
        f"[bold]http://{settings.host}:{shown_port}/docs[/bold]; demo accounts in README.md"
    )
    _serve(settings, host=None, port=port, workers=1, reload=False)


def _is_empty(settings: Settings) -> bool:
    engine = db.make_engine(settings.database_url)
    try:
        with db.transaction(engine) as session:
            return session.exec(select(Region.id).limit(1)).first() is None
    finally:
        engine.dispose()


def _delete_sqlite_file(url: str) -> None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        errors.print("[red]error:[/red] --fresh only deletes an SQLite database file")
        raise typer.Exit(2)
    for suffix in ("", "-wal", "-shm"):
        Path(parsed.database + suffix).unlink(missing_ok=True)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _counts_table(title: str, counts: dict[str, int]) -> None:
    console.print(title, soft_wrap=True)
    table = Table()
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, count in counts.items():
        table.add_row(name, str(count))
    console.print(table)


PeriodOption = Annotated[
    str,
    typer.Option(
        help="A month (2026-11) or an ISO week (2026-W48), in each contract's local time."
    ),
]


def _check_period(label: str) -> None:
    # Checked before the database is opened: a typo should not wait on a connection.
    try:
        parse_period_label(label)
    except InvalidError:
        errors.print(
            f"[red]error:[/red] --period {escape(repr(label))} is not a month like 2026-11 "
            "or an ISO week like 2026-W48"
        )
        raise typer.Exit(2) from None


@billing_app.command("export")
def billing_export(
    ctx: typer.Context,
    contract: Annotated[str, typer.Option(help="Contract code.")],
    period: PeriodOption,
    out: Annotated[
        Path | None, typer.Option(help="CSV file to write; default: standard output.")
    ] = None,
) -> None:
    """Write the T&M lines of CONTRACT's visits completed in PERIOD as CSV."""
    settings = _settings(ctx)
    _check_period(period)
    engine = db.make_engine(settings.database_url)
    try:
        with db.transaction(engine) as session:
            try:
                found = billing.contract_by_code(session, contract)
            except NotFoundError:
                errors.print(
                    f"[red]error:[/red] --contract {escape(repr(contract))} is not a known "
                    "contract code"
                )
                raise typer.Exit(2) from None
            tz = settings.default_timezone
            span = billing.contract_period(session, found, period, default_timezone=tz)
            lines = billing.billing_lines(session, found, span, default_timezone=tz)
    finally:
        engine.dispose()
    text = to_csv(lines)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        errors.print(f"[red]error:[/red] --out {escape(str(out))}: {escape(exc.strerror or '')}")
        raise typer.Exit(1) from None
    total = sum(t.total_cents for t in totals(lines))
    console.print(
        f"wrote {len(lines)} lines to {escape(str(out))}: {money(total)} {found.currency}",
        soft_wrap=True,
    )


@report_app.command("quotas")
def report_quotas(
    ctx: typer.Context,
    period: PeriodOption,
    region: Annotated[
        str | None, typer.Option(help="Region code: only contracts with a site there.")
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV instead of a table.")] = False,
) -> None:
    """Quota used, planned and left, overage and SLAs of every contract active in PERIOD."""
    settings = _settings(ctx)
    _check_period(period)
    engine = db.make_engine(settings.database_url)
    try:
        with db.transaction(engine) as session:
            where = None
            if region is not None:
                where = session.exec(select(Region).where(Region.code == region)).first()
                if where is None:
                    errors.print(
                        f"[red]error:[/red] --region {escape(repr(region))} is not a known "
                        "region code"
                    )
                    raise typer.Exit(2)
            rows = reports.report(
                session,
                period,
                now=datetime.now(UTC),
                region=where,
                default_timezone=settings.default_timezone,
            )
    finally:
        engine.dispose()
    if as_csv:
        typer.echo(reports.to_csv(rows), nl=False)
        return
    _quota_table(period, rows)


def _quota_table(period: str, rows: list[reports.ContractReport]) -> None:
    if not rows:
        console.print(f"no contract has activity in {escape(period)}")
        return
    table = Table(
        title=f"Quotas and SLAs, {period} (hours)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        show_edge=False,
    )
    table.add_column("contract", no_wrap=True)
    for name in ("quota", "used", "planned", "left", "over", "over at\nplan end", "days\nused"):
        table.add_column(name, justify="right", no_wrap=True)
    for name in ("SLA\nmet", "\nbreached", "at\nrisk", "\nopen"):
        table.add_column(name, justify="right", no_wrap=True)
    costs = []
    for r in rows:
        # Contracts without a quota (T&M) are here for their SLAs; their time is on the bill.
        drawn = (r.quota, r.actual, r.planned, r.remaining, r.overage, r.forecast_overage)
        quota, used, planned, left, over, forecast = (
            "-" if r.quota is None or m is None else hours(m) for m in drawn
        )
        table.add_row(
            escape(r.contract_code),
            quota,
            used,
            planned,
            f"[red]{left}[/red]" if r.remaining is not None and r.remaining < 0 else left,
            over,
            forecast,
            "-" if r.quota_days is None else f"{r.days_used}/{r.quota_days}",
            str(r.sla_met),
            str(r.sla_breached),
            str(r.sla_at_risk),
            str(r.sla_open),
        )
        if r.overage_cents:
            costs.append(f"{escape(r.contract_code)} {money(r.overage_cents)} {r.currency}")
    console.print(table)
    if costs:
        # Only bill_as_tm contracts have a price on their overage; the rest stay off the line.
        console.print("overage at the T&M rate: " + ", ".join(costs), soft_wrap=True)


webhooks_app = typer.Typer(
    help="Webhook subscriptions to domain events, and their delivery worker.",
    no_args_is_help=True,
)
app.add_typer(webhooks_app, name="webhooks")

# Domain errors name the field; the CLI names the argument or option that carried it.
_WEBHOOK_PARAMETERS = {
    "url": ("url", "URL"),
    "topics": ("topic", "--topic"),
    "secret": ("secret", "--secret"),
}


def _webhook_refusal(exc: InvalidError) -> typer.Exit:
    word, parameter = _WEBHOOK_PARAMETERS.get(exc.field or "", ("", ""))
    message = exc.message
    if word and message.startswith(word + " "):
        message = parameter + message[len(word) :]
    errors.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


@webhooks_app.command("add")
def webhooks_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="http or https URL that receives the events.")],
    topic: Annotated[
        list[str] | None,
        typer.Option(
            "--topic",
            help="An event topic, e.g. visit.late; repeat for several. Default: every topic.",
            show_default=False,
        ),
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(
            help="Signing secret (16 to 128 characters); default: a random one.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Subscribe URL; prints its id and signing secret (the only time the secret is shown)."""
    from dispatch import events

    engine = db.make_engine(_settings(ctx).database_url)
    try:
        with db.transaction(engine) as session:
            try:
                added = events.subscribe(session, url, topic or [], secret)
            except InvalidError as exc:
                raise _webhook_refusal(exc) from None
    finally:
        engine.dispose()
    topics = ", ".join(added.topics) or "every topic"
    console.print(
        f"subscription {added.id}: {escape(added.url)} ({escape(topics)})", soft_wrap=True
    )
    console.print(
        "secret (store it now, it is not shown again; receivers check X-Dispatch-Signature "
        "with it):",
        soft_wrap=True,
    )
    typer.echo(added.secret)


@webhooks_app.command("list")
def webhooks_list(ctx: typer.Context) -> None:
    """Subscriptions with their topics and deliveries pending, delivered and failed."""
    from dispatch import events
    from dispatch.models import DeliveryStatus

    engine = db.make_engine(_settings(ctx).database_url)
    try:
        with db.transaction(engine) as session:
            found = events.subscriptions(session)
            counts = events.delivery_counts(session)
    finally:
        engine.dispose()
    if not found:
        console.print("no webhook subscriptions; add one with `dispatch webhooks add URL`")
        return
    # One line each, never folded: URLs stay whole for copying and grep.
    for subscription in found:
        count = counts.get(subscription.id or 0, {})
        tally = " ".join(f"{status.value}={count.get(status, 0)}" for status in DeliveryStatus)
        console.print(
            f"{subscription.id}  {escape(subscription.url)}  "
            f"topics={escape(','.join(subscription.topics) or 'all')}  "
            f"{'active' if subscription.active else 'paused'}  {tally}",
            soft_wrap=True,
            highlight=False,
        )


@webhooks_app.command("remove")
def webhooks_remove(
    ctx: typer.Context,
    subscription_id: Annotated[int, typer.Argument(metavar="ID", help="Subscription id.")],
) -> None:
    """Delete subscription ID and its deliveries, sent or not."""
    from dispatch import events

    engine = db.make_engine(_settings(ctx).database_url)
    try:
        with db.transaction(engine) as session:
            try:
                events.unsubscribe(session, subscription_id)
            except NotFoundError:
                errors.print(
                    f"[red]error:[/red] ID {subscription_id} is not a webhook subscription "
                    "(see `dispatch webhooks list`)"
                )
                raise typer.Exit(2) from None
    finally:
        engine.dispose()
    console.print(f"removed subscription {subscription_id}")


@webhooks_app.command("replay")
def webhooks_replay(
    ctx: typer.Context,
    delivery_id: Annotated[
        int, typer.Argument(metavar="DELIVERY_ID", help="Id of a failed delivery.")
    ],
) -> None:
    """Put failed delivery DELIVERY_ID back in the queue with a fresh set of attempts."""
    from dispatch import events
    from schedules.errors import ConflictError

    engine = db.make_engine(_settings(ctx).database_url)
    try:
        with db.transaction(engine) as session:
            try:
                events.replay(session, delivery_id)
            except (NotFoundError, ConflictError) as exc:
                errors.print(f"[red]error:[/red] DELIVERY_ID {delivery_id}: {escape(exc.message)}")
                raise typer.Exit(2) from None
    finally:
        engine.dispose()
    console.print(f"delivery {delivery_id} is pending again")


@webhooks_app.command("deliver")
def webhooks_deliver(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="One round, then exit (the default).")
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            help="Run a round every SECONDS until Ctrl-C.",
            metavar="SECONDS",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Fan new events out to subscriptions and POST every delivery that is due."""
    import sqlalchemy as sa

    from dispatch import webhooks

    if once and interval is not None:
        errors.print(f"[red]error:[/red] --interval {interval:g} cannot be used with --once")
        raise typer.Exit(2)

    def one_round(*, quiet: bool) -> None:
        report = webhooks.fan_out_and_deliver(engine)
        if quiet and not (report.fanned_out or report.attempted):
            return
        console.print(
            f"{report.fanned_out} new deliveries; {report.attempted} sent: "
            f"{report.delivered} delivered, {report.retrying} to retry, {report.failed} failed",
            soft_wrap=True,
        )

    engine = db.make_engine(_settings(ctx).database_url)
    try:
        if interval is None:
            one_round(quiet=False)
            return
        console.print(f"delivering every {interval:g} s; Ctrl-C stops")
        while True:
            try:
                one_round(quiet=True)
            except sa.exc.OperationalError as exc:
                # A worker outlives a database restart; the next round tries again.
                errors.print(f"[red]database error:[/red] {escape(str(exc.orig))}")
            time.sleep(interval)
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        engine.dispose()
