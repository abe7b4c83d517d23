"""Named small instances with answers checked by hand. Every solve also runs the checker."""

from __future__ import annotations

import pytest

from routing import (
    DurationScaling,
    Objective,
    Reason,
    Shift,
    SolveParams,
    Window,
    solve,
)
from routing.greedy import greedy
from tests.routing.conftest import DAY, FAST, HOUR, MIN, at, hours, job, problem, shift, tech


def test_one_technician_two_jobs_in_window_order() -> None:
    """Home at 0, jobs at 10 and 20 minutes away; the farther one only in the morning."""
    plan = solve(
        problem(
            [job("near", 10), job("far", 20, windows=(hours(8, 8.5),))],
            [tech()],
        ),
        FAST,
    )
    (route,) = plan.routes
    assert route.job_ids == ("far", "near")
    far, near = route.stops
    assert far.start == 8 * HOUR + 20 * MIN  # leaves at 8:00, 20 minutes' drive
    assert near.start == far.end + 10 * MIN
    assert route.back == near.end + 10 * MIN
    assert plan.travel_seconds == 40 * MIN
    assert plan.unassigned == ()


def test_window_nobody_can_reach() -> None:
    plan = solve(problem([job("late", 60, windows=(hours(20, 21),))], [tech()]), FAST)
    (item,) = plan.unassigned
    assert item.reason is Reason.time_window_unreachable
    assert "day 0 20:00-day 0 21:00" in item.detail


def test_skill_nobody_has_names_the_best_level() -> None:
    plan = solve(
        problem([job("srv", 5, skills={"servers": 4})], [tech(skills={"servers": 2})]), FAST
    )
    (item,) = plan.unassigned
    assert item.reason is Reason.no_skilled_technician
    assert "servers at level 4 (best available: 2)" in item.detail


def test_lunch_break_moves_a_visit() -> None:
    """A fixed 12:00-12:30 lunch: a visit that would start at 12:00 starts at 12:30."""
    lunch_shift = Shift(0, 8 * HOUR, 17 * HOUR, breaks=(_fixed_lunch(),))
    plan = solve(
        problem(
            [
                job("am", 0, minutes=240 - 10, windows=(hours(8, 8),)),
                job("pm", 10, windows=(hours(11, 16),)),
            ],
            [tech(shifts=(lunch_shift,))],
        ),
        FAST,
    )
    (route,) = plan.routes
    am, pm = route.stops
    assert am.end == 11 * HOUR + 50 * MIN
    assert pm.start == 12 * HOUR + 30 * MIN  # 10 min drive, then 30 min of lunch
    assert route.breaks[0].start == 12 * HOUR


def _fixed_lunch():  # type: ignore[no-untyped-def]
    from routing import Break

    return Break(30 * MIN, 12 * HOUR, 12 * HOUR)


def test_pinned_job_stays_with_its_technician() -> None:
    plan = solve(
        problem(
            [job("j", 1, pinned_technician="far-away")],
            [tech("close", x=0), tech("far-away", x=100)],
        ),
        FAST,
    )
    assert plan.route_of("j").technician_id == "far-away"


def test_multi_day_respects_due_dates() -> None:
    """Two full-day jobs, two days, one technician: the one due on day 0 goes first."""
    long = 8 * 60 - 30
    plan = solve(
        problem(
            [job("later", 5, minutes=long), job("due-today", 5, minutes=long, due_day=0)],
            [tech(days=2)],
            days=2,
        ),
        FAST,
    )
    assert plan.route_of("due-today").day == 0
    assert plan.route_of("later").day == 1


def test_started_job_stays_first() -> None:
    current = Shift(0, 10 * HOUR, 17 * HOUR, start_location=at(50))
    plan = solve(
        problem(
            [
                job("under-way", 50, started_by="t1", windows=(hours(10, 10),)),
                job("next", 40),
                job("other", 5),
            ],
            [tech(shifts=(current,))],
        ),
        FAST,
    )
    assert plan.routes[0].job_ids[0] == "under-way"
    assert plan.routes[0].stops[0].start == 10 * HOUR


def test_pinned_position_is_kept() -> None:
    plan = solve(
        problem([job("a", 10), job("b", 20), job("c", 30, pinned_position=0)], [tech()]), FAST
    )
    assert plan.routes[0].job_ids[0] == "c"


def test_stops_before_a_pinned_position_stay_in_front() -> None:
    plan = solve(
        problem(
            [job("a", 10), job("b", 40, pinned_position=1), job("c", 20), job("d", 30)],
            [tech()],
        ),
        FAST,
    )
    assert plan.routes[0].job_ids[1] == "b"
    assert len(plan.routes[0].stops) == 4


def test_no_shift_on_allowed_days() -> None:
    plan = solve(
        problem([job("j", 5, earliest_day=1, due_day=1)], [tech(shifts=(shift(0),))], days=2),
        FAST,
    )
    (item,) = plan.unassigned
    assert item.reason is Reason.no_shift_on_allowed_days
    assert "t1" in item.detail


def test_job_longer_than_any_shift() -> None:
    plan = solve(problem([job("huge", 5, minutes=10 * 60)], [tech()]), FAST)
    assert plan.unassigned[0].reason is Reason.exceeds_shift_length


def test_lower_priority_job_is_displaced_and_the_winner_named() -> None:
    """Two one-hour jobs that both must start at 9:00 on the only technician's day."""
    plan = solve(
        problem(
            [
                job("low", 10, minutes=60, priority=1, windows=(hours(9, 9),)),
                job("high", 10, y=1, minutes=60, priority=5, windows=(hours(9, 9),)),
            ],
            [tech()],
        ),
        FAST,
    )
    assert plan.route_of("high") is not None
    (item,) = plan.unassigned
    assert (item.job_id, item.reason) == ("low", Reason.displaced_by_higher_priority)
    assert item.displaced_by == ("high",)


def test_capacity_limits_the_load() -> None:
    plan = solve(
        problem(
            [job(f"j{i}", 5 + i, demand=4) for i in range(3)],
            [tech(capacity=10)],
        ),
        FAST,
    )
    assert plan.assigned == 2
    assert plan.routes[0].load == 8


def test_max_working_time_is_respected() -> None:
    plan = solve(
        problem(
            [job(f"j{i}", 10, y=i, minutes=60) for i in range(5)], [tech(max_work_seconds=3 * HOUR)]
        ),
        FAST,
    )
    assert plan.routes[0].work_seconds <= 3 * HOUR
    assert plan.assigned == 2


def test_sla_deadline_pulls_a_job_forward() -> None:
    """Without the SLA the near job would go first; a steep penalty makes the far one first."""
    jobs = [
        job("near", 5),
        job("urgent", 30, sla_deadline=8 * HOUR + 30 * MIN, sla_penalty_per_minute=1000),
    ]
    plan = solve(problem(jobs, [tech()]), FAST)
    assert plan.routes[0].job_ids[0] == "urgent"
    assert plan.late_seconds == 0


def test_duration_scales_with_the_technicians_level() -> None:
    plan = solve(
        problem(
            [job("j", 5, minutes=60, skills={"network": 2})],
            [tech(skills={"network": 4})],
            duration_scaling=DurationScaling(percent=(100, 90, 80)),
        ),
        FAST,
    )
    stop = plan.routes[0].stops[0]
    assert stop.end - stop.start == 48 * MIN


def test_region_and_forbidden_technicians() -> None:
    plan = solve(
        problem(
            [job("north", 1, region="N"), job("picky", 2, forbidden_technicians=frozenset({"a"}))],
            [tech("a", regions=frozenset({"S"})), tech("b", x=50)],
        ),
        FAST,
    )
    assert plan.route_of("north").technician_id == "b"
    assert plan.route_of("picky").technician_id == "b"


def test_balance_spreads_work() -> None:
    jobs = [job(f"j{i}", 10, y=i) for i in range(6)]
    techs = [tech("a"), tech("b")]
    plain = solve(problem(jobs, techs), FAST)
    balanced = solve(problem(jobs, techs, objective=Objective(balance_weight=100)), FAST)
    spread = sorted(len(r.stops) for r in balanced.routes)
    assert spread == [3, 3]
    assert (
        sorted(len(r.stops) for r in plain.routes) != spread
        or plain.travel_seconds == balanced.travel_seconds
    )


def test_deterministic_mode_gives_the_same_plan() -> None:
    jobs = [
        job(f"j{i}", i * 3, y=(i * 7) % 5, windows=(hours(8 + i % 4, 12 + i % 4),))
        for i in range(12)
    ]
    techs = [tech("a"), tech("b", x=20)]
    first = solve(problem(jobs, techs), FAST)
    second = solve(problem(jobs, techs), FAST)
    assert [r.job_ids for r in first.routes] == [r.job_ids for r in second.routes]


def test_parallel_portfolio_returns_a_checked_plan() -> None:
    jobs = [job(f"j{i}", i * 3, y=(i * 7) % 5) for i in range(10)]
    plan = solve(
        problem(jobs, [tech("a"), tech("b", x=20)]),
        SolveParams(time_limit_seconds=1, workers=2, min_parallel_seconds=0),
    )
    assert plan.assigned == 10
    assert plan.stats.workers == 2


def test_greedy_baseline_plans_and_explains() -> None:
    jobs = [job(f"j{i}", i * 3, y=(i * 7) % 5) for i in range(10)] + [
        job("skill", 1, skills={"cctv": 5})
    ]
    plan = greedy(problem(jobs, [tech("a"), tech("b", x=20)]))
    assert plan.assigned == 10
    assert plan.unassigned[0].reason is Reason.no_skilled_technician


def test_windows_on_another_day() -> None:
    plan = solve(
        problem(
            [job("j", 5, windows=(Window(DAY + 9 * HOUR, DAY + 10 * HOUR),))],
            [tech(days=2)],
            days=2,
        ),
        FAST,
    )
    assert plan.route_of("j").day == 1


def test_empty_problem_has_no_routes_with_stops() -> None:
    plan = solve(problem([], [tech()]), FAST)
    assert plan.assigned == 0
    assert plan.stats.status == "no_jobs"


def test_progress_is_reported() -> None:
    seen: list[float] = []
    solve(
        problem([job("a", 10), job("b", 20)], [tech()]),
        FAST,
        progress=lambda cost, _t: seen.append(cost),
    )
    assert seen


def test_no_technicians_leaves_every_job_out_with_a_reason() -> None:
    plan = solve(problem([job("a", 1), job("b", 2, skills={"network": 2})], []), FAST)
    assert plan.routes == ()
    assert {u.reason for u in plan.unassigned} == {Reason.no_skilled_technician}
    assert all(u.detail == "There is no technician to give it to." for u in plan.unassigned)


@pytest.mark.parametrize(("reassign_cost", "expected"), [(0, "t2"), (60, "t2"), (10_000, "t1")])
def test_stability_keeps_the_incumbent_unless_the_gain_is_larger(
    reassign_cost: int, expected: str
) -> None:
    # From t1's home the visit is 6 minutes away and back, from t2's 4: t2 saves 240 s of
    # travel, which outweighs a 60 s stability price but not a 10,000 s one.
    plan = solve(
        problem(
            [job("v", 6, incumbent="t1", reassign_cost=reassign_cost)],
            [tech("t1", x=0), tech("t2", x=10)],
        ),
        FAST,
    )
    assert plan.route_of("v").technician_id == expected
