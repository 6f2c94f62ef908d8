"""Demand-driven replenishment, without Odoo: demand, reorder points, lead times, cover.

The models gather grouped figures with SQL (daily quantities per product and warehouse, receipt dates per
vendor and product) and call these functions; what to suggest, when to apply it by itself and when a
vendor drifts is decided here.

>>> from datetime import date
>>> demand = daily_demand({date(2026, 1, 1): 10, date(2026, 1, 3): 20}, date(2026, 1, 1), 4)
>>> demand
[10.0, 0.0, 20.0, 0.0]
>>> usage(demand)
Usage(adu=7.5, sigma=8.29, days=4)
>>> reorder_levels(7.5, lead_days=10, safety_days=2, cycle_days=7)
Levels(min_qty=90.0, max_qty=142.5, method='days')
"""

import math
import statistics
from dataclasses import dataclass
from datetime import timedelta

DEFAULT_HORIZON_DAYS = 90
DEFAULT_TOLERANCE_PCT = 20.0


# -- demand ------------------------------------------------------------------------------------------
def daily_demand(quantities, start, days):
    """The demand of each of ``days`` days from ``start``: ``quantities`` is ``{date: quantity}`` of done
    customer deliveries net of returns (a day of net returns counts as no demand, never as negative
    demand); days without deliveries count as zero.

    >>> from datetime import date
    >>> daily_demand({date(2026, 1, 2): -3, date(2026, 1, 1): 4}, date(2026, 1, 1), 3)
    [4.0, 0.0, 0.0]
    """
    if days <= 0:
        raise ValueError("the horizon must be at least one day")
    return [max(float(quantities.get(start + timedelta(days=offset), 0.0)), 0.0) for offset in range(days)]


@dataclass(frozen=True)
class Usage:
    """Average daily usage, its standard deviation (population, over every day of the horizon) and the
    number of days it was measured on."""

    adu: float
    sigma: float
    days: int


def usage(demand):
    """``Usage`` of a daily demand series.

    >>> usage([0, 0, 0])
    Usage(adu=0.0, sigma=0.0, days=3)
    """
    if not demand:
        return Usage(0.0, 0.0, 0)
    return Usage(round(statistics.fmean(demand), 4), round(statistics.pstdev(demand), 2), len(demand))


def blended_adu(past_adu, future_qty, future_days, future_weight):
    """The ADU blended with the confirmed demand of open sale orders over the next ``future_days``:
    ``(1 - w) * past + w * future / days``; a weight of 0 (or no future horizon) keeps the past ADU.

    >>> blended_adu(10, 300, 30, 0.5)
    10.0
    >>> blended_adu(10, 600, 30, 0.25)
    12.5
    """
    if not future_days or future_weight <= 0:
        return float(past_adu)
    if not 0 <= future_weight <= 1:
        raise ValueError("the weight of the future demand is between 0 and 1")
    return (1.0 - future_weight) * past_adu + future_weight * future_qty / future_days


# -- reorder levels ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Levels:
    """A suggested min and max, and the formula that made them ('days' or 'service')."""

    min_qty: float
    max_qty: float
    method: str


def round_up(quantity, multiple):
    """``quantity`` rounded up to the rule's multiple (0 or less: no rounding).

    >>> round_up(91, 12), round_up(96, 12), round_up(7.2, 0)
    (96.0, 96.0, 7.2)
    """
    if not multiple or multiple <= 0:
        return float(quantity)
    return math.ceil(round(quantity / multiple, 9)) * float(multiple)


def service_z(service_level):
    """The z-score of a service level (the share of cycles without a stock-out), 0.5 to 0.9999.

    >>> round(service_z(0.95), 3), round(service_z(0.5), 3)
    (1.645, 0.0)
    """
    if not 0.5 <= service_level < 1:
        raise ValueError("the service level is between 0.5 and 1 (excluded)")
    return statistics.NormalDist().inv_cdf(service_level)


def reorder_levels(adu, lead_days, safety_days=0.0, cycle_days=0.0, sigma=None, service_level=None, multiple=0):
    """The suggested min and max of a reordering rule.

    - by days of cover: min = ADU x (lead time + safety days);
    - with a service level (and the demand's ``sigma``): min = ADU x lead time + z x sigma x sqrt(lead time);

    max = min + ADU x order cycle days; both rounded up to ``multiple``.

    >>> reorder_levels(10, lead_days=9, sigma=4, service_level=0.95, cycle_days=14, multiple=10)
    Levels(min_qty=110.0, max_qty=250.0, method='service')
    >>> reorder_levels(0, lead_days=9, safety_days=3, cycle_days=14)
    Levels(min_qty=0.0, max_qty=0.0, method='days')
    """
    if adu < 0 or lead_days < 0 or safety_days < 0 or cycle_days < 0:
        raise ValueError("demand, lead time, safety and cycle days cannot be negative")
    if service_level is not None:
        if sigma is None:
            raise ValueError("a service level needs the demand's standard deviation")
        minimum = adu * lead_days + service_z(service_level) * sigma * math.sqrt(lead_days)
        method = "service"
    else:
        minimum = adu * (lead_days + safety_days)
        method = "days"
    maximum = minimum + adu * cycle_days
    return Levels(round_up(minimum, multiple), round_up(max(maximum, minimum), multiple), method)


def change_pct(current, suggested):
    """How far ``suggested`` is from ``current``, in percent of ``current`` (a rule at 0 changed to more
    than 0 is an infinite change).

    >>> change_pct(100, 115), change_pct(100, 70), change_pct(0, 0), change_pct(0, 5)
    (15.0, 30.0, 0.0, inf)
    """
    if current == 0:
        return 0.0 if suggested == 0 else math.inf
    return round(abs(suggested - current) * 100.0 / abs(current), 4)


def within_tolerance(current_min, current_max, levels, tolerance_pct=DEFAULT_TOLERANCE_PCT):
    """Whether a suggestion may apply by itself: both min and max move by at most ``tolerance_pct``;
    larger changes are left for a person (an approval where approvals are installed).

    >>> within_tolerance(100, 200, Levels(120, 230, "days"))
    True
    >>> within_tolerance(100, 200, Levels(121, 230, "days"))
    False
    """
    return (
        change_pct(current_min, levels.min_qty) <= tolerance_pct
        and change_pct(current_max, levels.max_qty) <= tolerance_pct
    )


def days_of_cover(free_qty, adu):
    """Days the free quantity lasts at the ADU (None when there is no demand: it lasts for ever).

    >>> days_of_cover(30, 7.5), days_of_cover(0, 2), days_of_cover(10, 0)
    (4.0, 0.0, None)
    """
    if adu <= 0:
        return None
    return round(max(free_qty, 0.0) / adu, 2)


# -- lead times --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LeadTime:
    """Lead time learned from receipts: the median and 90th percentile of the days from confirmation to
    receipt, the on-time rate against the promised date (None when no receipt had a promise), and how
    many receipts it was learned from."""

    median_days: float
    p90_days: float
    on_time_rate: float | None
    receipts: int


def percentile(values, q):
    """The ``q`` quantile (0..1) of ``values``, linear between the closest ranks.

    >>> percentile([1, 2, 3, 4, 10], 0.5), percentile([1, 2, 3, 4, 10], 0.9)
    (3.0, 7.6)
    """
    ordered = sorted(float(v) for v in values)
    if not ordered:
        raise ValueError("no value")
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 4)


def learn_lead_time(receipts, last=10):
    """``LeadTime`` of the ``last`` receipts: ``receipts`` is ``[(confirmed_at, done_at, promised_at or
    None)]`` (datetimes), in any order; the newest ``last`` count. None without receipts.

    >>> from datetime import datetime as dt
    >>> receipts = [(dt(2026, 1, d), dt(2026, 1, d) + timedelta(days=n), dt(2026, 1, d) + timedelta(days=7))
    ...             for d, n in ((1, 5), (2, 7), (3, 9), (4, 6), (5, 14))]
    >>> learn_lead_time(receipts)
    LeadTime(median_days=7.0, p90_days=12.0, on_time_rate=0.6, receipts=5)
    """
    if not receipts:
        return None
    newest = sorted(receipts, key=lambda receipt: receipt[1])[-last:] if last else list(receipts)
    days = [(done - confirmed).total_seconds() / 86400.0 for confirmed, done, _promised in newest]
    promised = [(done, promise) for _confirmed, done, promise in newest if promise]
    on_time = (
        sum(1 for done, promise in promised if done.date() <= promise.date()) / len(promised) if promised else None
    )
    return LeadTime(
        round(statistics.median(days), 4),
        round(percentile(days, 0.9), 3),
        round(on_time, 4) if on_time is not None else None,
        len(newest),
    )


def drifts(learned_days, planned_days, min_pct, min_days):
    """Whether a learned lead time drifts from the planned one by more than ``min_pct`` percent AND more
    than ``min_days`` days (both: a 1-day vendor at 2 days is +100% but no news).

    >>> drifts(12, 7, 20, 3), drifts(8, 7, 20, 3), drifts(2, 1, 20, 3), drifts(3, 7, 20, 3)
    (True, False, False, True)
    """
    gap = abs(learned_days - planned_days)
    if gap <= min_days:
        return False
    return planned_days == 0 or gap * 100.0 / planned_days > min_pct


# -- replenishment run -------------------------------------------------------------------------------
def transfer_plan(need, surpluses):
    """How to cover ``need`` from other warehouses' ``surpluses`` ({warehouse: quantity above its own max}):
    [(warehouse, quantity)], the largest surplus first (fewest transfers), never more than a surplus, nothing
    for a need of 0 or less; what is left is for purchasing.

    >>> transfer_plan(20, {"EAST": 40, "WEST": 5})
    [('EAST', 20.0)]
    >>> transfer_plan(20, {"EAST": 8, "WEST": 5, "NORTH": 0})
    [('EAST', 8.0), ('WEST', 5.0)]
    >>> transfer_plan(0, {"EAST": 8})
    []
    """
    plan = []
    left = float(need)
    for warehouse, surplus in sorted(surpluses.items(), key=lambda item: (-item[1], str(item[0]))):
        if left <= 0:
            break
        if surplus <= 0:
            continue
        quantity = min(float(surplus), left)
        plan.append((warehouse, quantity))
        left -= quantity
    return plan
