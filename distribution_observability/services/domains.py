"""The names a domain typed in a form may use when the server evaluates it, as in Odoo's own filters.

A rule's condition is a domain written in its form, the way Odoo's filters are written:
``[('commitment_date', '<', context_today())]`` or
``[('create_date', '>=', (context_today() - relativedelta(days=7)).strftime('%Y-%m-%d'))]``. The server
evaluates it with :func:`eval_context`: ``uid``, ``context_today()`` (today in the user's time zone, a
function called without arguments, as in the filters) and ``relativedelta``, plus what the caller adds.

>>> from datetime import date
>>> names = eval_context(7, lambda: date(2026, 12, 8))
>>> names["uid"], names["context_today"](), names["context_today"]() - names["relativedelta"](days=8)
(7, datetime.date(2026, 12, 8), datetime.date(2026, 11, 30))
"""

from dateutil.relativedelta import relativedelta


def eval_context(uid, context_today, **extra):
    """The evaluation context of a domain: ``context_today`` is a function without arguments giving the
    user's day (``lambda: fields.Date.context_today(record)``)."""
    return {"uid": uid, "context_today": context_today, "relativedelta": relativedelta, **extra}
