"""What the console's browser tests share: a dispatcher's HTTP client and the demo's region and
day 0 (fixtures), visits made for a test through the API, and reading and dragging on the
board."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.browser.conftest import DISPATCHER, sign_in

READY = "body[data-board-state=ready]"
PANELS = "body[data-panels-state=ready]"
WIDE = {"viewport": {"width": 1440, "height": 900}}
SLOW = 60_000  # ms: a planning job on a busy CI machine


# The API, as a dispatcher: test data and checks ----------------------------------------------


def ok(answer: httpx.Response) -> Any:
    assert answer.is_success, f"{answer.request.method} {answer.request.url}: {answer.text}"
    return answer.json()


def site_with_open_contract(office: httpx.Client, region: str) -> dict[str, str]:
    """A time-and-materials contract valid today (no quota to run out) and a site of its
    customer in ``region``."""
    contracts = ok(
        office.get(
            "/api/v1/contracts",
            params={"kind": "time_and_materials", "valid_on": date.today().isoformat()},  # noqa: DTZ011
        )
    )["items"]
    for contract in contracts:
        sites = ok(
            office.get(
                "/api/v1/sites",
                params={"customer": contract["customer"], "region": region, "limit": 1},
            )
        )["items"]
        if sites:
            return {
                "customer": contract["customer"],
                "contract": contract["code"],
                "site": sites[0]["code"],
            }
    pytest.fail(f"the demo has no T&M contract with a site in {region}")


def new_visit(
    office: httpx.Client,
    region: str,
    day: str,
    minutes: int = 30,
    skills: dict[str, int] | None = None,
) -> str:
    """A fresh 30-minute visit needing no skill (unless told), open all of ``day`` only."""
    where = site_with_open_contract(office, region)
    request = ok(
        office.post(
            "/api/v1/requests",
            json={
                **where,
                "channel": "phone",
                "contact_name": "Browser test",
                "description": f"Console test {uuid.uuid4().hex[:8]}",
            },
        )
    )
    visit = ok(
        office.post(
            f"/api/v1/requests/{request['code']}/escalate",
            json={
                "duration_minutes": minutes,
                "skills": skills or {},
                "earliest_date": day,
                "due_date": day,
            },
        )
    )
    return visit["code"]


def board(office: httpx.Client, region: str, day: str) -> dict[str, Any]:
    return ok(office.get(f"/api/v1/regions/{region}/board", params={"date": day}))


def free_minutes(tech: dict[str, Any]) -> float:
    totals = tech["totals"]
    return totals["shift_minutes"] - totals["work_minutes"] - totals["travel_seconds"] / 60


def gaps(tech: dict[str, Any]) -> list[timedelta]:
    """The free stretches of a technician's first shift of the day, around their stops."""
    shift = tech["shifts"][0]
    edges = [datetime.fromisoformat(shift["starts_at"])]
    for stop in tech["stops"]:
        edges += [
            datetime.fromisoformat(stop["planned_start"]),
            datetime.fromisoformat(stop["planned_end"]),
        ]
    edges.append(datetime.fromisoformat(shift["ends_at"]))
    return [edges[2 * k + 1] - edges[2 * k] for k in range(len(edges) // 2)]


def placed_between_two(office: httpx.Client, region: str, day: str) -> tuple[str, str, str]:
    """A new visit and two technicians whose routes of ``day`` both took it when asked through
    the API (widest free stretch first: a stretch on the board can still be too short once
    travel and breaks count): (the first, the second, the visit), the visit left on the
    second, the first's route as it was."""
    visit = new_visit(office, region, day)
    working = [t for t in board(office, region, day)["technicians"] if t["shifts"]]
    working.sort(key=lambda tech: max(gaps(tech)), reverse=True)
    took: list[str] = []
    for tech in working:
        answer = office.post(
            f"/api/v1/visits/{visit}/assign", json={"technician": tech["technician"], "date": day}
        )
        if answer.status_code == 422:  # does not fit this route
            continue
        ok(answer)
        took.append(tech["technician"])
        if len(took) == 2:
            return took[0], took[1], visit
    raise AssertionError(f"fewer than two technicians of {region} can take {visit} on {day}")


def placed_on(office: httpx.Client, region: str, day: str, visit: str, technician: str) -> str:
    """``visit`` put on ``technician``'s route of ``day`` where it adds the least travel."""
    ok(office.post(f"/api/v1/visits/{visit}/assign", json={"technician": technician, "date": day}))
    return visit


def widest_gap_position(office: httpx.Client, region: str, day: str, technician: str) -> int:
    """The place in ``technician``'s route with the most free time around it."""
    tech = next(
        t for t in board(office, region, day)["technicians"] if t["technician"] == technician
    )
    free = gaps(tech)
    return max(range(len(free)), key=free.__getitem__)


def visit_of(office: httpx.Client, code: str) -> dict[str, Any]:
    return ok(office.get(f"/api/v1/visits/{code}"))


# The page ------------------------------------------------------------------------------------


def open_console(open_page, region: str, day: str, view: str | None = None):  # type: ignore[no-untyped-def]
    hash_ = f"region={region}&date={day}" + (f"&view={view}" if view else "")
    page = open_page(f"/console#{hash_}", **WIDE)
    sign_in(page, *DISPATCHER)
    if view is None:
        page.wait_for_selector(READY)
    return page


def drag(page, source, target_x: float, target_y: float) -> None:  # type: ignore[no-untyped-def]
    """Presses on ``source``, moves in steps (pointer events) and lets go at the target."""
    box = source.bounding_box()
    page.mouse.move(box["x"] + min(8, box["width"] / 2), box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(target_x, target_y, steps=12)
    page.mouse.up()


def widest_gap_x(page, technician: str) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """Where on ``technician``'s row the free time is widest: (x, y, stops before it)."""
    row = page.locator(f'.timeline .row[data-technician="{technician}"]')
    shift = row.locator(".shift").first.bounding_box()
    blocks = sorted(
        (b for b in (x.bounding_box() for x in row.locator(".visit").all()) if b),
        key=lambda b: b["x"],
    )
    edges = [shift["x"]]
    for b in blocks:
        edges += [b["x"], b["x"] + b["width"]]
    edges.append(shift["x"] + shift["width"])
    gaps = [(edges[2 * k + 1] - edges[2 * k], k) for k in range(len(edges) // 2)]
    width, k = max(gaps)
    return edges[2 * k] + width / 2, shift["y"] + shift["height"] / 2, k
