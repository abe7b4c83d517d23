"""Shared budgets (routing.problem.Quota) in the solver's terms: which budget each job draws on
per day, and how much of every budget a set of routes uses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from routing.kernel_timing import BIG

if TYPE_CHECKING:
    from routing.prepare import Prepared


class QuotaTable:
    """Budgets as arrays: ``of[j, day]`` is the budget job ``j`` draws on when served on
    ``day`` (-1: none), ``draw[j]`` what it takes, ``seconds[q]`` and ``visit_days[q]`` the
    limits (BIG: none)."""

    def __init__(self, prep: Prepared) -> None:
        problem = prep.problem
        self.ids = [q.id for q in problem.quotas]
        index = {q.id: k for k, q in enumerate(problem.quotas)}
        days = max(1, problem.days)
        self.of = np.full((len(prep.jobs), days), -1, dtype=np.int64)
        for j, job in enumerate(prep.jobs):
            for quota_id in job.quotas:
                quota = problem.quotas[index[quota_id]]
                for day in range(days):
                    if quota.covers(day):
                        self.of[j, day] = index[quota_id]
        self.draw = np.array([job.quota_draw for job in prep.jobs], dtype=np.int64)
        self.seconds = np.array(
            [BIG if q.seconds is None else q.seconds for q in problem.quotas] or [BIG],
            dtype=np.int64,
        )
        self.visit_days = np.array(
            [BIG if q.visit_days is None else q.visit_days for q in problem.quotas] or [BIG],
            dtype=np.int64,
        )
        self.days = days
        # 1 where a budget's day is already open (counts as served, costs no new day).
        self.open = np.zeros((max(1, len(problem.quotas)), days), dtype=np.int64)
        for q, quota in enumerate(problem.quotas):
            self.open[q, sorted(quota.open_days)] = 1
        self.active = bool((self.of >= 0).any())

    def jobs_of(self) -> dict[int, list[int]]:
        """Budget -> the jobs that may draw on it."""
        found: dict[int, list[int]] = {}
        for j, row in enumerate(self.of):
            for q in sorted(set(row[row >= 0].tolist())):
                found.setdefault(q, []).append(j)
        return found


class QuotaUse:
    """How much of each budget the routes use; kept up to date as jobs go in and out."""

    def __init__(self, prep: Prepared, routes: Sequence[Sequence[int]]) -> None:
        self.table = table = prep.quota
        count = len(table.seconds)
        self.used = np.zeros(count, dtype=np.int64)
        self.per_day = table.open.copy()
        self.days_used = np.zeros(count, dtype=np.int64)
        self.day_of = [v.day for v in prep.vehicles]
        for v, route in enumerate(routes):
            for j in route:
                self.add(j, self.day_of[v])

    def budget(self, j: int, day: int) -> int:
        return int(self.table.of[j, day]) if self.table.active else -1

    def allows(self, j: int, day: int) -> bool:
        return self.shortfall(j, day) is None

    def shortfall(self, j: int, day: int) -> tuple[str, int, int] | None:
        """None if job ``j`` may be served on ``day``; else what it lacks, as (kind, needed,
        remaining): kind "seconds" or "days"."""
        q = self.budget(j, day)
        if q < 0:
            return None
        table = self.table
        remaining = int(table.seconds[q] - self.used[q])
        if table.draw[j] > remaining:
            return "seconds", int(table.draw[j]), remaining
        if self.per_day[q, day] == 0 and self.days_used[q] >= table.visit_days[q]:
            return "days", 1, int(table.visit_days[q] - self.days_used[q])
        return None

    def add(self, j: int, day: int, sign: int = 1) -> None:
        q = self.budget(j, day)
        if q < 0:
            return
        before = self.per_day[q, day]
        self.per_day[q, day] += sign
        self.used[q] += sign * self.table.draw[j]
        if before == 0 and sign > 0:
            self.days_used[q] += 1
        elif self.per_day[q, day] == 0 and sign < 0:
            self.days_used[q] -= 1

    def remove(self, j: int, day: int) -> None:
        self.add(j, day, -1)
