"""The technician's phone view (/tech) on a 390x844 viewport: signs in, shows a day's stops in
order with times in the region's timezone, offers only the status reports allowed now, and
sends them so they persist.

Self-sufficient: the module plans and publishes day 0 of its own region through the HTTP API
(the demo server is shared with other browser tests), then works on technicians of that plan;
each test that reports takes its own technician, and the others one nobody reports for, so
the tests do not depend on each other's order."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from schedules.calendars import next_working_day
from tests.browser.conftest import DISPATCHER, TECHNICIAN_PASSWORD, Server, sign_in

# A region no other browser test plans; the tracking-page tests take another one.
REGION = "MSK-S"
ZONE = "Europe/Moscow"
# A phone in Moscow that shares its position: the page shows times in the region's timezone
# and sends the position with "en route".
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "timezone_id": ZONE,
    "geolocation": {"latitude": 55.62, "longitude": 37.61},
    "permissions": ["geolocation"],
}
PLAN_LIMIT_SECONDS = 180


@dataclass(frozen=True)
class Route:
    """One technician's published stops of a day, in planned order."""

    technician: str
    username: str
    day: date
    visits: list[dict]

    @property
    def codes(self) -> list[str]:
        return [v["code"] for v in self.visits]


@contextmanager
def signed_in_client(server: Server, username: str, password: str) -> Iterator[httpx.Client]:
    """An HTTP client with the bearer token of ``username``."""
    with httpx.Client(base_url=server.base, timeout=30) as client:
        answer = client.post(
            "/api/v1/auth/token", data={"username": username, "password": password}
        )
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield client


def day_zero(office: httpx.Client, region: str) -> date:
    """The demo's day 0: the region's next working day after today."""
    zone = office.get(f"/api/v1/regions/{region}").json()["timezone"]
    holidays = {
        date.fromisoformat(h["day"])
        for h in office.get(f"/api/v1/regions/{region}/holidays").json()
    }
    return next_working_day(datetime.now(ZoneInfo(zone)).date(), holidays)


def plan_and_publish(office: httpx.Client, region: str, day: date) -> None:
    answer = office.post(
        "/api/v1/plans",
        json={
            "region": region,
            "starts_on": day.isoformat(),
            "time_limit_seconds": 2,
            "publish": True,
        },
    )
    assert answer.status_code == 202, answer.text
    job = answer.json()
    deadline = time.monotonic() + PLAN_LIMIT_SECONDS
    while job["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, f"plan job did not end: {job}"
        time.sleep(0.5)
        job = office.get(f"/api/v1/jobs/{job['id']}").json()
    assert job["status"] == "succeeded", job


def published_routes(server: Server, region: str) -> list[Route]:
    """Day 0 of ``region`` planned and published; its routes of two stops or more, still all
    scheduled, longest first."""
    with signed_in_client(server, *DISPATCHER) as office:
        day = day_zero(office, region)
        plan_and_publish(office, region, day)
        visits = office.get(
            "/api/v1/visits",
            params={"region": region, "date": day.isoformat(), "limit": 500},
        ).json()["items"]
    by_technician: dict[str, list[dict]] = {}
    for visit in visits:
        if visit["technician"] is not None:
            by_technician.setdefault(visit["technician"], []).append(visit)
    routes = [
        Route(
            technician=code,
            username=f"t{code.removeprefix('T-')}",
            day=day,
            visits=sorted(stops, key=lambda v: v["planned_start"]),
        )
        for code, stops in by_technician.items()
        if len(stops) >= 2 and all(v["status"] == "scheduled" for v in stops)
    ]
    routes.sort(key=lambda r: (-len(r.visits), r.technician))
    assert len(routes) >= 4, f"too few routes to test with in {region}: {by_technician}"
    return routes


def report(server: Server, route: Route, visit: str, status: str, **extra: object) -> None:
    """``route``'s technician reports through the mobile API, as the phone does."""
    with signed_in_client(server, route.username, TECHNICIAN_PASSWORD) as phone:
        day = phone.get("/api/v1/me/day", params={"date": route.day.isoformat()}).json()
        assert day["technician"] == route.technician
        revision = next(s["revision"] for s in day["stops"] if s["visit"] == visit)
        answer = phone.post(
            f"/api/v1/me/visits/{visit}/status",
            json={"status": status, **extra},
            headers={"If-Match": f'"{revision}"', "Idempotency-Key": str(uuid.uuid4())},
        )
        assert answer.status_code == 204, answer.text


def clock(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(ZONE)).strftime("%H:%M")


@pytest.fixture(scope="module")
def routes(demo_server: Server) -> list[Route]:
    return published_routes(demo_server, REGION)


def open_day(open_page, route: Route):  # type: ignore[no-untyped-def]
    page = open_page(f"/tech?date={route.day.isoformat()}", **PHONE)
    sign_in(page, route.username, TECHNICIAN_PASSWORD)
    page.locator("li.stop").first.wait_for()
    return page


def card(page, visit: str):  # type: ignore[no-untyped-def]
    return page.locator(f'li.stop[data-visit="{visit}"]')


def test_a_technician_sees_their_stops_in_order(open_page, screenshot, routes) -> None:  # type: ignore[no-untyped-def]
    route = routes[0]
    page = open_day(open_page, route)
    assert page.locator("li.stop").evaluate_all("cards => cards.map(c => c.dataset.visit)") == (
        route.codes
    )
    first = route.visits[0]
    stop = card(page, first["code"])
    planned = f"{clock(first['planned_start'])}\u2013{clock(first['planned_end'])}"
    assert stop.locator(".planned").inner_text() == planned
    assert f"Times in {ZONE}" in page.locator("#zone-note").inner_text()
    assert stop.locator(".pill").inner_text() == "Scheduled"
    call = stop.get_by_role("link", name="Call")
    if call.count():
        assert call.get_attribute("href").startswith("tel:+")
    for skill in first["skills"]:
        assert skill in stop.locator(".skills").inner_text()
    # Only setting off is offered on a scheduled stop, as one big button.
    assert [b.strip() for b in stop.locator("button.action .action-label").all_inner_texts()] == [
        "En route"
    ]
    box = stop.get_by_role("button", name="En route").bounding_box()
    assert box["height"] >= 48
    assert box["width"] >= 300
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sideways
    screenshot(page, "tech-day")


def test_a_technician_reports_en_route_on_site_and_completed(  # type: ignore[no-untyped-def]
    open_page, screenshot, routes, demo_server
) -> None:
    route = routes[1]
    code = route.codes[0]
    page = open_day(open_page, route)
    stop = card(page, code)
    stop.get_by_role("button", name="En route").click()
    card(page, code).locator(".pill", has_text="En route").wait_for()
    # The phone shares its position (PHONE grants it), so it went with the report.
    assert "is now en route; your position was sent" in page.locator("#messages").inner_text()
    card(page, code).get_by_role("button", name="On site").click()
    card(page, code).locator(".pill", has_text="On site").wait_for()
    card(page, code).get_by_role("button", name="Completed").click()
    page.get_by_label("Work summary").fill("Replaced the switch; all ports tested.")
    screenshot(page, "tech-status")
    page.get_by_role("button", name="Send: completed").click()
    card(page, code).locator(".pill", has_text="Completed").wait_for()
    assert card(page, code).locator("button.action").count() == 0
    # The next stop is now the one to set off to.
    assert card(page, route.codes[1]).get_by_role("button", name="En route").is_visible()

    page.reload()
    card(page, code).locator(".pill", has_text="Completed").wait_for()
    assert "Replaced the switch; all ports tested." in card(page, code).inner_text()
    with signed_in_client(demo_server, *DISPATCHER) as office:
        visit = office.get(f"/api/v1/visits/{code}").json()
    assert visit["status"] == "completed"
    assert visit["actual_start"] is not None
    assert visit["actual_end"] is not None


def test_only_the_transitions_allowed_now_are_offered(open_page, routes, demo_server) -> None:  # type: ignore[no-untyped-def]
    """On a visit under way: on site or failed, never en route again nor completed before
    arriving; the other stops offer nothing until it is over."""
    route = routes[2]
    first, second = route.codes[:2]
    report(demo_server, route, first, "en_route")
    page = open_day(open_page, route)
    labels = card(page, first).locator("button.action .action-label").all_inner_texts()
    assert sorted(label.strip() for label in labels) == ["Failed", "On site"]
    assert card(page, second).locator("button").count() == 0
    assert "Finish your visit under way first" in card(page, second).inner_text()

    # A failure needs its reason; the form says so instead of sending an empty one.
    card(page, first).get_by_role("button", name="Failed").click()
    page.get_by_role("button", name="Send: failed").click()
    assert page.get_by_label("Reason").evaluate("field => !field.validity.valid")
    page.get_by_label("Reason").fill("Customer's office closed; nobody on site.")
    page.get_by_role("button", name="Send: failed").click()
    card(page, first).locator(".pill", has_text="Failed").wait_for()
    assert card(page, first).locator("button.action").count() == 0


def test_a_stale_revision_shows_the_problem_and_reloads(open_page, routes, demo_server) -> None:  # type: ignore[no-untyped-def]
    """The visit changed since the page loaded it (another tap, another device): the 409 is
    shown and the day reloaded, so the buttons match the visit again."""
    route = routes[3]
    last = route.codes[-1]
    page = open_day(open_page, route)
    report(demo_server, route, last, "en_route")  # behind the page's back
    card(page, last).get_by_role("button", name="En route").click()
    page.locator("#messages .banner.error").wait_for()
    assert last in page.locator("#messages").inner_text()
    card(page, last).locator(".pill", has_text="En route").wait_for()
    labels = card(page, last).locator("button.action .action-label").all_inner_texts()
    assert sorted(label.strip() for label in labels) == ["Failed", "On site"]


def test_an_empty_day_says_so_and_offers_the_next(open_page, routes) -> None:  # type: ignore[no-untyped-def]
    route = routes[0]
    page = open_page("/tech?date=2030-06-09", **PHONE)
    sign_in(page, route.username, TECHNICIAN_PASSWORD)
    page.get_by_role("heading", name="No visits planned for Sun 9 Jun").wait_for()
    page.get_by_role("button", name="Next day: Mon 10 Jun").click()
    page.get_by_role("heading", name="Mon 10 Jun").first.wait_for()
    assert page.url.endswith("date=2030-06-10")
    page.get_by_role("button", name="Today").click()
    page.get_by_role("heading", name="Today,").wait_for()


def test_only_technicians_sign_in_and_sign_out_works(open_page, routes) -> None:  # type: ignore[no-untyped-def]
    page = open_page("/tech", **PHONE)
    sign_in(page, *DISPATCHER)
    page.locator("#messages").get_by_text("This page is for technician accounts").wait_for()
    assert page.get_by_label("Username").is_visible()
    sign_in(page, routes[0].username, TECHNICIAN_PASSWORD)
    page.get_by_role("heading", name="Today,").wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").wait_for()
    page.reload()
    page.get_by_label("Username").wait_for()


def test_an_unreachable_server_is_said_not_a_blank_page(open_page, routes) -> None:  # type: ignore[no-untyped-def]
    route = routes[0]
    page = open_day(open_page, route)
    page.context.set_offline(True)
    try:
        card(page, route.codes[0]).get_by_role("button", name="En route").click()
        page.locator("#messages").get_by_text("your last action was not sent").wait_for()
        assert page.locator("li.stop").count() == len(route.codes)  # the day stays on screen
    finally:
        page.context.set_offline(False)
    assert card(page, route.codes[0]).locator(".pill").inner_text() == "Scheduled"
