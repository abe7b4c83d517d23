"""Solomon VRPTW instances through the routing API, under the DIMACS convention (distance
only, arcs floor(10 * euclid) / 10, at most the instance's fleet), against best-known
solutions.

    python -m benchmarks.solomon --data ../shared/benchmarks/vrptw --seconds 10 \
        [--instances C101,R101] --out results.csv --routes routes.json
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import append_results, markdown_table
from routing import (
    Job,
    Location,
    Objective,
    Problem,
    Shift,
    SolveParams,
    Technician,
    Window,
    solve,
)
from routing.lns import warm_up
from routing.travel import Euclidean

SCALE = 10  # DIMACS: distances truncated to one decimal, so tenths are exact integers


@dataclass(frozen=True)
class Instance:
    name: str
    vehicles: int
    capacity: int
    rows: list[tuple[int, int, int, int, int, int, int]]  # no, x, y, demand, ready, due, service


def read_instance(path: Path) -> Instance:
    lines = path.read_text().splitlines()
    vehicles = capacity = None
    rows = []
    for i, line in enumerate(lines):
        if line.strip().startswith("NUMBER") and i + 1 < len(lines):
            vehicles, capacity = (int(x) for x in lines[i + 1].split())
        parts = line.split()
        if len(parts) == 7 and all(p.lstrip("-").isdigit() for p in parts):
            rows.append(tuple(int(p) for p in parts))
    if vehicles is None or not rows:
        raise ValueError(f"{path} is not a Solomon instance")
    return Instance(lines[0].strip() or path.stem, vehicles, capacity, rows)  # type: ignore[arg-type]


def to_problem(instance: Instance) -> Problem:
    depot, *customers = instance.rows
    home = Location(depot[1], depot[2])
    jobs = tuple(
        Job(
            id=str(no),
            location=Location(x, y),
            duration=service * SCALE,
            windows=(Window(ready * SCALE, due * SCALE),),
            demand=demand,
        )
        for no, x, y, demand, ready, due, service in customers
    )
    shift = Shift(day=0, start=depot[4] * SCALE, end=depot[5] * SCALE)
    technicians = tuple(
        Technician(id=f"vehicle-{k + 1}", home=home, shifts=(shift,), capacity=instance.capacity)
        for k in range(instance.vehicles)
    )
    return Problem(
        jobs=jobs,
        technicians=technicians,
        travel=Euclidean(scale=SCALE),
        objective=Objective(drop_weight=10**6, travel_second_cost=0, travel_metre_cost=1),
    )


def dimacs_check(instance: Instance, routes: list[list[int]]) -> tuple[bool, float]:
    """Feasibility and distance recomputed from the instance file alone."""
    by_no = {row[0]: row for row in instance.rows}
    depot = instance.rows[0]
    served = sorted(c for route in routes for c in route)
    feasible = (
        served == sorted(row[0] for row in instance.rows[1:]) and len(routes) <= instance.vehicles
    )
    total = 0
    for route in routes:
        clock, load, here = depot[4] * SCALE, 0, depot
        for no in [*route, 0]:
            there = by_no[no]
            step = int(
                SCALE * ((here[1] - there[1]) ** 2 + (here[2] - there[2]) ** 2) ** 0.5 + 1e-9
            )
            total += step
            clock = max(clock + step, there[4] * SCALE)
            feasible &= clock <= there[5] * SCALE
            clock += there[6] * SCALE
            load += there[3]
            here = there
        feasible &= load <= instance.capacity
    return feasible, total / SCALE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/benchmarks/vrptw"))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--instances", default="", help="comma-separated names; default: all")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--routes", type=Path, default=None)
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args(argv)

    bks_files = sorted(args.data.rglob("bks.csv")) if args.data.exists() else []
    if not bks_files:
        print(f"skipped: no bks.csv under {args.data} (the Solomon data is not here)")
        return 0
    bks = {
        row["instance"]: float(row["bks_distance"]) for row in csv.DictReader(bks_files[0].open())
    }
    files = {p.stem.upper(): p for p in args.data.rglob("*.txt") if p.stem.upper() in bks}
    wanted = [n.strip().upper() for n in args.instances.split(",") if n.strip()] or sorted(files)
    missing = [n for n in wanted if n not in files]
    if missing:
        print(f"unknown instances: {', '.join(missing)}", file=sys.stderr)
        return 2

    params = SolveParams(time_limit_seconds=args.seconds, workers=args.workers)
    print(f"kernel ready in {warm_up():.1f} s (compiled once, then cached)")
    results, all_routes = [], {}
    for name in wanted:
        instance = read_instance(files[name])
        started = time.perf_counter()
        solution = solve(to_problem(instance), params)
        seconds = time.perf_counter() - started
        routes = [[int(s.job_id) for s in r.stops] for r in solution.routes if r.stops]
        feasible, distance = dimacs_check(instance, routes)
        gap = 100 * (distance - bks[name]) / bks[name]
        results.append(
            {
                "instance": name,
                "vehicles": len(routes),
                "distance": round(distance, 1),
                "gap_pct": round(gap, 2),
                "seconds": round(seconds, 1),
                "feasible": feasible,
                "strategy": solution.stats.strategy,
            }
        )
        all_routes[name] = routes
        print(
            f"{name:6} vehicles {len(routes):3} distance {distance:8.1f} gap {gap:6.2f}% "
            f"{seconds:5.1f}s feasible={feasible} ({solution.stats.strategy})",
            flush=True,
        )
    _report(results, all_routes, args, params)
    return 0 if all(r["feasible"] for r in results) else 1


def _report(
    results: list[dict],
    routes: dict[str, list[list[int]]],
    args: argparse.Namespace,
    params: SolveParams,
) -> None:
    columns = ["instance", "vehicles", "distance", "gap_pct", "seconds", "feasible"]
    if args.out:
        with args.out.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(results)
    classes: dict[str, list[float]] = {}
    for r in results:
        key = r["instance"].rstrip("0123456789")
        key = key + r["instance"][len(key)]  # C1, C2, R1, R2, RC1, RC2
        classes.setdefault(key, []).append(r["gap_pct"])
    rows = [
        [k, len(v), f"{statistics.mean(v):.2f}", f"{max(v):.2f}"]
        for k, v in sorted(classes.items())
    ]
    gaps = [r["gap_pct"] for r in results]
    rows.append(["all", len(gaps), f"{statistics.mean(gaps):.2f}", f"{max(gaps):.2f}"])
    feasible = sum(r["feasible"] for r in results)
    table = markdown_table(["class", "instances", "mean gap %", "worst gap %"], rows)
    print(table)
    print(f"feasible: {feasible}/{len(results)}")
    if args.routes:
        args.routes.write_text(json.dumps(routes, indent=1))
    if not args.no_record:
        detail = markdown_table(columns, [[r[c] for c in columns] for r in results])
        title = f"Solomon VRPTW, {params.time_limit_seconds:g} s per instance"
        append_results(
            f"{title}, {params.workers} worker(s)",
            " ".join(["python -m benchmarks.solomon", *sys.argv[1:]]),
            f"{table}\n\nfeasible: {feasible}/{len(results)}\n\n"
            f"<details><summary>per instance</summary>\n\n{detail}\n\n</details>",
        )


if __name__ == "__main__":
    raise SystemExit(main())
