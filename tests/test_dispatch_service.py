"""The pure dispatch score of distribution_orchestration: ordering, bounds, breakdown."""

import doctest
import itertools
from datetime import datetime
from datetime import timedelta

import pytest

from .services import load_service

dispatch = load_service("distribution_orchestration", "dispatch")

GOLD = {"sla_target_hours": 4, "tier_weight": 1.5}
BRONZE = {"sla_target_hours": 72, "tier_weight": 1.0}


def score(tier, hours, value):
    return dispatch.dispatch_score(hours_to_promise=hours, order_value=value, **tier)[0]


def test_doctests():
    failures, tried = doctest.testmod(dispatch)
    assert tried > 0 and failures == 0


def test_gold_due_in_two_hours_outranks_bronze_due_in_three_days():
    assert score(GOLD, 2, 100) > score(BRONZE, 72, 1_000_000)


@pytest.mark.parametrize(
    "tier",
    [GOLD, BRONZE, {"sla_target_hours": None, "tier_weight": 1.0}, {"sla_target_hours": 0, "tier_weight": 0.5}],
    ids=["gold", "bronze", "none", "low"],
)
@pytest.mark.parametrize("overdue_hours", [0.01, 1, 48, 1000])
def test_an_overdue_promise_outranks_every_on_time_order_of_the_same_tier(tier, overdue_hours):
    best_on_time = max(score(tier, hours, 10**12) for hours in (0, 0.001, 1, 24))
    assert score(tier, -overdue_hours, 0) > best_on_time


def test_later_overdue_is_more_urgent_up_to_a_cap():
    assert score(BRONZE, -1, 0) < score(BRONZE, -24, 0) < score(BRONZE, -48, 0) == score(BRONZE, -480, 0)


def test_nearer_promise_is_more_urgent():
    scores = [score(BRONZE, hours, 500) for hours in (240, 72, 24, 2, 0)]
    assert scores == sorted(scores) and len(set(scores)) == len(scores)


def test_value_matters_on_a_log_scale_and_is_bounded():
    values = [score(BRONZE, 24, value) for value in (0, 9, 99, 999, 9_999)]
    assert values == sorted(values)
    steps = [later - earlier for earlier, later in itertools.pairwise(values)]
    assert max(steps) - min(steps) < 0.02, "each tenfold value adds the same points"
    assert score(BRONZE, 24, 10**15) == score(BRONZE, 24, 10**6)
    assert score(BRONZE, 24, 10**15) - score(BRONZE, 24, 0) <= dispatch.VALUE_MAX_POINTS


def test_tier_weight_multiplies():
    plain = dispatch.dispatch_score(24, 24, 1000, 1.0)[0]
    assert dispatch.dispatch_score(24, 24, 1000, 2.0)[0] == pytest.approx(2 * plain, abs=0.02)
    assert dispatch.dispatch_score(24, 24, 1000, None)[0] == plain


def test_tighter_sla_is_more_urgent():
    assert (
        dispatch.dispatch_score(4, 24, 0)[0]
        > dispatch.dispatch_score(24, 24, 0)[0]
        > dispatch.dispatch_score(72, 24, 0)[0]
        > dispatch.dispatch_score(None, 24, 0)[0]
    )


@pytest.mark.parametrize(
    ("target", "hours", "value", "weight"),
    [
        (4, 2, 1000, 1.5),
        (72, -13.37, 0.5, 1.0),
        (None, None, 0, 1.0),
        (10, 3, 123456.78, 0.73),
        (0, -100, 1e9, 3),
    ],
)
def test_breakdown_lists_each_component_and_adds_up(target, hours, value, weight):
    total, breakdown = dispatch.dispatch_score(target, hours, value, weight)
    assert list(breakdown) == list(dispatch.COMPONENTS)
    assert sum(breakdown.values()) == pytest.approx(total, abs=1e-9)
    text = dispatch.explain(breakdown, {"sla": "SLA"}, total_label="Score")
    lines = text.splitlines()
    assert lines[0].startswith("SLA: ") and lines[1].startswith("time: ")
    assert lines[-1] == f"Score: {total:.2f}"
    assert sum(float(line.rsplit(": ", 1)[1]) for line in lines[:-1]) == pytest.approx(total, abs=1e-6)


def test_no_promise_no_time_points():
    assert dispatch.dispatch_score(24, None, 0)[1]["time"] == 0.0


def test_hours_between_now_and_the_promise():
    now = datetime(2026, 3, 2, 8)
    assert dispatch.hours_between(now, now + timedelta(minutes=90)) == 1.5
    assert dispatch.hours_between(now, now - timedelta(days=1)) == -24
    assert dispatch.hours_between(now, False) is None


@pytest.mark.parametrize(("value", "expected"), [(59.99, False), (60, True), (61, True)])
def test_urgent_threshold(value, expected):
    assert dispatch.is_urgent(value) is expected
    assert dispatch.is_urgent(value, threshold=100) is False
