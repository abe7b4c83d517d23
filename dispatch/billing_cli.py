"""``dispatch billing`` and ``dispatch report``: T&M lines of a contract's period as CSV, and
quota and SLA reports per contract."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlmodel import select

from dispatch import billing, db, reports
from dispatch.cli_options import errors, settings_of
from dispatch.models import Region
from schedules.billing import hours, money, parse_period_label, to_csv, totals
from schedules.errors import InvalidError, NotFoundError

console = Console()

billing_app = typer.Typer(help="T&M billing of completed visits.", no_args_is_help=True)
report_app = typer.Typer(help="Account reports per contract and period.", no_args_is_help=True)


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
    settings = settings_of(ctx)
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
    settings = settings_of(ctx)
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
