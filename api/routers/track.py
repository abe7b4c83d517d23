"""Customers' tracking link: JSON for apps, a small HTML page for people. The token is the
only credential; an unknown or expired one is 404 either way."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api.deps import read_in_thread
from dispatch import tracking
from dispatch.models import VisitStatus

router = APIRouter(tags=["customers"])

LABELS = {
    VisitStatus.scheduled: "Scheduled",
    VisitStatus.dispatched: "Scheduled",
    VisitStatus.en_route: "Your technician is on the way",
    VisitStatus.on_site: "Your technician is with you",
    VisitStatus.completed: "Done",
    VisitStatus.failed: "Could not be finished; we will contact you",
    VisitStatus.cancelled: "Cancelled",
    VisitStatus.unscheduled: "Being planned",
}


class TrackView(BaseModel):
    visit: str = Field(examples=["V-000123"])
    status: VisitStatus
    arrival_from: datetime | None = Field(description="Arrival window (P10), UTC.")
    arrival_to: datetime | None = Field(description="Arrival window (P90), UTC.")
    technician_first_name: str | None = Field(examples=["Ivan"])
    stops_before: int | None = Field(description="Visits the technician makes before yours.")


@router.get(
    "/api/v1/track/{token}",
    response_model=TrackView,
    summary="Follow a visit",
    responses={404: {"description": "Unknown or expired link"}},
)
async def track(request: Request, token: str) -> TrackView:
    # A coroutine with all its database work in one thread-pool hop: customers poll this.
    found = await read_in_thread(request, tracking.lookup, token, datetime.now(UTC))
    return TrackView(
        visit=found.visit,
        status=found.status,
        arrival_from=found.arrival_from,
        arrival_to=found.arrival_to,
        technician_first_name=found.technician_first_name,
        stops_before=found.stops_before,
    )


@router.get("/track/{token}", response_class=HTMLResponse, include_in_schema=False)
async def track_page(request: Request, token: str) -> HTMLResponse:
    found = await read_in_thread(request, tracking.lookup, token, datetime.now(UTC))
    rows = [("Status", LABELS[found.status])]
    if found.arrival_from and found.arrival_to:
        rows.append(("Arrival", f"{found.arrival_from:%d %b %H:%M} - {found.arrival_to:%H:%M} UTC"))
    if found.technician_first_name:
        rows.append(("Technician", found.technician_first_name))
    if found.stops_before is not None:
        rows.append(("Visits before yours", str(found.stops_before)))
    cells = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return HTMLResponse(
        "<!doctype html><html lang=en><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        "<meta name=robots content=noindex>"
        f"<title>Visit {escape(found.visit)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto}"
        "th{text-align:left;padding-right:1rem}</style>"
        f"<h1>Visit {escape(found.visit)}</h1><table>{cells}</table></html>",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
