"""The calendar day of a moment as a person reads it.

Odoo stores datetimes in UTC and shows them in the reader's time zone; a date cut from the UTC value is a
day off for half the world's evenings. A deadline at 23:30 UTC is due on the 19th in Tokyo:

>>> from datetime import datetime
>>> moment = datetime(2027, 3, 18, 23, 30)
>>> local_day(moment, "Asia/Tokyo"), local_day(moment, "America/New_York"), local_day(moment, None)
(datetime.date(2027, 3, 19), datetime.date(2027, 3, 18), datetime.date(2027, 3, 18))
>>> local_day(moment, "Not/AZone")  # an unknown zone reads as UTC
datetime.date(2027, 3, 18)
"""

from datetime import UTC
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError


def zone(tz_name):
    """The time zone named ``tz_name``; UTC when the name is empty or unknown (a user's tz field may hold a
    name this machine's zone database lacks)."""
    try:
        return ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_day(moment, tz_name):
    """The day of ``moment`` (a naive UTC datetime) in the time zone ``tz_name`` (UTC when empty or
    unknown)."""
    return moment.replace(tzinfo=UTC).astimezone(zone(tz_name)).date()
