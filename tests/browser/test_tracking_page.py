"""The customer's tracking page (/track/{token}) on a phone: the server renders the status
steps, the arrival window in the region's timezone (saying which), the technician's first name
and the stops before; the page then polls and changes as the technician reports, without a
reload. An unknown link gets a friendly page, not JSON.

Self-sufficient like the technician-view tests: this module plans and publishes day 0 of a
region of its own, and gets links through the dispatchers' tracking-link operation."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import DISPATCHER, Server
from tests.browser.test_technician_view import (
    ZONE,
    Route,
    published_routes,
    report,
    signed_in_client,
)

REGION = "MSK-N"
PHONE = {"viewport": {"width": 390, "height": 844}, "timezone_id": ZONE}


@pytest.fixture(scope="module")
def routes(demo_server: Server) -> list[Route]:
    return published_routes(demo_server, REGION)


def tracking_link(server: Server, visit: str) -> str:
    with signed_in_client(server, *DISPATCHER) as office:
        answer = office.post(f"/api/v1/visits/{visit}/tracking-link")
    assert answer.status_code == 201, answer.text
    return answer.json()["url"]


def local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(ZONE)).strftime("%H:%M")


def steps(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Each step's label and state (done, current, todo, stopped)."""
    return page.locator("#steps li").evaluate_all(
        "items => Object.fromEntries(items.map(i => [i.textContent, "
        "['done', 'current', 'todo', 'stopped'].find(c => i.classList.contains(c))]))"
    )


def test_the_page_follows_the_technician_without_a_reload(  # type: ignore[no-untyped-def]
    open_page, screenshot, routes, demo_server
) -> None:
    route = routes[0]
    first, second = route.visits[:2]
    page = open_page(f"{tracking_link(demo_server, second['code'])}?poll=1", **PHONE)
    assert page.locator("#headline").inner_text() == "Your visit is scheduled"
    assert steps(page) == {
        "Scheduled": "current",
        "On the way": "todo",
        "With you": "todo",
        "Done": "todo",
    }
    with signed_in_client(demo_server, *DISPATCHER) as office:
        shown = office.get(f"/api/v1/visits/{second['code']}").json()["arrival_window"]
    assert page.locator("#window").inner_text() == f"{local(shown[0])}\u2013{local(shown[1])}"
    assert page.locator("#zone").inner_text() == f"{ZONE} time (UTC+03:00)"
    assert page.locator("#technician").inner_text() != ""
    assert " " not in page.locator("#technician").inner_text()  # the first name only
    assert page.locator("#stops").inner_text() == "1 visit"
    assert "updates every second" in page.locator("#updated-line").inner_text()
    screenshot(page, "track-page")

    # The technician finishes the stop before, then sets off: the page follows by polling.
    navigation = page.evaluate("performance.getEntriesByType('navigation').length")
    page.evaluate("window.notReloaded = true")
    for status in ("en_route", "on_site", "completed"):
        report(demo_server, route, first["code"], status)
    page.locator("#stops", has_text="None: you are next").wait_for()
    report(demo_server, route, second["code"], "en_route")
    page.locator("#headline", has_text="Your technician is on the way").wait_for()
    assert steps(page) == {
        "Scheduled": "done",
        "On the way": "current",
        "With you": "todo",
        "Done": "todo",
    }
    report(demo_server, route, second["code"], "on_site")
    page.locator("#headline", has_text="Your technician is with you").wait_for()
    assert page.locator("#fact-window").is_hidden()  # arrived: no window any more
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("performance.getEntriesByType('navigation').length") == navigation
    screenshot(page, "track-page-on-site")


def test_the_page_catches_up_when_looked_at_again(open_page, routes, demo_server) -> None:  # type: ignore[no-untyped-def]
    """A page polling rarely updates at once when it becomes visible again (a phone taken out
    of a pocket)."""
    route = routes[1]
    visit = route.codes[0]
    page = open_page(f"{tracking_link(demo_server, visit)}?poll=300", **PHONE)
    assert page.locator("#headline").inner_text() == "Your visit is scheduled"
    report(demo_server, route, visit, "en_route")
    page.evaluate(
        "() => { Object.defineProperty(document, 'visibilityState', {value: 'visible', "
        "configurable: true}); document.dispatchEvent(new Event('visibilitychange')); }"
    )
    page.locator("#headline", has_text="Your technician is on the way").wait_for()


def test_a_failed_visit_is_shown_clearly(open_page, screenshot, routes, demo_server) -> None:  # type: ignore[no-untyped-def]
    route = routes[2]
    visit = route.codes[0]
    report(demo_server, route, visit, "en_route")
    report(demo_server, route, visit, "failed", summary="Nobody at the site.")
    page = open_page(tracking_link(demo_server, visit), **PHONE)
    assert "could not be finished" in page.locator("#headline").inner_text()
    assert page.locator("#alert").is_visible()
    assert set(steps(page).values()) == {"stopped"}
    assert page.locator("#fact-window").is_hidden()
    assert page.locator("#fact-technician").is_hidden()
    screenshot(page, "track-page-failed")


def test_the_first_paint_needs_no_script(open_page, routes, demo_server) -> None:  # type: ignore[no-untyped-def]
    route = routes[3]
    page = open_page(
        tracking_link(demo_server, route.codes[-1]), java_script_enabled=False, **PHONE
    )
    assert page.locator("#headline").inner_text() == "Your visit is scheduled"
    assert page.locator("#window").inner_text() != ""
    assert page.locator("#zone").inner_text() == f"{ZONE} time (UTC+03:00)"
    assert "reload the page" in page.locator("#updated-line").inner_text()


def test_an_unknown_link_gets_a_friendly_page(open_page, screenshot) -> None:  # type: ignore[no-untyped-def]
    page = open_page("/track/not-a-real-link-not-a-real-link-000", **PHONE)
    page.get_by_role("heading", name="This link does not work any more").wait_for()
    assert "ask the company that booked it for a new link" in page.inner_text("body")
    answer = page.request.get("/track/not-a-real-link-not-a-real-link-000")
    assert answer.status == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    screenshot(page, "track-not-found")
