"""The dispatcher console in a browser: the day board (timeline, map, panels), optimising and
publishing a day, moving visits by drag and drop and with the keyboard form, pinning, request
intake and the week. Each test makes the visits it moves, so the tests run in any order on the
demo server they share with other browser tests."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.browser.conftest import DISPATCHER, sign_in

READY = "body[data-board-state=ready]"
PANELS = "body[data-panels-state=ready]"
WIDE = {"viewport": {"width": 1440, "height": 900}}
SLOW = 60_000  # ms: a planning job on a busy CI machine


# The API, as a dispatcher: test data and checks ----------------------------------------------


@pytest.fixture
def office(demo_server) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    """An HTTP client signed in as the demo dispatcher."""
    with httpx.Client(base_url=demo_server.base, timeout=30) as client:
        answer = client.post(
            "/api/v1/auth/token", data={"username": DISPATCHER[0], "password": DISPATCHER[1]}
        )
        answer.raise_for_status()
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        yield client


def _ok(answer: httpx.Response) -> Any:
    assert answer.is_success, f"{answer.request.method} {answer.request.url}: {answer.text}"
    return answer.json()


@pytest.fixture
def region(office: httpx.Client) -> dict[str, Any]:
    """The demo's first region (by code)."""
    return _ok(office.get("/api/v1/regions"))["items"][0]


@pytest.fixture
def day0(office: httpx.Client, region: dict[str, Any]) -> str:
    """The seed's day 0: the first local day from today on that visits of the region open."""
    today = datetime.now(ZoneInfo(region["timezone"])).date().isoformat()
    visits = _ok(office.get("/api/v1/visits", params={"region": region["code"], "limit": 500}))
    return min(v["earliest_date"] for v in visits["items"] if v["earliest_date"] >= today)


def _site_with_open_contract(office: httpx.Client, region: str) -> dict[str, str]:
    """A time-and-materials contract valid today (no quota to run out) and a site of its
    customer in ``region``."""
    contracts = _ok(
        office.get(
            "/api/v1/contracts",
            params={"kind": "time_and_materials", "valid_on": date.today().isoformat()},  # noqa: DTZ011
        )
    )["items"]
    for contract in contracts:
        sites = _ok(
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
    where = _site_with_open_contract(office, region)
    request = _ok(
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
    visit = _ok(
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
    return _ok(office.get(f"/api/v1/regions/{region}/board", params={"date": day}))


def _free_minutes(tech: dict[str, Any]) -> float:
    totals = tech["totals"]
    return totals["shift_minutes"] - totals["work_minutes"] - totals["travel_seconds"] / 60


def two_free_technicians(office: httpx.Client, region: str, day: str) -> tuple[str, str]:
    """The two technicians with the most free shift time on ``day``."""
    working = [t for t in board(office, region, day)["technicians"] if t["shifts"]]
    working.sort(key=_free_minutes, reverse=True)
    assert len(working) >= 2, f"fewer than two technicians work in {region} on {day}"
    return working[0]["technician"], working[1]["technician"]


def placed_on(office: httpx.Client, region: str, day: str, visit: str, technician: str) -> str:
    """``visit`` put on ``technician``'s route of ``day`` where it adds the least travel."""
    _ok(office.post(f"/api/v1/visits/{visit}/assign", json={"technician": technician, "date": day}))
    return visit


def widest_gap_position(office: httpx.Client, region: str, day: str, technician: str) -> int:
    """The place in ``technician``'s route with the most free time around it."""
    tech = next(
        t for t in board(office, region, day)["technicians"] if t["technician"] == technician
    )
    shift = tech["shifts"][0]
    edges = [datetime.fromisoformat(shift["starts_at"])]
    for stop in tech["stops"]:
        edges += [
            datetime.fromisoformat(stop["planned_start"]),
            datetime.fromisoformat(stop["planned_end"]),
        ]
    edges.append(datetime.fromisoformat(shift["ends_at"]))
    gaps = [edges[2 * k + 1] - edges[2 * k] for k in range(len(edges) // 2)]
    return max(range(len(gaps)), key=gaps.__getitem__)


def visit_of(office: httpx.Client, code: str) -> dict[str, Any]:
    return _ok(office.get(f"/api/v1/visits/{code}"))


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
    plans = _ok(
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


def timeline_visits(page) -> set[str]:  # type: ignore[no-untyped-def]
    return set(
        page.locator(".timeline .row[data-technician] .visit[data-visit]").evaluate_all(
            "blocks => blocks.map(b => b.dataset.visit)"
        )
    )


def visits_on(board: dict[str, Any]) -> set[str]:
    return {s["visit"] for t in board["technicians"] for s in t["stops"]}


def test_after_optimising_the_board_previews_the_draft_until_it_is_published(  # type: ignore[no-untyped-def]
    open_page, screenshot, office, region, day0
) -> None:
    code = region["code"]
    page = open_console(open_page, code, day0)
    page.get_by_role("button", name="Optimise", exact=True).click()
    page.get_by_text("Optimisation finished").wait_for(timeout=SLOW)
    banner = page.locator("#preview-banner")
    banner.wait_for(timeout=SLOW)
    page.wait_for_selector(READY)
    plan = int(banner.get_attribute("data-plan") or 0)
    draft = _ok(office.get(f"/api/v1/plans/{plan}"))
    assert draft["status"] == "draft"
    assert f"Preview of draft plan v{draft['version']} — not published yet" in banner.inner_text()
    assert page.evaluate("document.body.dataset.boardShows") == f"plan-{plan}"
    previewed = _ok(
        office.get(f"/api/v1/regions/{code}/board", params={"date": day0, "plan": plan})
    )
    assert timeline_visits(page) == visits_on(previewed)
    blocks = page.locator(".timeline .visit[data-visit]")
    assert blocks.count() == page.locator(".timeline .visit[data-visit].proposed").count() > 0
    assert page.locator("svg.routes-map.preview path.route").count() > 0
    # Moves act on the routes in force: off while previewing, and the form says so.
    assert page.get_by_role("button", name="Move visit").is_disabled()
    assert page.get_by_label("To technician").is_disabled()
    assert "Moves act on the routes in force" in page.locator("#moves-off").inner_text()
    screenshot(page, "console-draft-preview")

    page.get_by_role("button", name="Back to routes in force").first.click()
    page.wait_for_selector("body[data-board-shows=in-force]")
    page.wait_for_selector(READY)
    assert banner.count() == 0
    assert timeline_visits(page) == visits_on(board(office, code, day0))
    assert page.locator(".timeline .visit.proposed").count() == 0

    page.get_by_role("button", name=f"Preview plan v{draft['version']}").click()
    page.wait_for_selector(f"body[data-board-shows=plan-{plan}]")
    page.wait_for_selector(READY)
    page.get_by_role("button", name=f"Publish plan v{draft['version']}").click()
    page.get_by_text(re.compile(rf"Published plan v{draft['version']}: \d+ visits")).wait_for()
    page.wait_for_selector("body[data-board-shows=in-force]")
    page.wait_for_selector(READY)
    assert page.locator("#preview-banner").count() == 0
    assert page.locator(".plan-state.published").is_visible()
    in_force = board(office, code, day0)
    assert timeline_visits(page) == visits_on(in_force) == visits_on(previewed)
    assert _ok(office.get(f"/api/v1/plans/{plan}"))["status"] == "published"


def skilled_and_unskilled(office: httpx.Client, region: str, day: str) -> tuple[str, str, str, int]:
    """Two technicians working on ``day`` and a skill the first has at a level the second
    lacks: (skilled, unskilled, skill, level)."""
    days = [t for t in board(office, region, day)["technicians"] if t["shifts"]]
    # The roomiest first: the skilled one takes a new visit.
    free = {t["technician"]: _free_minutes(t) for t in days}
    technicians = _ok(office.get("/api/v1/technicians", params={"region": region, "limit": 500}))
    staff = sorted(
        (t for t in technicians["items"] if t["code"] in free), key=lambda t: -free[t["code"]]
    )
    for skilled in staff:
        for skill, level in sorted(skilled["skills"].items()):
            for other in staff:
                if other["skills"].get(skill, 0) < level:
                    return skilled["code"], other["code"], skill, level
    pytest.fail(f"all technicians working in {region} on {day} have the same skills")


def test_dragging_over_a_technician_without_the_skill_level_warns(  # type: ignore[no-untyped-def]
    open_page, office, region, day0
) -> None:
    code = region["code"]
    skilled, unskilled, skill, level = skilled_and_unskilled(office, code, day0)
    visit = new_visit(office, code, day0, skills={skill: level})
    placed_on(office, code, day0, visit, skilled)
    page = open_console(open_page, code, day0)
    block = page.locator(f'.timeline .row[data-technician="{skilled}"] [data-visit="{visit}"]')
    assert f"needs {skill} {level}" in (block.get_attribute("aria-label") or "")
    target = page.locator(f'.timeline .row[data-technician="{unskilled}"] .track')
    page.locator(".timeline").scroll_into_view_if_needed()
    area = target.bounding_box()
    assert area is not None

    box = block.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + min(8, box["width"] / 2), box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2, steps=12)
    assert page.locator(f'.row.drop-warning[data-technician="{unskilled}"]').count() == 1
    assert f"lacks {skill} {level}" in page.locator(".drag-ghost").inner_text()
    page.keyboard.press("Escape")
    page.mouse.up()
    assert page.locator(".row.drop-warning, .drag-ghost").count() == 0
    assert visit_of(office, visit)["technician"] == skilled


def test_dragging_a_visit_onto_another_technician_moves_it(open_page, office, region, day0) -> None:  # type: ignore[no-untyped-def]
    code = region["code"]
    roomy, other = two_free_technicians(office, code, day0)
    visit = placed_on(office, code, day0, new_visit(office, code, day0), other)
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
    roomy, other = two_free_technicians(office, code, day0)
    visit = placed_on(office, code, day0, new_visit(office, code, day0), other)
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
    _ok(office.post(f"/api/v1/visits/{visit}/unpin"))


def test_pinning_and_unpinning_a_visit_marks_it_and_keeps_it(
    open_page, office, region, day0
) -> None:  # type: ignore[no-untyped-def]
    code = region["code"]
    roomy, _ = two_free_technicians(office, code, day0)
    visit = placed_on(office, code, day0, new_visit(office, code, day0), roomy)
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
    roomy, other = two_free_technicians(office, code, day0)
    visit = placed_on(office, code, day0, new_visit(office, code, day0), other)
    page = open_console(open_page, code, day0)
    # Someone else changes the visit after the board was drawn.
    _ok(office.post(f"/api/v1/visits/{visit}/pin", json={}))
    _ok(office.post(f"/api/v1/visits/{visit}/unpin"))

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
    where = _site_with_open_contract(office, code)
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
