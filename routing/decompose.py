"""Splitting a problem into independent parts: jobs and technician shifts that can never share
a route (different regions, skills, days) are solved apart, in parallel, and merged."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from routing.prepare import Prepared


@dataclass(frozen=True, slots=True)
class Part:
    """Job and vehicle indices of the parent problem that only interact with each other."""

    jobs: tuple[int, ...]
    vehicles: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.jobs) * len(self.vehicles)


def parts(prep: Prepared) -> list[Part]:
    """Connected groups of the job-vehicle eligibility graph, largest first. Jobs no vehicle
    may take belong to no part; vehicles no job may use form no part either."""
    parent = list(range(len(prep.jobs) + len(prep.vehicles)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    offset = len(prep.jobs)
    for j, allowed in enumerate(prep.allowed):
        for v in allowed:
            a, b = find(j), find(offset + v)
            if a != b:
                parent[a] = b
    # Jobs sharing a budget compete for it, so they must be searched together.
    for members in prep.quota.jobs_of().values():
        for other in members[1:]:
            a, b = find(members[0]), find(other)
            if a != b:
                parent[a] = b
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for j, allowed in enumerate(prep.allowed):
        if allowed:
            groups.setdefault(find(j), ([], []))[0].append(j)
    for v in range(len(prep.vehicles)):
        root = find(offset + v)
        if root in groups:
            groups[root][1].append(v)
    found = [Part(tuple(js), tuple(vs)) for js, vs in groups.values()]
    return sorted(found, key=lambda p: (-p.size, p.jobs))


def subproblem(prep: Prepared, part: Part) -> Prepared:
    """The part as a problem of its own, reusing the parent's travel matrices. Its vehicles
    come in the parent's order, so sub-vehicle k is ``part.vehicles[k]``."""
    problem = prep.problem
    shifts_of: dict[int, list] = {}
    for v in part.vehicles:
        vehicle = prep.vehicles[v]
        shifts_of.setdefault(vehicle.tech_index, []).append(vehicle.shift)
    technicians = tuple(
        replace(problem.technicians[t], shifts=tuple(shifts))
        for t, shifts in sorted(shifts_of.items())
    )
    sub = replace(problem, jobs=tuple(prep.jobs[j] for j in part.jobs), technicians=technicians)
    where = {location: i for i, location in enumerate(prep.points)}
    return Prepared(sub, matrices_from=lambda points: _slice(prep, [where[p] for p in points]))


def _slice(prep: Prepared, indices: list[int]):  # type: ignore[no-untyped-def]
    from routing.travel import TravelMatrices

    rows = np.asarray(indices)
    grid = np.ix_(rows, rows)
    return TravelMatrices(seconds=prep.matrices.seconds[grid], metres=prep.matrices.metres[grid])
