"""The dashboard's periods and chart slots (distribution_observability/services/dashboard.py)."""

import doctest
from datetime import datetime
from datetime import timedelta
from itertools import pairwise

import pytest

from .services import load_service

dashboard = load_service("distribution_observability", "dashboard")


def test_doctests():
    failures, tried = doctest.testmod(dashboard)
    assert tried > 0 and failures == 0


@pytest.mark.parametrize(("key", "slots", "step"), [("1h", 12, 300), ("24h", 24, 3600), ("7d", 7, 86400)])
def test_slots_end_with_the_current_one(key, slots, step):
    now = datetime(2026, 6, 15, 9, 58, 59)
    starts = dashboard.slot_starts(dashboard.get_period(key), now)
    assert len(starts) == slots
    assert starts == sorted(starts)
    assert starts[-1] <= now < starts[-1] + timedelta(seconds=step)
    assert {int((b - a).total_seconds()) for a, b in pairwise(starts)} == {step}


def test_days_are_the_users_days():
    now = datetime(2026, 6, 15, 20, 0)  # already the 16th in Tokyo, still the 15th in Los Angeles
    tokyo = dashboard.slot_starts(dashboard.get_period("7d"), now, "Asia/Tokyo")
    assert dashboard.local_dates(tokyo, "Asia/Tokyo")[-1] == "2026-06-16"
    assert tokyo[-1] == datetime(2026, 6, 15, 15, 0)  # midnight in Tokyo, in UTC
    angeles = dashboard.slot_starts(dashboard.get_period("7d"), now, "America/Los_Angeles")
    assert dashboard.local_dates(angeles, "America/Los_Angeles") == [f"2026-06-{day:02d}" for day in range(9, 16)]


@pytest.mark.parametrize("key", ["", "30d", "1H", None, 24, ("24h",)])
def test_unknown_periods(key):
    with pytest.raises(ValueError):
        dashboard.get_period(key)
