"""How planning scales with the number of visits: time to the first feasible plan, quality at
fixed budgets, and memory, each size solved in a fresh process.

    python -m benchmarks.scaling [--sizes 100,500,1000,2000,5000] [--budgets 10,30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from benchmarks.common import append_results, markdown_table, peak_rss_mb
from benchmarks.field_data import field_problem, scaled_spec
from routing import SolveParams, solve
from routing.lns import warm_up


def one(visits: int, seconds: float) -> dict[str, float]:
    problem = field_problem(scaled_spec(visits))
    warm_up()
    plan = solve(problem, SolveParams(time_limit_seconds=seconds))
    return {
        "visits": len(problem.jobs),
        "technicians": len(problem.technicians),
        "budget": seconds,
        "first_feasible": plan.stats.first_solution_seconds or float("nan"),
        "wall": plan.stats.wall_seconds,
        "assigned": plan.assigned,
        "travel_km_per_visit": plan.travel_metres / max(1, plan.assigned) / 1000,
        "objective": plan.stats.objective,
        "rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,500,1000,2000,5000")
    parser.add_argument("--budgets", default="10,30")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(args.one, args.seconds)))
        return 0
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        for budget in (float(b) for b in args.budgets.split(",")):
            done = subprocess.run(  # noqa: S603  (our own interpreter and module)
                [
                    sys.executable,
                    "-m",
                    "benchmarks.scaling",
                    "--one",
                    str(size),
                    "--seconds",
                    str(budget),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(
                [
                    r["visits"],
                    r["technicians"],
                    f"{r['budget']:g}",
                    f"{r['first_feasible']:.1f}",
                    f"{r['wall']:.1f}",
                    f"{r['assigned']} ({100 * r['assigned'] / r['visits']:.0f}%)",
                    f"{r['travel_km_per_visit']:.2f}",
                    f"{r['rss_mb']:.0f}",
                ]
            )
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
    header = [
        "visits",
        "technicians",
        "budget s",
        "first feasible s",
        "wall s",
        "assigned",
        "km per visit",
        "peak RSS MiB",
    ]
    table = markdown_table(header, rows)
    print(table)
    if not args.no_record:
        append_results("Scaling", " ".join(["python -m benchmarks.scaling", *sys.argv[1:]]), table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
