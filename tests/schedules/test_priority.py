"""Visit priority: 1-100, rising with tier, urgency and a tightening SLA, emergencies first."""

from __future__ import annotations

from itertools import pairwise, product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatch.models import Urgency
from schedules.models import Tier
from schedules.priority import SLACK_BANDS, TIER_POINTS, URGENCY_POINTS, priority_weight

TIERS = ("bronze", "silver", "gold", "platinum")  # lowest first
URGENCIES = ("low", "normal", "high", "emergency")
# Every band edge and its neighbours, ascending; None (no SLA) is checked on its own.
SLACKS = sorted(
    {-100_000, 100_000} | {edge + step for edge, _ in SLACK_BANDS for step in (-1, 0, 1)}
)
ALL = list(product(TIERS, URGENCIES, [*SLACKS, None]))


@pytest.mark.parametrize(
    ("tier", "urgency", "slack", "weight"),
    [
        ("bronze", "low", None, 1),
        ("bronze", "low", -1, 25),
        ("platinum", "low", -30, 40),
        ("silver", "normal", None, 16),
        ("gold", "normal", 4320, 21),
        ("gold", "normal", 4319, 25),
        ("gold", "normal", 1439, 29),
        ("platinum", "normal", 479, 38),
        ("bronze", "normal", 119, 29),
        ("bronze", "normal", 0, 29),
        ("platinum", "normal", -1, 50),
        ("silver", "high", None, 36),
        ("bronze", "high", 0, 49),
        ("gold", "high", 200, 53),
        ("bronze", "emergency", None, 61),
        ("silver", "emergency", 10_000, 66),
        ("gold", "emergency", 60, 89),
        ("platinum", "emergency", -500, 100),
    ],
)
def test_pinned_weights(tier: str, urgency: str, slack: int | None, weight: int) -> None:
    assert priority_weight(tier, urgency, slack) == weight


def test_tables_name_every_tier_and_urgency_of_the_enums() -> None:
    assert set(TIER_POINTS) == {tier.value for tier in Tier} == set(TIERS)
    assert set(URGENCY_POINTS) == {urgency.value for urgency in Urgency} == set(URGENCIES)
    assert priority_weight(Tier.gold, Urgency.high, None) == priority_weight("gold", "high", None)


def test_weights_span_exactly_the_visit_priority_scale() -> None:
    weights = [priority_weight(*case) for case in ALL]
    assert min(weights) == 1
    assert max(weights) == 100


@pytest.mark.parametrize(("urgency", "slack"), list(product(URGENCIES, [*SLACKS, None])))
def test_higher_tier_weighs_strictly_more(urgency: str, slack: int | None) -> None:
    weights = [priority_weight(tier, urgency, slack) for tier in TIERS]
    assert all(low < high for low, high in pairwise(weights)), weights


@pytest.mark.parametrize(("tier", "slack"), list(product(TIERS, [*SLACKS, None])))
def test_higher_urgency_weighs_strictly_more(tier: str, slack: int | None) -> None:
    weights = [priority_weight(tier, urgency, slack) for urgency in URGENCIES]
    assert all(low < high for low, high in pairwise(weights)), weights


@pytest.mark.parametrize(("tier", "urgency"), list(product(TIERS, URGENCIES)))
def test_less_slack_never_weighs_less_and_no_sla_adds_nothing(tier: str, urgency: str) -> None:
    weights = [priority_weight(tier, urgency, slack) for slack in SLACKS]
    assert all(earlier >= later for earlier, later in pairwise(weights)), weights
    overdue, ample = weights[0], weights[-1]
    assert overdue > ample
    base = 1 + URGENCY_POINTS[urgency] + TIER_POINTS[tier]
    assert priority_weight(tier, urgency, None) == ample == base


@given(st.sampled_from(TIERS), st.sampled_from(URGENCIES), st.integers(), st.integers())
def test_weight_is_monotone_in_slack_for_any_minutes(
    tier: str, urgency: str, first: int, second: int
) -> None:
    tighter, looser = sorted((first, second))
    weight = priority_weight(tier, urgency, tighter)
    assert weight >= priority_weight(tier, urgency, looser)
    assert 1 <= weight <= 100


def test_an_emergency_of_any_tier_outranks_a_normal_or_low_request_of_any_tier() -> None:
    lowest_emergency = min(
        priority_weight(tier, "emergency", slack) for tier in TIERS for slack in [*SLACKS, None]
    )
    highest_normal = max(
        priority_weight(tier, urgency, slack)
        for tier in TIERS
        for urgency in ("low", "normal")
        for slack in [*SLACKS, None]
    )
    assert lowest_emergency > highest_normal


@pytest.mark.parametrize(
    ("tier", "urgency", "match"),
    [
        ("diamond", "normal", "tier 'diamond'"),
        ("Gold", "normal", "tier 'Gold'"),
        ("gold", "critical", "urgency 'critical'"),
        ("gold", "", "urgency ''"),
    ],
)
def test_unknown_tier_or_urgency_is_refused_by_name(tier: str, urgency: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        priority_weight(tier, urgency, None)
