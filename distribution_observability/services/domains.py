"""The names a domain may use when the server evaluates it: those of Odoo's own filters and domain editor.

A rule's condition is a domain built in its form with Odoo's domain editor, or typed the way Odoo's filters
are written: ``[('commitment_date', '<', context_today())]``,
``[('create_date', '>=', (context_today() - relativedelta(days=7)).strftime('%Y-%m-%d'))]``. The editor
writes "is within the next 2 days" on a date-time field as
``datetime.datetime.combine(context_today() + relativedelta(days=2), datetime.time(0, 0, 0)).to_utc()``, whose
``to_utc()`` only Odoo's web client knows: the server evaluates the domain with :func:`eval_context`, where it
means the same (the user's midnight, in UTC).

>>> from datetime import datetime
>>> names = eval_context(7, "Asia/Tokyo", at=datetime(2026, 12, 7, 20, 0))  # 20:00 UTC: the 8th in Tokyo
>>> names["uid"], names["context_today"](), names["context_today"]() - names["relativedelta"](days=8)
(7, datetime.date(2026, 12, 8), datetime.date(2026, 11, 30))
>>> midnight = names["datetime"].datetime.combine(names["context_today"](), names["datetime"].time(0, 0, 0))
>>> midnight.to_utc().strftime("%Y-%m-%d %H:%M:%S")  # Tokyo's midnight of the 8th, in UTC
'2026-12-07 15:00:00'
>>> eval_context(7, None)["datetime"].datetime(2026, 12, 8).to_utc().isoformat()
'2026-12-08T00:00:00'
"""

import datetime as _datetime
from types import SimpleNamespace

from dateutil.relativedelta import relativedelta

from .days import local_day
from .days import zone


def _editor_datetime(tz_name):
    """The ``datetime`` of the domain editor's expressions: its datetimes are the user's wall-clock time, and
    ``to_utc()`` turns them into UTC (naive, as Odoo stores them). Only these four names are given."""
    user_zone = zone(tz_name)

    class UserDatetime(_datetime.datetime):
        def to_utc(self):
            return self.replace(tzinfo=user_zone).astimezone(_datetime.UTC).replace(tzinfo=None)

    return SimpleNamespace(
        datetime=UserDatetime, date=_datetime.date, time=_datetime.time, timedelta=_datetime.timedelta
    )


def eval_context(uid, tz_name, at=None, **extra):
    """The evaluation context of a domain for the user ``uid`` in the time zone ``tz_name``:
    ``context_today()`` is their day at ``at`` (a naive UTC datetime; now by default), as Odoo's
    ``fields.Date.context_today`` gives it."""

    def context_today():
        return local_day(at or _datetime.datetime.now(_datetime.UTC).replace(tzinfo=None), tz_name)

    return {
        "uid": uid,
        "context_today": context_today,
        "relativedelta": relativedelta,
        "datetime": _editor_datetime(tz_name),
        **extra,
    }
