"""``dispatch webhooks``: subscriptions to domain events and the delivery worker."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from dispatch import db
from dispatch.cli_options import errors, settings_of
from schedules.errors import InvalidError, NotFoundError

console = Console()

webhooks_app = typer.Typer(
    help="Webhook subscriptions to domain events, and their delivery worker.",
    no_args_is_help=True,
)

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

    engine = db.make_engine(settings_of(ctx).database_url)
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

    engine = db.make_engine(settings_of(ctx).database_url)
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

    engine = db.make_engine(settings_of(ctx).database_url)
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

    engine = db.make_engine(settings_of(ctx).database_url)
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

    engine = db.make_engine(settings_of(ctx).database_url)
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
