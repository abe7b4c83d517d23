"""Dispatch end to end, database included: `dispatch plan` on 200 technicians x 2,000 visits on
SQLite and PostgreSQL, a re-plan after one urgent visit (50 x 500), and optimised against
greedy on the demo data's first day.

    python -m benchmarks.dispatch_e2e [--backends sqlite,postgresql] [--seconds 50]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import select

from benchmarks.common import append_results, database, markdown_table
from dispatch import db, intake, planning
from dispatch.models import Contract, Customer, Plan, Region, Site
from dispatch.replan import replan_day
from dispatch.seed.generator import generate
from dispatch.seed.loader import load_directory
from dispatch.seed.spec import SeedSpec
from routing import SolveParams
from routing.lns import warm_up

DEMO = Path(__file__).resolve().parent.parent / "seed_data" / "default"
TIMEZONE = "Europe/Moscow"


def next_working_day() -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days={4: 3, 5: 2}.get(today.weekday(), 1))


def next_monday() -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)


def load(url: str, directory: Path, anchor: date) -> float:
    started = time.perf_counter()
    engine = db.make_engine(url)
    try:
        with db.transaction(engine) as session:
            load_directory(
                session, directory, anchor=anchor, now=datetime.now(UTC), timezone=TIMEZONE
            )
    finally:
        engine.dispose()
    return time.perf_counter() - started


def plan_cli(url: str, anchor: date, seconds: float, *extra: str) -> tuple[float, dict]:
    """`dispatch plan` as a user runs it (a new process: imports, reads, solve, writes)."""
    command = [
        str(Path(sys.executable).parent / "dispatch"), "--database-url", url, "plan",
        "--date", anchor.isoformat(), "--seconds", str(seconds), *extra,
    ]  # fmt: skip
    engine = db.make_engine(url)
    try:
        with db.transaction(engine) as session:
            before = session.exec(select(sa.func.max(Plan.id))).one() or 0
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"dispatch plan failed:\n{done.stdout}\n{done.stderr}")
        with db.transaction(engine) as session:
            plans = list(session.exec(select(Plan).where(Plan.id > before)))
    finally:
        engine.dispose()
    totals: dict = {
        "assigned": 0,
        "visits": 0,
        "travel_km": 0.0,
        "late": 0,
        "late_minutes": 0.0,
        "solve": 0.0,
    }
    for plan in plans:
        totals["assigned"] += plan.stats["assigned"]
        totals["visits"] += plan.stats["visits"]
        totals["travel_km"] += plan.stats["travel_km"]
        totals["late"] += len(plan.stats["sla_late"])
        totals["late_minutes"] += plan.stats["late_minutes"]
        totals["solve"] += plan.wall_seconds or 0.0
    return wall, totals


def replan_once(url: str, anchor: date, seconds: float) -> tuple[float, int]:
    """Publish the day's plan, register an urgent visit at 11:00, re-plan; the re-plan's
    wall time (reads, solve, writes, publish) is what a dispatcher waits for."""
    engine = db.make_engine(url)
    try:
        with db.transaction(engine) as session:
            region = session.exec(select(Region)).one()
            planning.publish(
                session,
                planning.plan_region(
                    session, region, anchor, params=SolveParams(time_limit_seconds=10)
                ).plan,
            )
        now = datetime.combine(anchor, datetime.min.time(), tzinfo=UTC) + timedelta(hours=8)
        with db.transaction(engine) as session:
            site = session.exec(select(Site).order_by(Site.id)).first()
            contract = session.exec(
                select(Contract).where(Contract.customer_id == site.customer_id)  # type: ignore[union-attr]
            ).first()
            customer = session.get_one(Customer, site.customer_id)  # type: ignore[union-attr]
            request = intake.register_request(
                session,
                customer_code=customer.code,
                contract_code=contract.code,  # type: ignore[union-attr]
                site_code=site.code,  # type: ignore[union-attr]
                channel="phone",
                urgency="emergency",
                contact_name="Benchmark",
                description="Server room overheating",
                registered_at=now - timedelta(minutes=5),
            )
            intake.escalate(
                session, request, duration_minutes=60, skills={}, earliest_date=anchor,
                due_date=anchor,
            )  # fmt: skip
        started = time.perf_counter()
        with db.transaction(engine) as session:
            region = session.exec(select(Region)).one()
            done = replan_day(
                session, region, anchor, now, params=SolveParams(time_limit_seconds=seconds)
            )
        wall = time.perf_counter() - started
        return wall, done.solution.assigned
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--technicians", type=int, default=200)
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=50.0)
    parser.add_argument("--replan-technicians", type=int, default=50)
    parser.add_argument("--replan-visits", type=int, default=500)
    parser.add_argument("--replan-seconds", type=float, default=3.0)
    parser.add_argument("--demo-seconds", type=float, default=10.0)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    warm_up()
    anchor = next_monday()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        big = tmp / "big"
        generate(
            SeedSpec(technicians=args.technicians, requests=args.visits, days=1, regions=1, seed=7)
        ).write(big)
        small = tmp / "small"
        generate(
            SeedSpec(
                technicians=args.replan_technicians,
                requests=args.replan_visits,
                days=1,
                regions=1,
                seed=8,
            )
        ).write(small)
        for backend in [b for b in args.backends.split(",") if b]:
            with database(backend, tmp) as url:
                loaded = load(url, big, anchor)
                wall, totals = plan_cli(url, anchor, args.seconds)
                rows.append(
                    [
                        f"dispatch plan, {backend}",
                        f"{args.technicians} x {totals['visits']}",
                        f"{loaded:.1f}",
                        f"{wall:.1f}",
                        f"{totals['assigned']}",
                        f"{totals['travel_km']:.0f}",
                    ]
                )
                print(rows[-1], flush=True)
            with database(backend, tmp) as url:
                load(url, small, anchor)
                wall, assigned = replan_once(url, anchor, args.replan_seconds)
                rows.append(
                    [
                        f"re-plan after an urgent visit, {backend}",
                        f"{args.replan_technicians} x {args.replan_visits}",
                        "-",
                        f"{wall:.1f}",
                        f"{assigned}",
                        "-",
                    ]
                )
                print(rows[-1], flush=True)
        comparison = []
        with database("sqlite", tmp) as url:
            # The demo's own day: the next working day, as `dispatch demo` loads it (SLA
            # deadlines are counted from the load, so a later day finds them all overdue).
            demo_day = next_working_day()
            load(url, DEMO, demo_day)
            for strategy in ("greedy", "optimised"):
                wall, totals = plan_cli(url, demo_day, args.demo_seconds, "--strategy", strategy)
                comparison.append((strategy, wall, totals))
    header = ["run", "technicians x visits", "load s", "wall s", "assigned", "travel km"]
    table = markdown_table(header, rows)
    demo_rows = [
        [
            s,
            f"{t['assigned']} of {t['visits']}",
            f"{t['travel_km']:.0f}",
            f"{t['travel_km'] / max(1, t['assigned']):.2f}",
            t["late"],
            f"{t['late_minutes']:.0f}",
            f"{w:.1f}",
        ]
        for s, w, t in comparison
    ]
    demo = markdown_table(
        ["strategy", "assigned", "travel km", "km per visit", "SLA late visits",
         "SLA late min", "wall s"],
        demo_rows,
    )  # fmt: skip
    greedy, optimised = comparison[0][2], comparison[1][2]
    saved = 100 * (1 - optimised["travel_km"] / max(1e-9, greedy["travel_km"]))
    notes = (
        f"`dispatch plan` runs as a new process per backend with --seconds {args.seconds} "
        "(one region); wall s includes start-up, reads, the solve and the writes; load s is "
        "the seed load before it. The re-plan publishes a plan, registers an emergency at "
        f"11:00 and re-plans with a {args.replan_seconds} s solver limit; wall s covers "
        "reads, solve, writes and publishing. Demo data day 0, all regions, "
        f"{args.demo_seconds} s per region: optimised assigns {optimised['assigned']} vs "
        f"{greedy['assigned']} visits, travels {optimised['travel_km']:.0f} vs "
        f"{greedy['travel_km']:.0f} km ({saved:+.1f}% saved; per visit "
        f"{optimised['travel_km'] / max(1, optimised['assigned']):.2f} vs "
        f"{greedy['travel_km'] / max(1, greedy['assigned']):.2f} km), SLA-late visits "
        f"{optimised['late']} vs {greedy['late']} ({optimised['late_minutes']:.0f} vs "
        f"{greedy['late_minutes']:.0f} min late in all)."
    )
    print(table)
    print(demo)
    print(notes)
    if not args.no_record:
        append_results(
            "Dispatch end to end (database included)",
            "python -m benchmarks.dispatch_e2e " + " ".join(argv or sys.argv[1:]),
            table + "\n\n" + demo,
            notes,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
