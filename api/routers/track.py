"""Customers' tracking link: JSON for apps and the page's polling, a server-rendered HTML page
for people (readable at once on a slow phone; static/track.js then keeps it live), and the
dispatchers' operation that issues a link. The token is the only credential; an unknown or
expired one is 404 either way (problem+json for the API, a friendly page for people)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from html import escape
from string import Template
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api.deps import SessionDep, read_on_loop
from api.routers.planning import REFUSED, STAFF
from api.web.pages import SECURITY_HEADERS, TEMPLATES
from dispatch import tracking
from dispatch.models import VisitStatus
from schedules.errors import NotFoundError

router = APIRouter(tags=["customers"])

# What a person reads: the headline of each status (static/track.js has the same words).
LABELS = {
    VisitStatus.unscheduled: "We are planning your visit",
    VisitStatus.scheduled: "Your visit is scheduled",
    VisitStatus.dispatched: "Your visit is scheduled",
    VisitStatus.en_route: "Your technician is on the way",
    VisitStatus.on_site: "Your technician is with you",
    VisitStatus.completed: "Done: the visit is complete",
    VisitStatus.failed: "The visit could not be finished; we will contact you",
    VisitStatus.cancelled: "This visit was cancelled",
}
STEPS = ("Scheduled", "On the way", "With you", "Done")
# Which step a status has reached (-1: none yet); failed and cancelled leave the steps.
STEP_OF = {
    VisitStatus.unscheduled: -1,
    VisitStatus.scheduled: 0,
    VisitStatus.dispatched: 0,
    VisitStatus.en_route: 1,
    VisitStatus.on_site: 2,
    VisitStatus.completed: 4,
}
PAGE_HEADERS = {
    **SECURITY_HEADERS,
    # A customer's status must never come from a cache; the link must not leak onwards.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
EXPIRY_NOTE = (
    "Works until 12 hours after the visit is completed, failed or cancelled; earlier links of "
    "the visit keep working too."
)


class TrackView(BaseModel):
    visit: str = Field(examples=["V-000123"])
    status: VisitStatus
    arrival_from: datetime | None = Field(description="Arrival window (P10), UTC.")
    arrival_to: datetime | None = Field(description="Arrival window (P90), UTC.")
    technician_first_name: str | None = Field(examples=["Ivan"])
    stops_before: int | None = Field(description="Visits the technician makes before yours.")
    timezone: str = Field(
        examples=["Europe/Moscow"],
        description="IANA timezone of the visit's region: show the arrival window in it.",
    )


class TrackingLinkRead(BaseModel):
    visit: str = Field(examples=["V-000123"])
    token: str = Field(
        examples=["kV3n0m2bq1xQ0uQ6y0f2f8m3Rz7PqkJ7D0w3xYk4c1E"],
        description="The link's secret (shown once: only its hash is stored).",
    )
    url: str = Field(
        examples=["/track/kV3n0m2bq1xQ0uQ6y0f2f8m3Rz7PqkJ7D0w3xYk4c1E"],
        description="The customer's page, relative to this server.",
    )
    expires: str = Field(examples=[EXPIRY_NOTE], description="When the link stops working.")


@router.get(
    "/api/v1/track/{token}",
    response_model=TrackView,
    summary="Follow a visit",
    responses={404: {"description": "Unknown or expired link"}},
)
async def track(request: Request, token: str) -> TrackView:
    # A coroutine reading on the event loop: customers poll this.
    found = read_on_loop(request, tracking.lookup, token, datetime.now(UTC))
    return TrackView(
        visit=found.visit,
        status=found.status,
        arrival_from=found.arrival_from,
        arrival_to=found.arrival_to,
        technician_first_name=found.technician_first_name,
        stops_before=found.stops_before,
        timezone=found.timezone,
    )


@router.post(
    "/api/v1/visits/{code}/tracking-link",
    status_code=201,
    dependencies=STAFF,
    response_model=TrackingLinkRead,
    summary="Issue a customer tracking link for a visit",
    responses={
        **REFUSED,
        404: {"description": "No such visit"},
        409: {"description": "The visit closed too long ago for a link to show anything"},
    },
)
def issue_tracking_link(code: str, session: SessionDep) -> TrackingLinkRead:
    """A new link to pass on to the customer (links are stored hashed, so an earlier one cannot
    be shown again). No Idempotency-Key: its stored answer would keep the secret in clear."""
    issued = tracking.issue_for(session, visit_code=code, now=datetime.now(UTC))
    return TrackingLinkRead(
        visit=issued.visit,
        token=issued.token,
        url=f"/track/{issued.token}",
        expires=EXPIRY_NOTE,
    )


# The page for people -------------------------------------------------------------------------


@cache
def _template() -> Template:
    return Template((TEMPLATES / "track.html").read_text(encoding="utf-8"))


@cache
def _gone_page() -> str:
    """The page for an unknown or expired link."""
    return (TEMPLATES / "track-gone.html").read_text(encoding="utf-8")


def _day(moment: datetime, now: datetime) -> str:
    """Today, tomorrow or "Fri 27 Nov" (both in the same timezone)."""
    days = (moment.date() - now.date()).days
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"{moment:%a} {moment.day} {moment:%b}"


def _offset(moment: datetime) -> str:
    minutes = round(moment.utcoffset().total_seconds() / 60)  # type: ignore[union-attr]
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _stops(count: int) -> str:
    if count == 0:
        return "None: you are next"
    return "1 visit" if count == 1 else f"{count} visits"


def _step_items(status: VisitStatus) -> str:
    reached = STEP_OF.get(status)
    items = []
    for i, label in enumerate(STEPS):
        if reached is None:
            state = "stopped"
        elif i < reached:
            state = "done"
        elif i == reached:
            state = "current"
        else:
            state = "todo"
        current = ' aria-current="step"' if state == "current" else ""
        items.append(f'<li class="step {state}" data-step="{i}"{current}>{escape(label)}</li>')
    return "".join(items)


def _hidden(value: object) -> str:
    return "" if value else " hidden"


def render(found: tracking.Tracking, now: datetime) -> str:
    """The page of one link as it is now: the same elements static/track.js updates."""
    zone = ZoneInfo(found.timezone)
    local_now = now.astimezone(zone)
    window = day = ""
    if found.arrival_from and found.arrival_to:
        start, end = found.arrival_from.astimezone(zone), found.arrival_to.astimezone(zone)
        window = f"{start:%H:%M}\u2013{end:%H:%M}"
        day = _day(start, local_now)
    closed = found.status in (VisitStatus.failed, VisitStatus.cancelled)
    values = {
        "visit": found.visit,
        "status": found.status.value,
        "headline": LABELS[found.status],
        "window": window,
        "window_day": day,
        "zone": f"{found.timezone} time ({_offset(local_now)})",
        "technician": found.technician_first_name or "",
        "stops": _stops(found.stops_before) if found.stops_before is not None else "",
        "updated": f"{local_now:%H:%M}",
    }
    fields = {name: escape(value) for name, value in values.items()}
    fields |= {
        "steps": _step_items(found.status),
        "alert_hidden": _hidden(closed),
        "window_hidden": _hidden(window),
        "technician_hidden": _hidden(found.technician_first_name),
        "stops_hidden": _hidden(found.stops_before is not None),
    }
    return _template().substitute(fields)


@router.get("/track/{token}", response_class=HTMLResponse, include_in_schema=False)
async def track_page(request: Request, token: str) -> HTMLResponse:
    now = datetime.now(UTC)
    try:
        found = read_on_loop(request, tracking.lookup, token, now)
    except NotFoundError:
        return HTMLResponse(_gone_page(), status_code=404, headers=PAGE_HEADERS)
    return HTMLResponse(render(found, now), headers=PAGE_HEADERS)
