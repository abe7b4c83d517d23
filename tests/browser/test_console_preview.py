"""The console's preview of a draft plan before it is published, and the warning when dragging a
visit onto a technician without the skill it needs."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.browser.console_support import (
    READY,
    SLOW,
    board,
    free_minutes,
    new_visit,
    ok,
    open_console,
    placed_on,
    visit_of,
)


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
    draft = ok(office.get(f"/api/v1/plans/{plan}"))
    assert draft["status"] == "draft"
    assert f"Preview of draft plan v{draft['version']} — not published yet" in banner.inner_text()
    assert page.evaluate("document.body.dataset.boardShows") == f"plan-{plan}"
    previewed = ok(office.get(f"/api/v1/regions/{code}/board", params={"date": day0, "plan": plan}))
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
    assert ok(office.get(f"/api/v1/plans/{plan}"))["status"] == "published"


def skilled_and_unskilled(office: httpx.Client, region: str, day: str) -> tuple[str, str, str, int]:
    """Two technicians working on ``day`` and a skill the first has at a level the second
    lacks: (skilled, unskilled, skill, level)."""
    days = [t for t in board(office, region, day)["technicians"] if t["shifts"]]
    # The roomiest first: the skilled one takes a new visit.
    free = {t["technician"]: free_minutes(t) for t in days}
    technicians = ok(office.get("/api/v1/technicians", params={"region": region, "limit": 500}))
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
