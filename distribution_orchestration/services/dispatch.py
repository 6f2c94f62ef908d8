"""Dispatch score: how urgently an order or a delivery should leave the warehouse (pure Python, no Odoo).

Higher is more urgent. The score is a sum of points, each shown in the breakdown, so a supervisor can
read why one delivery comes before another::

    score = sla + time + value + tier

- ``sla``: the customer's service level: the tighter the target time to ship, the more points,
  ``SLA_POINTS * 24 / (24 + target_hours)`` (a 4 h target gives 17.1, 72 h gives 5); no SLA, no points.
- ``time``: pressure of the promise date. Before it, ``TIME_POINTS * 24 / (24 + hours_left)``: 40 when
  due now, 20 when due in a day, 10 in three days. Once the promise is broken, ``OVERDUE_POINTS`` plus
  up to ``OVERDUE_EXTRA_POINTS`` as the delay grows to ``OVERDUE_CAP_HOURS``. ``OVERDUE_POINTS`` is above
  the most an on-time order can collect from time and value together, so **an overdue promise outranks
  every on-time order of the same tier**, whatever its value. No promise date: no time points.
- ``value``: the order value on a log scale, ``VALUE_POINTS_PER_DECADE * log10(1 + value)`` capped at
  ``VALUE_MAX_POINTS`` (100 gives 6, 1,000 gives 9, 100,000 and more give 15): value matters, but one huge
  order cannot jump over a broken promise.
- ``tier``: the customer tier's weight multiplies the sum of the above; the extra it brings,
  ``(weight - 1) * (sla + time + value)``, is its own line, so the lines add up to the score.

Every component is rounded to 2 decimals and the score is the sum of the rounded components.
"""

import math

SLA_POINTS = 20.0
TIME_POINTS = 40.0
OVERDUE_POINTS = 60.0
OVERDUE_EXTRA_POINTS = 20.0
OVERDUE_CAP_HOURS = 48.0
VALUE_POINTS_PER_DECADE = 3.0
VALUE_MAX_POINTS = 15.0
HALF_LIFE_HOURS = 24.0  # points halve at this distance (time) or target (SLA)
COMPONENTS = ("sla", "time", "value", "tier")
DEFAULT_URGENT_SCORE = 60.0  # every overdue promise of a weight-1 customer reaches it

# An on-time order can never collect more from time and value than an overdue one gets from lateness alone.
assert OVERDUE_POINTS > TIME_POINTS + VALUE_MAX_POINTS


def hours_between(now, promise):
    """Hours from ``now`` to ``promise`` (negative once the promise is past), None without a promise.

    >>> from datetime import datetime
    >>> hours_between(datetime(2026, 1, 1, 8), datetime(2026, 1, 1, 10, 30))
    2.5
    >>> hours_between(datetime(2026, 1, 1, 8), datetime(2025, 12, 31, 8))
    -24.0
    >>> hours_between(datetime(2026, 1, 1, 8), None) is None
    True
    """
    if not promise:
        return None
    return (promise - now).total_seconds() / 3600.0


def sla_points(sla_target_hours):
    """Points of the service level: a tighter target to ship gives more.

    >>> sla_points(4), sla_points(24), sla_points(72), sla_points(None)
    (17.142857142857142, 10.0, 5.0, 0.0)
    """
    if sla_target_hours is None or sla_target_hours < 0:
        return 0.0
    return SLA_POINTS * HALF_LIFE_HOURS / (HALF_LIFE_HOURS + sla_target_hours)


def time_points(hours_to_promise):
    """Points of the promise date: more as it nears, a jump once it is broken, growing with the delay.

    >>> [round(time_points(hours), 2) for hours in (72, 24, 2, 0)]
    [10.0, 20.0, 36.92, 40.0]
    >>> [round(time_points(hours), 2) for hours in (-0.01, -24, -48, -500)]
    [60.0, 70.0, 80.0, 80.0]
    >>> time_points(None)
    0.0
    """
    if hours_to_promise is None:
        return 0.0
    if hours_to_promise >= 0:
        return TIME_POINTS * HALF_LIFE_HOURS / (HALF_LIFE_HOURS + hours_to_promise)
    overdue = min(-hours_to_promise, OVERDUE_CAP_HOURS)
    return OVERDUE_POINTS + OVERDUE_EXTRA_POINTS * overdue / OVERDUE_CAP_HOURS


def value_points(order_value):
    """Points of the order value, on a log scale and capped.

    >>> [round(value_points(value), 2) for value in (0, 99, 999, 99999, 10**9)]
    [0.0, 6.0, 9.0, 15.0, 15.0]
    >>> value_points(-50)
    0.0
    """
    if not order_value or order_value <= 0:
        return 0.0
    return min(VALUE_MAX_POINTS, VALUE_POINTS_PER_DECADE * math.log10(1 + order_value))


def dispatch_score(sla_target_hours, hours_to_promise, order_value, tier_weight=1.0):
    """Score of one order or delivery and its breakdown (points per component, adding up to the score).

    ``sla_target_hours``: the customer tier's target time to ship (None: no tier);
    ``hours_to_promise``: hours left to the promise date, negative when overdue (None: no promise);
    ``order_value``: in company currency; ``tier_weight``: the tier's multiplier (1 without a tier).

    A gold customer (4 h target, weight 1.5) due in 2 h, against a bronze one (72 h target, weight 1)
    due in 3 days with a bigger order:

    >>> dispatch_score(4, 2, 1000, 1.5)
    (94.59, {'sla': 17.14, 'time': 36.92, 'value': 9.0, 'tier': 31.53})
    >>> dispatch_score(72, 72, 50000, 1.0)
    (29.1, {'sla': 5.0, 'time': 10.0, 'value': 14.1, 'tier': 0.0})

    Overdue by 12 h, no tier, no sale order:

    >>> dispatch_score(None, -12, 0)
    (65.0, {'sla': 0.0, 'time': 65.0, 'value': 0.0, 'tier': 0.0})
    """
    weight = 1.0 if tier_weight is None else max(float(tier_weight), 0.0)
    base = {
        "sla": round(sla_points(sla_target_hours), 2),
        "time": round(time_points(hours_to_promise), 2),
        "value": round(value_points(order_value), 2),
    }
    subtotal = sum(base.values())
    breakdown = dict(base, tier=round(subtotal * (weight - 1.0), 2))
    return round(sum(breakdown.values()), 2), breakdown


def is_urgent(score, threshold=DEFAULT_URGENT_SCORE):
    """Whether a score calls for the urgent priority.

    >>> is_urgent(60.0), is_urgent(59.99), is_urgent(10, threshold=5)
    (True, False, True)
    """
    return score >= threshold


def explain(breakdown, labels, total_label="Total"):
    """Human-readable breakdown, one line per component in a fixed order, then the total.

    ``labels`` maps a component to its (translated, detailed) label; a component without a label is
    shown under its key.

    >>> print(explain({'sla': 17.14, 'time': 36.92, 'value': 9.0, 'tier': 31.53},
    ...               {'sla': 'SLA (target 4 h)', 'time': 'Due in 2.0 h', 'value': 'Value 1000.00',
    ...                'tier': 'Tier weight x1.5'}))
    SLA (target 4 h): +17.14
    Due in 2.0 h: +36.92
    Value 1000.00: +9.00
    Tier weight x1.5: +31.53
    Total: 94.59
    """
    keys = [key for key in COMPONENTS if key in breakdown] + [key for key in breakdown if key not in COMPONENTS]
    lines = [f"{labels.get(key, key)}: {breakdown[key]:+.2f}" for key in keys]
    lines.append(f"{total_label}: {round(sum(breakdown.values()), 2):.2f}")
    return "\n".join(lines)
