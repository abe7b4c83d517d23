"""Accessibility of the three pages in their main states: axe-core finds no serious or critical
violation (WCAG 2.x A/AA and best practices: contrast, labels, names, landmarks, ARIA), and a
visit can be moved with the console's form by keyboard alone.

The console works on the demo's first region and day 0 like the other console tests; the
technician view and the tracking page on a region of their own, planned and published here
through the API (the other modules take MSK-S and MSK-N)."""

from __future__ import annotations

import re

import pytest

from tests.browser.axe_support import assert_accessible
from tests.browser.conftest import DISPATCHER, TECHNICIAN_PASSWORD, Server, sign_in
from tests.browser.console_support import (
    PANELS,
    READY,
    SLOW,
    WIDE,
    open_console,
    placed_between_two,
    visit_of,
    widest_gap_position,
)
from tests.browser.test_technician_view import Route, published_routes, report
from tests.browser.test_tracking_page import tracking_link

REGION = "MSK-E"
PHONE = {"viewport": {"width": 390, "height": 844}, "timezone_id": "Europe/Moscow"}
TAB_LIMIT = 400  # presses: more means the control is not reachable in any sensible way


@pytest.fixture(scope="module")
def routes(demo_server: Server) -> list[Route]:
    return published_routes(demo_server, REGION)


# The dispatcher console ----------------------------------------------------------------------


def test_the_console_sign_in_and_a_board_that_cannot_load(open_page, region, day0) -> None:  # type: ignore[no-untyped-def]
    page = open_page(f"/console#region={region['code']}&date={day0}", **WIDE)
    page.get_by_label("Username").wait_for()
    assert_accessible(page, "the console's sign-in form")

    page.route("**/api/v1/regions/*/board*", lambda route: route.abort("connectionrefused"))
    sign_in(page, *DISPATCHER)
    page.wait_for_selector("body[data-board-state=error]")
    assert_accessible(page, "the console's day board that could not load")


def test_the_console_day_board_while_planning_and_once_published(  # type: ignore[no-untyped-def]
    open_page, region, day0
) -> None:
    page = open_console(open_page, region["code"], day0)
    page.wait_for_selector(PANELS)
    assert_accessible(page, "the console's day board")

    # The job's progress stays on screen while axe reads it: its polls say "running" until then.
    holding = [True]
    page.route("**/api/v1/jobs/*", lambda route: still_running(route, holding[0]))
    page.get_by_role("button", name="Optimise", exact=True).click()
    page.get_by_role("progressbar").wait_for()
    assert_accessible(page, "the console's day board while optimising")
    holding[0] = False
    page.get_by_text(re.compile(r"Plan v\d+ for .* is ready")).wait_for(timeout=SLOW)
    page.wait_for_selector(READY)
    assert_accessible(page, "the console's preview of a draft plan")

    page.get_by_role("button", name=re.compile(r"Publish plan v\d+")).click()
    page.get_by_text(re.compile(r"Published plan v\d+")).wait_for()
    page.wait_for_selector(READY)
    page.wait_for_selector(PANELS)
    assert page.locator("svg.routes-map path.route").count() > 0
    page.locator(".timeline .visit[data-visit]").first.click()
    page.locator("button.route-key").first.click()
    assert_accessible(page, "the console's published day with a visit chosen and a route shown")


def still_running(route, holding: bool) -> None:  # type: ignore[no-untyped-def]
    """A planning job's poll answered, while ``holding``, as if the job had not ended yet."""
    if not holding:
        route.fallback()
        return
    answer = route.fetch()
    job = answer.json()
    route.fulfill(response=answer, json={**job, "status": "running"})


def test_the_console_week(open_page, region, day0) -> None:  # type: ignore[no-untyped-def]
    page = open_console(open_page, region["code"], day0, view="week")
    page.wait_for_selector("body[data-week-state=ready]")
    assert_accessible(page, "the console's week")


def test_the_console_request_form_and_its_field_errors(open_page, region, day0) -> None:  # type: ignore[no-untyped-def]
    page = open_console(open_page, region["code"], day0, view="register")
    register = page.get_by_role("button", name="Register request")
    register.wait_for()
    assert_accessible(page, "the console's request form")

    register.click()
    page.locator("#err-description").wait_for()
    assert_accessible(page, "the console's request form with field errors")


def test_a_visit_moves_and_is_pinned_by_keyboard_alone(open_page, office, region, day0) -> None:  # type: ignore[no-untyped-def]
    code = region["code"]
    roomy, _, visit = placed_between_two(office, code, day0)
    position = widest_gap_position(office, code, day0, roomy)
    page = open_page(f"/console#region={code}&date={day0}", **WIDE)
    page.get_by_label("Username").wait_for()

    # Sign in: the username field has the focus first, then the form is all Tab and type.
    tab_to(page, "#username")
    page.keyboard.type(DISPATCHER[0])
    page.keyboard.press("Tab")
    page.keyboard.type(DISPATCHER[1])
    page.keyboard.press("Enter")
    page.wait_for_selector(READY)

    tab_to(page, "#move-visit")
    arrow_to(page, visit)
    page.keyboard.press("Tab")
    assert focused(page) == "move-technician"
    arrow_to(page, roomy)
    tab_to(page, "#move-position")
    page.keyboard.type(str(position))
    tab_to(page, "#move-pin")
    page.keyboard.press("Space")
    tab_to(page, "#move-form button[type=submit]")
    page.keyboard.press("Enter")
    page.get_by_text(f"{visit} moved to {roomy}").wait_for()

    moved = visit_of(office, visit)
    assert moved["technician"] == roomy
    assert moved["pinned_technician"] == roomy
    # The move form stays usable: the visit is chosen again and Unpin is reachable by Tab.
    page.wait_for_selector(READY)
    tab_to(page, "#unpin-button")
    page.keyboard.press("Enter")
    page.get_by_text(f"{visit} unpinned").wait_for()
    assert visit_of(office, visit)["pinned_technician"] is None


def focused(page) -> str:  # type: ignore[no-untyped-def]
    return page.evaluate("document.activeElement && document.activeElement.id")


def tab_to(page, selector: str) -> None:  # type: ignore[no-untyped-def]
    """Presses Tab until the element at ``selector`` has the focus."""
    for _ in range(TAB_LIMIT):
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    pytest.fail(f"{selector} not reached in {TAB_LIMIT} presses of Tab")


def arrow_to(page, value: str) -> None:  # type: ignore[no-untyped-def]
    """Presses the up or down arrow on the focused select until ``value`` is chosen."""
    wanted, now = page.evaluate(
        "v => [[...document.activeElement.options].findIndex(o => o.value === v),"
        " document.activeElement.selectedIndex]",
        value,
    )
    assert wanted >= 0, f"{value} is not an option of #{focused(page)}"
    key = "ArrowDown" if wanted > now else "ArrowUp"
    for _ in range(abs(wanted - now)):
        page.keyboard.press(key)
    assert page.evaluate("document.activeElement.value") == value


# The technician's phone view -----------------------------------------------------------------


def test_the_technician_sign_in_and_day(open_page, routes) -> None:  # type: ignore[no-untyped-def]
    route = routes[0]
    page = open_page(f"/tech?date={route.day.isoformat()}", **PHONE)
    page.get_by_label("Username").wait_for()
    assert_accessible(page, "the technician view's sign-in form")

    sign_in(page, route.username, TECHNICIAN_PASSWORD)
    page.locator("li.stop").first.wait_for()
    assert page.locator("button.action").count() > 0
    assert_accessible(page, "the technician's day")

    # A report that needs words opens its form.
    page.locator(f'li.stop[data-visit="{route.codes[0]}"]').get_by_role(
        "button", name="En route"
    ).click()
    page.locator("li.stop .pill", has_text="En route").wait_for()
    page.get_by_role("button", name="Failed").click()
    page.get_by_role("button", name="Send: failed").wait_for()
    assert_accessible(page, "the technician's day with the report form open")


# The customer's tracking page ----------------------------------------------------------------


def test_the_tracking_page_and_an_unknown_link(open_page, routes, demo_server) -> None:  # type: ignore[no-untyped-def]
    route = routes[1]
    page = open_page(tracking_link(demo_server, route.codes[1]), **PHONE)
    page.locator("#headline").wait_for()
    assert_accessible(page, "the tracking page of a scheduled visit")

    report(demo_server, route, route.codes[0], "en_route")
    report(demo_server, route, route.codes[0], "failed", summary="Nobody at the site.")
    page = open_page(tracking_link(demo_server, route.codes[0]), **PHONE)
    page.locator("#alert").wait_for()
    assert_accessible(page, "the tracking page of a failed visit")

    page = open_page("/track/not-a-real-link-not-a-real-link-000", **PHONE)
    page.get_by_role("heading", name="This link does not work any more").wait_for()
    assert_accessible(page, "the tracking page of an unknown link")
