"""The pure replenishment layer of distribution_orchestration (#14 groundwork): demand, reorder levels at
their boundaries, the tolerance, days of cover, lead times learned from receipts and their drift."""

import doctest
import math
from datetime import date
from datetime import datetime
from datetime import timedelta

import pytest

from .services import load_service

rep = load_service("distribution_orchestration", "replenishment")


def test_doctests():
    failures, tried = doctest.testmod(rep)
    assert tried > 15 and failures == 0


def test_demand_nets_returns_per_day_and_counts_empty_days():
    start = date(2026, 3, 1)
    quantities = {start: 12, start + timedelta(days=1): -4, start + timedelta(days=5): 6}
    demand = rep.daily_demand(quantities, start, 10)
    assert demand == [12.0, 0.0, 0.0, 0.0, 0.0, 6.0, 0.0, 0.0, 0.0, 0.0]
    assert rep.usage(demand).adu == pytest.approx(1.8)
    # A new product: no history, no demand, no suggestion above zero.
    assert rep.usage(rep.daily_demand({}, start, 90)) == rep.Usage(0.0, 0.0, 90)
    assert rep.reorder_levels(0.0, lead_days=7, safety_days=3, cycle_days=14) == rep.Levels(0.0, 0.0, "days")
    with pytest.raises(ValueError):
        rep.daily_demand({}, start, 0)


def test_levels_by_days_of_cover():
    levels = rep.reorder_levels(4.0, lead_days=10, safety_days=5, cycle_days=7, multiple=6)
    assert levels == rep.Levels(60.0, 90.0, "days")  # 4 x 15 = 60 (a multiple), 60 + 28 = 88 -> 90
    assert rep.reorder_levels(4.0, lead_days=10, safety_days=0, cycle_days=0) == rep.Levels(40.0, 40.0, "days")


def test_levels_with_a_service_level():
    plain = rep.reorder_levels(10, lead_days=16, sigma=0, service_level=0.95)
    assert plain.min_qty == pytest.approx(160.0), "no variability: the lead-time demand only"
    higher = rep.reorder_levels(10, lead_days=16, sigma=5, service_level=0.99)
    lower = rep.reorder_levels(10, lead_days=16, sigma=5, service_level=0.9)
    assert higher.min_qty > lower.min_qty > plain.min_qty
    assert higher.min_qty == pytest.approx(160 + rep.service_z(0.99) * 5 * 4)
    for bad in (0.4, 1.0):
        with pytest.raises(ValueError):
            rep.reorder_levels(10, lead_days=16, sigma=5, service_level=bad)
    with pytest.raises(ValueError):
        rep.reorder_levels(10, lead_days=16, service_level=0.95)
    with pytest.raises(ValueError):
        rep.reorder_levels(-1, lead_days=16)


def test_tolerance_boundary():
    assert rep.within_tolerance(50, 100, rep.Levels(60, 120, "days"), 20)  # exactly 20%: applies by itself
    assert not rep.within_tolerance(50, 100, rep.Levels(60.5, 120, "days"), 20)
    assert not rep.within_tolerance(0, 0, rep.Levels(5, 10, "days"), 20), "a new rule is for a person"
    assert rep.change_pct(0, 0) == 0.0 and math.isinf(rep.change_pct(0, 1))


def test_days_of_cover():
    assert rep.days_of_cover(45, 9) == 5.0
    assert rep.days_of_cover(-3, 9) == 0.0
    assert rep.days_of_cover(45, 0) is None


def test_lead_time_learning_and_drift():
    base = datetime(2026, 2, 1, 9)
    receipts = [(base + timedelta(days=i), base + timedelta(days=i + n), None) for i, n in enumerate(range(1, 16))]
    learned = rep.learn_lead_time(receipts, last=10)
    assert learned.receipts == 10
    assert learned.median_days == pytest.approx(10.5), "the newest ten: 6..15 days"
    assert learned.p90_days == pytest.approx(14.1)
    assert learned.on_time_rate is None
    assert rep.learn_lead_time([]) is None
    assert rep.drifts(learned.median_days, 7, min_pct=20, min_days=2)
    assert not rep.drifts(learned.median_days, 10, min_pct=20, min_days=2)
    assert rep.drifts(5, 0, min_pct=20, min_days=2), "a vendor planned at 0 days drifts past the day margin"


def test_blended_demand():
    assert rep.blended_adu(6, 0, 0, 0.5) == 6.0
    assert rep.blended_adu(6, 420, 30, 1.0) == pytest.approx(14.0)
    with pytest.raises(ValueError):
        rep.blended_adu(6, 420, 30, 1.5)


def test_transfer_plan_takes_the_largest_surplus_first_and_never_more():
    assert rep.transfer_plan(30, {"A": 10, "B": 25}) == [("B", 25.0), ("A", 5.0)]
    assert rep.transfer_plan(30, {"A": -4}) == []
    assert rep.transfer_plan(-1, {"A": 10}) == []
