"""The pure checks of the validation pipeline (distribution_orchestration/services/validation.py)."""

import doctest
from datetime import datetime
from datetime import timedelta

import pytest

from .services import load_service

validation = load_service("distribution_orchestration", "validation")


def test_doctests():
    failures, tried = doctest.testmod(validation)
    assert tried > 10 and failures == 0


@pytest.mark.parametrize(("order_amount", "passed"), [(1999.99, True), (2000.0, True), (2000.01, False)])
def test_credit_limit_boundary(order_amount, passed):
    assert validation.credit_limit(10000, 5000, 3000, order_amount).passed is passed


def test_credit_message_says_what_to_do():
    finding = validation.credit_limit(10000, 6000, 2000, 2500, currency="EUR")
    assert "over the limit of 10,000.00 by 500.00" in finding.message
    assert "credit manager" in finding.message


def test_credit_limit_disabled_by_company_setting():
    assert validation.credit_limit(100, 1000, 1000, 1000, enabled=False).passed


def test_stock_alternate_warehouse_prefers_the_one_with_most_stock():
    finding = validation.stock_availability(
        {"A": 5}, {"A": 1}, {"W2": {"A": 6}, "W3": {"A": 50}}, {"W2": "North", "W3": "South"}
    )
    assert finding.values["alternate_warehouse"] == "W3"
    assert "South" in finding.message


@pytest.mark.parametrize(
    ("policy", "proposal"), [("ship_partial", "partial"), ("ship_complete", "wait"), ("ask", "ask")]
)
def test_stock_backorder_policy_decides_when_no_warehouse_covers(policy, proposal):
    finding = validation.stock_availability(
        {"A": 5}, {"A": 2}, {"W2": {"A": 1}}, {"W2": "North"}, backorder_policy=policy
    )
    assert (finding.passed, finding.values["proposal"]) == (False, proposal)
    assert finding.values["to_procure"] == ["A"]


def test_negative_free_stock_counts_as_none():
    finding = validation.stock_availability({"A": 1}, {"A": -3}, {}, {})
    assert finding.values["shortages"] == {"A": 1}
    assert finding.values["proposal"] == "procure"


def test_margin_floor_boundary_and_empty_order():
    assert validation.margin_floor([(100, 80)], 20).passed
    assert not validation.margin_floor([(100, 80.01)], 20).passed
    assert validation.margin_floor([], 20).passed


def test_rush_margin_at_the_floor_passes_and_counts_the_recorded_shipping_cost():
    # 100 sold, 60 of goods, 25 of recorded shipping: 15 % after the rush, exactly the floor.
    at_floor = validation.rush_margin([(100, 60)], [], 25, 15)
    assert at_floor.passed and at_floor.values["rush_cost"] == 25
    under = validation.rush_margin([(100, 60)], [], 25.01, 15)
    assert not under.passed and under.reason == "rush_margin_erosion"
    assert under.values["margin_before_rush_pct"] == 40.0


def test_rush_margin_patterns_need_the_count_under_the_floor():
    fail = validation.rush_margin([(100, 95)], [], 0, 10)
    ok = validation.rush_margin([(100, 50)], [], 0, 10)
    orders = [(("c1", "2026-03"), "SO1", fail), (("c1", "2026-03"), "SO2", ok), (("c1", "2026-04"), "SO3", fail)]
    assert validation.rush_margin_patterns(orders, 2) == {}
    assert validation.rush_margin_patterns(orders, 1) == {("c1", "2026-03"): ["SO1"], ("c1", "2026-04"): ["SO3"]}
    assert validation.rush_margin_patterns(orders, 0) == validation.rush_margin_patterns(orders, 1)


def test_date_feasibility_boundary():
    earliest = datetime(2026, 12, 10, 8)
    assert validation.date_feasibility(earliest, earliest).passed
    assert not validation.date_feasibility(earliest - timedelta(minutes=1), earliest).passed
    assert validation.date_feasibility(None, earliest).passed


def test_rush_boundary():
    now = datetime(2026, 12, 1, 8)
    assert validation.rush_shipment(now + timedelta(hours=24), now, 24).passed
    assert not validation.rush_shipment(now + timedelta(hours=23, minutes=59), now, 24).passed
