"""How long the dispatcher console takes to show a day: one region with 40 technicians and 400
visits planned and published, the console opened in Debian's Chromium (Playwright), time from
the start of the board's load (its API calls included) to the end of rendering.

    python -m benchmarks.console_render [--technicians 40] [--visits 400] [--runs 7]

Skipped with a message when /usr/bin/chromium is absent (apt-get install chromium).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.api_load import serve
from benchmarks.common import append_results, database, markdown_table

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DISPATCHER = ("dispatcher", "demo-dispatcher-2026")
TIMEZONE = "Europe/Moscow"


def prepare(url: str, directory: Path, *, technicians: int, visits: int, seconds: float) -> dict:
    """One region, ``visits`` requests due on day 0, day 0 planned and published."""
    from sqlmodel import select

    from dispatch import db
    from dispatch.models import Region
    from dispatch.planning import plan_region, publish
    from dispatch.seed.generator import generate
    from dispatch.seed.loader import load_directory
    from dispatch.seed.spec import SeedSpec
    from routing import SolveParams

    generate(SeedSpec(technicians=technicians, requests=visits, regions=1, days=1)).write(directory)
    engine = db.make_engine(url)
    try:
        with db.transaction(engine) as session:
            loaded = load_directory(session, directory, now=datetime.now(UTC), timezone=TIMEZONE)
        with db.transaction(engine) as session:
            region = session.exec(select(Region)).one()
            started = time.perf_counter()
            planned = plan_region(
                session, region, loaded.anchor, params=SolveParams(time_limit_seconds=seconds)
            )
            publish(session, planned.plan)
            solve = time.perf_counter() - started
            return {
                "region": region.code,
                "day": loaded.anchor.isoformat(),
                "assigned": planned.plan.stats["assigned"],
                "visits": planned.plan.stats["visits"],
                "plan_seconds": solve,
            }
    finally:
        engine.dispose()


def render_times(base: str, region: str, day: str, runs: int) -> list[dict]:
    """Each run a fresh page load of the board (the sign-in kept in the tab's session)."""
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000}, base_url=base)
        page.goto("/console")
        page.get_by_label("Username").fill(DISPATCHER[0])
        page.get_by_label("Password").fill(DISPATCHER[1])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_selector("body[data-board-state=ready]", timeout=60_000)
        for _ in range(runs):
            page.goto(f"/console#region={region}&date={day}")
            page.reload()
            page.wait_for_selector("body[data-board-state=ready]", timeout=60_000)
            results.append(
                {
                    "render_ms": float(page.evaluate("document.body.dataset.boardRenderedMs")),
                    "blocks": page.locator("[data-visit]").count(),
                    "rows": page.locator("[data-technician]").count(),
                }
            )
        browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--technicians", type=int, default=40)
    parser.add_argument("--visits", type=int, default=400)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--plan-seconds", type=float, default=30.0)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"skipped: {CHROMIUM} not found (apt-get install chromium)", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as scratch, database("sqlite", Path(scratch)) as url:
        tmp = Path(scratch)
        day = prepare(
            url,
            tmp / "data",
            technicians=args.technicians,
            visits=args.visits,
            seconds=args.plan_seconds,
        )
        with serve(url, tmp) as server:
            runs = render_times(server.base, day["region"], day["day"], args.runs)
    times = [r["render_ms"] for r in runs]
    table = markdown_table(
        ["technicians", "visits", "planned", "rows", "blocks", "runs", "median ms", "min ms",
         "max ms"],
        [[args.technicians, day["visits"], day["assigned"], runs[-1]["rows"],
          runs[-1]["blocks"], len(runs), f"{statistics.median(times):.0f}",
          f"{min(times):.0f}", f"{max(times):.0f}"]],
    )  # fmt: skip
    notes = (
        f"One region, {args.technicians} technicians, {args.visits} requests due on day "
        f"{day['day']}, planned ({args.plan_seconds:g} s limit, {day['plan_seconds']:.0f} s) and "
        "published on SQLite; one uvicorn process; Debian Chromium headless through Playwright "
        "at 1600x1000. Time from the start of the board's load (API calls included) to the end "
        "of rendering, as the console reports it (body data-board-rendered-ms); each run "
        "reloads the page. Blocks: visit blocks on the timeline plus the unassigned list."
    )
    print(table)
    print(notes)
    if not args.no_record:
        append_results(
            "Console: board render time",
            " ".join(["python -m benchmarks.console_render", *(argv or sys.argv[1:])]),
            table,
            notes,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
