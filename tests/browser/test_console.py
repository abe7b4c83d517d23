"""The dispatcher console in a browser: the day board (timeline, map, panels), optimising and
publishing a day, moving visits by drag and drop and with the keyboard form, pinning, request
intake and the week. Each test makes the visits it moves, so the tests run in any order on the
demo server they share with other browser tests."""

from __future__ import annotations

import re
from datetime import date

from tests.browser.conftest import DISPATCHER, sign_in
from tests.browser.console_support import (
    PANELS,
    READY,
    SLOW,
    WIDE,
    board,
    drag,
    ok,
    open_console,
    placed_between_two,
    site_with_open_contract,
    visit_of,
    widest_gap_position,
    widest_gap_x,
)

# The tests -----------------------------------------------------------------------------------


def test_the_console_opens_on_a_day_keeps_it_in_the_url_and_signs_out(open_page) -> None:  # type: ignore[no-untyped-def]
    page = open_page("/console", **WIDE)
    sign_in(page, *DISPATCHER)
    page.wait_for_selector(READY)
    assert re.search(r"region=[^&]+&date=\d{4}-\d{2}-\d{2}$", page.url), page.url
    assert float(page.evaluate("document.body.dataset.boardRenderedMs")) > 0
    chosen = page.url
    page.get_by_role("button", name="Next day").click()
    page.wait_for_selector(READY)
    assert page.url != chosen
    moved = page.url
    page.reload()
    page.wait_for_selector(READY)
    assert page.url == moved
    assert page.get_by_label("Day", exact=True).input_value() == moved.rsplit("date=", 1)[1]
    assert page.get_by_text(re.compile(r"Times in \S+/\S+")).first.is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username").wait_for()


def test_optimising_shows_the_job_then_publishing_puts_routes_on_board_and_map(  # type: ignore[no-untyped-def]
    open_page, screenshot, office, region, day0
) -> None:
    page = open_console(open_page, region["code"], day0)
    page.get_by_role("button", name="Optimise", exact=True).click()
    page.get_by_role("progressbar").wait_for()
    page.get_by_text("Optimisation finished").wait_for(timeout=SLOW)
    page.get_by_text(re.compile(r"Plan v\d+ for .* is ready")).wait_for(timeout=SLOW)
    figures = page.locator("dl.figures")
    assert "Assigned" in (figures.text_content() or "")
    publish = page.get_by_role("button", name=re.compile(r"Publish plan v\d+"))
    assert publish.is_enabled()

    publish.click()
    page.get_by_text(re.compile(r"Published plan v\d+: \d+ visits scheduled")).wait_for()
    page.wait_for_selector(READY)
    assert page.locator(".timeline .row[data-technician]").count() >= 2
    assert page.locator(".timeline .row[data-technician] .visit[data-visit]").count() > 0
    assert page.locator("svg.routes-map path.route").count() > 0
    assert page.locator("svg.routes-map .stop").count() > 0
    assert page.locator(".plan-state.published").is_visible()
    plans = ok(
        office.get(
            "/api/v1/plans",
            params={"region": region["code"], "starts_on": day0, "status": "published"},
        )
    )
    assert plans["total"] >= 1
    assert any(t["stops"] for t in board(office, region["code"], day0)["technicians"])
    page.wait_for_selector(PANELS)
    assert page.locator(".sla-panel h2", has_text="SLA at risk").is_visible()
    assert page.locator(".quota-panel h2", has_text="Quotas").is_visible()
    screenshot(page, "console-board")

    page.locator("button.route-key").first.click()
    assert page.locator("svg.routes-map.focused").count() == 1
    page.locator(".map-panel").scroll_into_view_if_needed()
    screenshot(page, "console-map")


def test_dragging_a_visit_onto_another_technician_moves_it(open_page, office, region, day0) -> None:  # type: ignore[no-untyped-def]
    code = region["code"]
    roomy, other, visit = placed_between_two(office, code, day0)
    page = open_console(open_page, code, day0)
    block = page.locator(f'.timeline .row[data-technician="{other}"] [data-visit="{visit}"]')
    page.locator(".timeline").scroll_into_view_if_needed()
    x, y, position = widest_gap_x(page, roomy)

    drag(page, block, x, y)
    page.get_by_text(f"{visit} moved to {roomy}").wait_for()

    page.reload()
    page.wait_for_selector(READY)
    assert page.locator(f'.row[data-technician="{roomy}"] [data-visit="{visit}"]').count() == 1
    assert page.locator(f'.row[data-technician="{other}"] [data-visit="{visit}"]').count() == 0
    assert visit_of(office, visit)["technician"] == roomy
    route = next(t for t in board(office, code, day0)["technicians"] if t["technician"] == roomy)
    assert [s["visit"] for s in route["stops"]].index(visit) == position


def test_the_keyboard_form_moves_and_pins_a_visit(open_page, office, region, day0) -> None:  # type: ignore[no-untyped-def]
    code = region["code"]
    roomy, _, visit = placed_between_two(office, code, day0)
    position = widest_gap_position(office, code, day0, roomy)
    page = open_console(open_page, code, day0)

    page.get_by_label("Visit", exact=True).select_option(visit)
    page.get_by_label("To technician").select_option(roomy)
    page.get_by_label("Position in route").fill(str(position))
    page.get_by_label("Pin it there for later plans").check()
    page.get_by_role("button", name="Move visit").focus()
    page.keyboard.press("Enter")
    page.get_by_text(f"{visit} moved to {roomy}").wait_for()

    moved = visit_of(office, visit)
    assert moved["technician"] == roomy
    assert moved["pinned_technician"] == roomy
    assert page.locator(f'.row[data-technician="{roomy}"] [data-visit="{visit}"].pinned').count()
    ok(office.post(f"/api/v1/visits/{visit}/unpin"))


def test_pinning_and_unpinning_a_visit_marks_it_and_keeps_it(
    open_page, office, region, day0
) -> None:  # type: ignore[no-untyped-def]
    code = region["code"]
    _, roomy, visit = placed_between_two(office, code, day0)  # the visit is on the second
    page = open_console(open_page, code, day0)
    block = page.locator(f'.timeline [data-visit="{visit}"]')
    assert block.locator(".icon-pin").count() == 0

    block.click()
    page.get_by_role("button", name="Pin where planned").click()
    page.get_by_text(f"{visit} pinned to {roomy}").wait_for()
    assert page.locator(f'.timeline [data-visit="{visit}"] .icon-pin').count() == 1
    assert visit_of(office, visit)["pinned_technician"] == roomy

    page.get_by_role("button", name="Unpin").click()
    page.get_by_text(f"{visit} unpinned").wait_for()
    assert page.locator(f'.timeline [data-visit="{visit}"] .icon-pin').count() == 0
    assert visit_of(office, visit)["pinned_technician"] is None


def test_a_stale_move_shows_the_problem_reloads_and_then_succeeds(
    open_page, office, region, day0
) -> None:  # type: ignore[no-untyped-def]
    code = region["code"]
    roomy, other, visit = placed_between_two(office, code, day0)
    page = open_console(open_page, code, day0)
    # Someone else changes the visit after the board was drawn.
    ok(office.post(f"/api/v1/visits/{visit}/pin", json={}))
    ok(office.post(f"/api/v1/visits/{visit}/unpin"))

    page.get_by_label("Visit", exact=True).select_option(visit)
    page.get_by_label("To technician").select_option(roomy)
    page.get_by_role("button", name="Move visit").click()
    message = page.locator("#messages .banner.error")
    message.wait_for()
    assert re.search(rf"{visit} is at revision \d+", message.inner_text())
    assert visit_of(office, visit)["technician"] == other
    page.wait_for_selector(READY)
    assert page.locator(f'.row[data-technician="{other}"] [data-visit="{visit}"]').count() == 1

    # The reloaded board carries the new revision: the same move now goes through.
    page.get_by_label("Visit", exact=True).select_option(visit)
    page.get_by_label("To technician").select_option(roomy)
    page.get_by_role("button", name="Move visit").click()
    page.get_by_text(f"{visit} moved to {roomy}").wait_for()
    assert visit_of(office, visit)["technician"] == roomy


def test_registering_a_request_shows_field_errors_then_the_visit_waits_unassigned(  # type: ignore[no-untyped-def]
    open_page, screenshot, office, region, day0
) -> None:
    code = region["code"]
    where = site_with_open_contract(office, code)
    page = open_console(open_page, code, day0, view="register")
    page.get_by_label("Customer *").select_option(where["customer"])
    page.get_by_label("Site *").select_option(where["site"])
    page.get_by_label("Contract *").select_option(where["contract"])
    page.get_by_label("Contact name *").fill("Irina Petrova")

    page.get_by_role("button", name="Register request").click()
    page.locator("#err-description").wait_for()
    assert page.get_by_label("What is wrong *").get_attribute("aria-invalid") == "true"
    assert "description" in page.locator("#messages").inner_text()
    screenshot(page, "console-register-errors")

    page.get_by_label("What is wrong *").fill("Switch in the server room keeps rebooting")
    page.get_by_label("Networking: LAN, Wi-Fi, routers, firewalls", exact=True).check()
    page.get_by_label("Duration (minutes)").fill("45")
    page.get_by_role("button", name="Register request").click()
    created = page.locator("[data-created-visit]")
    created.wait_for()
    visit = created.get_attribute("data-created-visit")
    assert visit
    assert visit_of(office, visit)["skills"] == {"network": 2}
    assert page.locator("#err-description").count() == 0
    screenshot(page, "console-register")

    page.get_by_role("button", name=f"Show {visit} on the day board").click()
    page.wait_for_selector(READY)
    waiting = page.locator(f'.unassigned-panel [data-visit="{visit}"]')
    if not waiting.is_visible():
        page.locator(".unassigned-panel details.more summary").click()
    waiting.wait_for()
    assert "Not planned yet" in waiting.inner_text()


def test_the_week_shows_each_technician_per_day_and_opens_a_day(  # type: ignore[no-untyped-def]
    open_page, screenshot, office, region, day0
) -> None:
    code = region["code"]
    page = open_console(open_page, code, day0, view="week")
    page.wait_for_selector("body[data-week-state=ready]")
    days = page.locator("button.day-open")
    assert days.count() == 7
    technicians = board(office, code, day0)["technicians"]
    assert page.locator("[data-week-technician]").count() == len(technicians)
    first = page.locator(f'[data-week-technician="{technicians[0]["technician"]}"] td').first
    assert re.search(r"\d+ visits?|off", first.inner_text())
    screenshot(page, "console-week")

    days.nth(1).click()
    page.wait_for_selector(READY)
    assert "view=week" not in page.url
    second = date.fromisoformat(day0).toordinal() + 1
    assert page.url.endswith(f"date={date.fromordinal(second).isoformat()}")
    assert page.get_by_role("link", name="Day board").get_attribute("aria-current") == "page"


def test_a_board_that_cannot_load_says_so_and_offers_a_retry(open_page, region, day0) -> None:  # type: ignore[no-untyped-def]
    page = open_page(f"/console#region={region['code']}&date={day0}", **WIDE)
    page.route("**/api/v1/regions/*/board*", lambda route: route.abort("connectionrefused"))
    sign_in(page, *DISPATCHER)
    page.wait_for_selector("body[data-board-state=error]")
    # The network failure is named (common.js words it; the console adds nothing blank).
    assert re.search(r"reach", page.locator("#messages").inner_text(), re.IGNORECASE)
    assert page.get_by_text("The day board could not be loaded.").is_visible()

    page.unroute("**/api/v1/regions/*/board*")
    page.get_by_role("button", name="Try again").click()
    page.wait_for_selector(READY)
    assert page.locator(".timeline .row[data-technician]").count() >= 1
