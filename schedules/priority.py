"""Visit priority on the 1-100 scale from the contract's tier, the request's urgency and the
slack left on its SLA clock."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

BASE_WEIGHT = 1
URGENCY_POINTS: Mapping[str, int] = MappingProxyType(
    {"low": 0, "normal": 10, "high": 30, "emergency": 60}
)
TIER_POINTS: Mapping[str, int] = MappingProxyType(
    {"bronze": 0, "silver": 5, "gold": 10, "platinum": 15}
)
# (slack below this many minutes, points), tightest band first. The 2-hour band is the SLA
# clock's default at-risk window; slack of three days or more, or no SLA at all, adds nothing.
SLACK_BANDS: tuple[tuple[int, int], ...] = ((0, 24), (120, 18), (480, 12), (1440, 8), (4320, 4))


def priority_weight(tier: str, urgency: str, slack_minutes: int | None) -> int:
    """A visit's priority, 1 (least) to 100 (most): the solver's cost of leaving the visit out
    of a plan is this number times its drop weight, so a visit of weight 60 is worth as much as
    sixty of weight 1.

    The weight is ``BASE_WEIGHT + URGENCY_POINTS[urgency] + TIER_POINTS[tier]`` plus the points
    of the first ``SLACK_BANDS`` band below which ``slack_minutes`` falls (negative slack is
    overdue: the top band; ``None``, no SLA, adds nothing, like slack of three days or more):

    ========== ======= ===================================
    urgency    range   at a glance
    ========== ======= ===================================
    low        1-40    bronze with ample slack is 1
    normal     11-50
    high       31-70
    emergency  61-100  platinum and overdue is 100
    ========== ======= ===================================

    Tier and slack together add at most 39, less than the 50 points between normal and
    emergency, so an emergency outranks every normal (and low) request whatever their tiers and
    deadlines. Within one urgency, tier and slack weigh alike: an overdue bronze request
    (24 points) outranks a platinum one with days to spare (15). ``tier`` and ``urgency`` are the
    values of the ``Tier`` and ``Urgency`` enums (their members are accepted as they are).
    """
    tier_points = TIER_POINTS.get(tier)
    if tier_points is None:
        raise ValueError(f"tier {tier!r} is not one of {', '.join(TIER_POINTS)}")
    urgency_points = URGENCY_POINTS.get(urgency)
    if urgency_points is None:
        raise ValueError(f"urgency {urgency!r} is not one of {', '.join(URGENCY_POINTS)}")
    return BASE_WEIGHT + urgency_points + tier_points + _slack_points(slack_minutes)


def _slack_points(slack_minutes: int | None) -> int:
    if slack_minutes is None:
        return 0
    for below, points in SLACK_BANDS:
        if slack_minutes < below:
            return points
    return 0
