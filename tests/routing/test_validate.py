"""Bad input is refused before solving, with every offending id and field in one error."""

from __future__ import annotations

import pytest

from routing import Break, Job, Location, Problem, ProblemError, Shift, Window, solve
from routing.travel import GreatCircle
from tests.routing.conftest import FAST, HOUR, job, problem, shift, tech


def _issues(p: Problem) -> set[tuple[str, str, str]]:
    with pytest.raises(ProblemError) as caught:
        solve(p, FAST)
    return {(i.kind, i.id, i.field) for i in caught.value.issues}


def test_every_problem_is_listed_at_once() -> None:
    bad = problem(
        [
            job("neg", 1, minutes=-5),
            job("window", 1, windows=(Window(10 * HOUR, 9 * HOUR),)),
            job("dup", 1),
            job("dup", 2),
            job("skill", 1, skills={"plumbing": 2}),
            job("level", 1, skills={"network": 7}),
            job("ghost", 1, pinned_technician="nobody"),
        ],
        [tech(skills={"network": 3})],
        skills=frozenset({"network"}),
    )
    assert _issues(bad) == {
        ("job", "neg", "duration"),
        ("job", "window", "windows"),
        ("job", "dup", "id"),
        ("job", "skill", "skills"),
        ("job", "level", "skills"),
        ("job", "ghost", "pinned_technician"),
    }


def test_coordinates_out_of_range() -> None:
    bad = Problem(
        jobs=(Job(id="pole", location=Location(95, 10), duration=60),),
        technicians=(tech(),),
        travel=GreatCircle(),
    )
    assert _issues(bad) == {("job", "pole", "location")}


def test_shift_and_break_mistakes() -> None:
    broken = tech(
        shifts=(
            Shift(0, 17 * HOUR, 8 * HOUR),
            Shift(1, 8 * HOUR, 17 * HOUR, breaks=(Break(1800, 20 * HOUR, 21 * HOUR),)),
        )
    )
    assert _issues(problem([job("a", 1)], [broken], days=2)) == {
        ("technician", "t1", "shifts"),
        ("technician", "t1", "breaks"),
    }


def test_days_out_of_order_and_duplicate_technicians() -> None:
    assert _issues(problem([job("a", 1, earliest_day=1, due_day=0)], [tech(), tech()], days=2)) == {
        ("job", "a", "due_day"),
        ("technician", "t1", "id"),
    }


def test_valid_problem_passes() -> None:
    assert solve(problem([job("a", 1)], [tech(shifts=(shift(),))]), FAST).assigned == 1
