"""The periods of the dashboard and the slots of its chart: plain Python, no Odoo.

A period is what the dashboard's switch offers (last hour, 24 hours, 7 days). Its chart is cut in
slots, oldest first, the current (unfinished) slot last; the tiles and the workflow table count the
runs since the start of the first slot, so that the bars add up to the tiles. Minutes and hours are
cut in UTC (their boundaries are the same in every time zone the chart's labels are shown in, but
for the few with a half-hour offset), days at the user's midnight: a day bar is a day of the user.

>>> from datetime import datetime
>>> now = datetime(2026, 3, 10, 14, 37, 12)
>>> slots = slot_starts(get_period("1h"), now)
>>> len(slots), slots[0], slots[-1]
(12, datetime.datetime(2026, 3, 10, 13, 40), datetime.datetime(2026, 3, 10, 14, 35))
>>> slots = slot_starts(get_period("24h"), now)
>>> len(slots), slots[0], slots[-1]
(24, datetime.datetime(2026, 3, 9, 15, 0), datetime.datetime(2026, 3, 10, 14, 0))
>>> slots = slot_starts(get_period("7d"), now, "Europe/Brussels")   # midnight in Brussels is 23:00 UTC
>>> len(slots), slots[0], slots[-1]
(7, datetime.datetime(2026, 3, 3, 23, 0), datetime.datetime(2026, 3, 9, 23, 0))
"""

from collections import namedtuple
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from .days import zone as user_zone

Period = namedtuple("Period", "key slots step granularity")
# key -> how many slots of which length; the granularity tells the client how to label a slot.
PERIODS = {
    "1h": Period("1h", 12, timedelta(minutes=5), "minute"),
    "24h": Period("24h", 24, timedelta(hours=1), "hour"),
    "7d": Period("7d", 7, timedelta(days=1), "day"),
}
DEFAULT_PERIOD = "24h"


def get_period(key):
    """The period of a key; ValueError for anything else (the caller words it for the user).

    >>> get_period("7d").slots
    7
    >>> get_period("30d")
    Traceback (most recent call last):
    ...
    ValueError: unknown period '30d'
    """
    if not isinstance(key, str) or key not in PERIODS:
        raise ValueError(f"unknown period {key!r}")
    return PERIODS[key]


def slot_starts(period, now, tz_name="UTC"):
    """Where each slot of ``period`` starts, as naive UTC datetimes, oldest first; the last one holds
    ``now`` (naive UTC). Day slots start at midnight in ``tz_name`` (UTC when unknown), whatever the
    daylight saving changes of the week (a day may last 23 or 25 hours).

    >>> now = datetime(2026, 3, 30, 10, 0)  # Brussels moved to summer time on the 29th at 2:00
    >>> [s.hour for s in slot_starts(get_period("7d"), now, "Europe/Brussels")]
    [23, 23, 23, 23, 23, 23, 22]
    >>> slot_starts(get_period("7d"), now, "Not/AZone")[-1]
    datetime.datetime(2026, 3, 30, 0, 0)
    """
    if period.granularity == "day":
        zone = user_zone(tz_name)
        local_today = now.replace(tzinfo=UTC).astimezone(zone).date()
        days = [local_today - timedelta(days=offset) for offset in range(period.slots - 1, -1, -1)]
        return [
            datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC).replace(tzinfo=None) for day in days
        ]
    step_seconds = int(period.step.total_seconds())
    epoch = datetime(1970, 1, 1)
    seconds = int((now - epoch).total_seconds())
    current = epoch + timedelta(seconds=seconds - seconds % step_seconds)
    return [current - period.step * offset for offset in range(period.slots - 1, -1, -1)]


def local_dates(slots, tz_name="UTC"):
    """The dates, in ``tz_name``, on which slots (naive UTC) start: the labels of day slots.

    >>> local_dates([datetime(2026, 3, 9, 23, 0)], "Europe/Brussels")
    ['2026-03-10']
    """
    zone = user_zone(tz_name)
    return [start.replace(tzinfo=UTC).astimezone(zone).date().isoformat() for start in slots]
