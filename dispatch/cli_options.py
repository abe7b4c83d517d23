"""What every ``dispatch`` command does with a bad option: name it and its value on stderr
and exit 2 without a traceback; and the date and time options they share."""

from __future__ import annotations

from datetime import date, datetime
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from dispatch.settings import Settings

errors = Console(stderr=True)


def settings_of(ctx: typer.Context) -> Settings:
    """The settings the ``dispatch`` callback put on the context."""
    settings = ctx.obj
    if settings is None:  # pragma: no cover - the callback always sets it
        raise typer.Exit(2)
    return settings


def fail(message: str) -> NoReturn:
    errors.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(2)


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not a date like 2026-11-30")


def parse_moment(text: str, option: str) -> datetime:
    """An aware instant: local wall-clock time without an offset would be a guess."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{option} {text!r} is not an ISO 8601 time like 2026-11-30T11:00+03:00")
    if moment.utcoffset() is None:
        fail(f"{option} {text!r} has no UTC offset")
    return moment
