"""One field day at scale: the optimiser against the greedy baseline a dispatcher would
produce by hand, on generator data (default 200 technicians, 2,000 visits).

    python -m benchmarks.field_day [--technicians 200] [--visits 2000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.common import append_results, markdown_table, peak_rss_mb
from benchmarks.field_data import field_problem
from dispatch.seed.spec import SeedSpec
from routing import Solution, SolveParams, solve
from routing.greedy import greedy
from routing.lns import warm_up


def _row(name: str, plan: Solution, visits: int) -> list[object]:
    per_visit = plan.travel_metres / max(1, plan.assigned) / 1000
    return [
        name,
        f"{plan.assigned} ({100 * plan.assigned / visits:.1f}%)",
        f"{plan.travel_metres / 1000:.0f}",
        f"{per_visit:.2f}",
        f"{plan.late_seconds / 60:.0f}",
        f"{plan.stats.first_solution_seconds:.1f}" if plan.stats.first_solution_seconds else "-",
        f"{plan.stats.wall_seconds:.1f}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--technicians", type=int, default=200)
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)

    spec = SeedSpec(technicians=args.technicians, requests=args.visits, days=1, seed=args.seed)
    problem = field_problem(spec)
    visits = len(problem.jobs)
    warm_up()
    baseline = greedy(problem)
    optimised = solve(problem, SolveParams(time_limit_seconds=args.seconds))
    rss = peak_rss_mb()
    header = [
        "planner",
        "assigned",
        "travel km",
        "km per visit",
        "late min",
        "first feasible s",
        "wall s",
    ]
    rows = [_row("greedy", baseline, visits), _row("optimised", optimised, visits)]
    saved = 100 * (
        1
        - (optimised.travel_metres / max(1, optimised.assigned))
        / (baseline.travel_metres / max(1, baseline.assigned))
    )
    extra = optimised.assigned - baseline.assigned
    table = markdown_table(header, rows)
    summary = (
        f"{visits} visits, {len(problem.technicians)} technicians; optimised vs greedy: "
        f"{extra:+d} visits assigned, travel per visit {saved:.1f}% lower; peak RSS {rss:.0f} MiB "
        f"(largest process); unassigned by reason: {optimised.summary()['unassigned_by_reason']}; "
        f"search: {optimised.stats.strategy}"
    )
    print(table)
    print(summary)
    if not args.no_record:
        append_results(
            f"Field day, {visits} visits, {args.seconds:g} s",
            " ".join(["python -m benchmarks.field_day", *sys.argv[1:]]),
            table,
            summary,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
