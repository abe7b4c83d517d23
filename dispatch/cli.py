"""The ``dispatch`` command line: database, seed data, server and demo here; planning,
operations, billing and webhooks in their own modules, registered below."""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import select

from dispatch import db
from dispatch.billing_cli import billing_app, report_app
from dispatch.cli_options import parse_date, settings_of
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
from dispatch.webhooks_cli import webhooks_app

app = typer.Typer(
    help="Field-service dispatch: plan technicians' days against contracts and SLAs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Schema migrations (the only way the schema is created).")
seed_app = typer.Typer(help="Generate and load demo or benchmark data.")
app.add_typer(db_app, name="db")
app.add_typer(seed_app, name="seed")
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
app.add_typer(webhooks_app, name="webhooks")

console = Console()
errors = Console(stderr=True)


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
    settings = settings_of(ctx)
    with console.status(f"migrating {_safe_url(settings.database_url)} to {revision}"):
        db.upgrade(settings.database_url, revision)
    console.print(f"schema at [bold]{revision}[/bold]")


@db_app.command("downgrade")
def db_downgrade(
    ctx: typer.Context, revision: Annotated[str, typer.Argument(help="Target revision.")]
) -> None:
    """Migrate the schema back to REVISION ('base' removes every table)."""
    db.downgrade(settings_of(ctx).database_url, revision)
    console.print(f"schema at [bold]{revision}[/bold]")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the schema revision of the database and the newest one the code ships."""
    engine = db.make_engine(settings_of(ctx).database_url)
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

    command.revision(db.alembic_config(settings_of(ctx).database_url), message, autogenerate=True)


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
    settings = settings_of(ctx)
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
    _serve(settings_of(ctx), host=host, port=port, workers=workers, reload=reload)


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
def worker(
    ctx: typer.Context,
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs run at once.")] = 1,
) -> None:
    """Run planning jobs handed over by the API through the broker (DISPATCH_BROKER_URL)."""
    from dispatch import workers

    settings = settings_of(ctx)
    if not settings.broker_url:
        errors.print("[red]error:[/red] set DISPATCH_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
        raise typer.Exit(2)
    workers.run_worker(settings, concurrency=concurrency, loglevel=settings.log_level)


@app.command()
def demo(
    ctx: typer.Context,
    port: Annotated[int | None, typer.Option(help="Default: DISPATCH_PORT.")] = None,
    fresh: Annotated[bool, typer.Option(help="Delete the SQLite demo database first.")] = False,
) -> None:
    """Migrate, load the demo data (once) and serve: the quickest way to look around."""
    settings = settings_of(ctx)
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
        f"ready in {time.perf_counter() - started:.1f} s: console at "
        f"[bold]http://{settings.host}:{shown_port}/console[/bold], API docs at "
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
