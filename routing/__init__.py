"""Routing: the pure field-service route solver (integers in, routes out; no DB, no HTTP).

solution = solve(Problem(jobs=..., technicians=...), SolveParams(time_limit_seconds=10))
"""

from routing.check import CheckError, assert_valid, check
from routing.problem import (
    Break,
    DurationScaling,
    Job,
    Location,
    Objective,
    Problem,
    Quota,
    Shift,
    Technician,
    Window,
)
from routing.search import SolveParams
from routing.solution import BreakPlacement, Reason, Route, Solution, Stats, Stop, Unassigned
from routing.solve import solve
from routing.travel import Euclidean, GreatCircle, MatrixProvider, Osrm, TravelMatrices
from routing.validate import Issue, ProblemError

__all__ = [
    "Break",
    "BreakPlacement",
    "CheckError",
    "DurationScaling",
    "Euclidean",
    "GreatCircle",
    "Issue",
    "Job",
    "Location",
    "MatrixProvider",
    "Objective",
    "Osrm",
    "Problem",
    "ProblemError",
    "Quota",
    "Reason",
    "Route",
    "Shift",
    "Solution",
    "SolveParams",
    "Stats",
    "Stop",
    "Technician",
    "TravelMatrices",
    "Unassigned",
    "Window",
    "assert_valid",
    "check",
    "solve",
]
