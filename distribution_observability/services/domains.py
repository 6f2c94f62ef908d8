"""The names a domain may use when the server evaluates it: those of Odoo's own filters and domain editor.

A rule's condition is a domain built in its form with Odoo's domain editor, or typed the way Odoo's filters
are written: ``[('commitment_date', '<', context_today())]``,
``[('create_date', '>=', (context_today() - relativedelta(days=7)).strftime('%Y-%m-%d'))]``. The editor
writes "is within the next 2 days" on a date-time field as
``datetime.datetime.combine(context_today() + relativedelta(days=2), datetime.time(0, 0, 0)).to_utc()``, whose
``to_utc()`` only Odoo's web client knows: the server evaluates the domain with :func:`eval_context`, where it
means the same (the user's midnight, in UTC).

>>> from datetime import date
>>> names = eval_context(7, lambda: date(2026, 12, 8), "Asia/Tokyo")
>>> names["uid"], names["context_today"]() - names["relativedelta"](days=8)
(7, datetime.date(2026, 11, 30))
>>> midnight = names["datetime"].datetime.combine(names["context_today"](), names["datetime"].time(0, 0, 0))
>>> midnight.to_utc().strftime("%Y-%m-%d %H:%M:%S")  # Tokyo's midnight of the 8th, in UTC
'2026-12-07 15:00:00'
>>> eval_context(7, lambda: date(2026, 12, 8), None)["datetime"].datetime(2026, 12, 8).to_utc().isoformat()
'2026-12-08T00:00:00'
"""

import datetime as _datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta


def _editor_datetime(tz_name):
    """The ``datetime`` of the domain editor's expressions: its datetimes are the user's wall-clock time, and
    ``to_utc()`` turns them into UTC (naive, as Odoo stores them). Only these four names are given."""
    try:
        zone = ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = _datetime.UTC

    class UserDatetime(_datetime.datetime):
        def to_utc(self):
            return self.replace(tzinfo=zone).astimezone(_datetime.UTC).replace(tzinfo=None)

    return SimpleNamespace(
        datetime=UserDatetime, date=_datetime.date, time=_datetime.time, timedelta=_datetime.timedelta
    )


def eval_context(uid, context_today, tz_name, **extra):
    """The evaluation context of a domain: ``context_today`` is a function without arguments giving the
    user's day (``lambda: fields.Date.context_today(record)``), ``tz_name`` the user's time zone."""
    return {
        "uid": uid,
        "context_today": context_today,
        "relativedelta": relativedelta,
        "datetime": _editor_datetime(tz_name),
        **extra,
    }
