"""What an alert rule does on each evaluation, without Odoo.

A rule trips when its metric breaches the threshold: an incident opens and, outside the cooldown, the
recipients are notified once. While it stays breached nothing more happens. When the metric recovers
the open incident resolves itself. A rule that trips again inside the cooldown opens a new incident
but notifies nobody, so a flapping metric cannot flood the channel.
"""

from datetime import timedelta

OPEN_AND_NOTIFY = "open_and_notify"
OPEN_SILENTLY = "open_silently"
KEEP = "keep"
RESOLVE = "resolve"
NOTHING = "nothing"


def breached(value, threshold, comparator=">="):
    """Whether a metric value breaches its threshold.

    >>> breached(5, 5), breached(4.9, 5), breached(2, 5, "<"), breached(None, 5)
    (True, False, True, False)
    """
    if value is None:
        return False
    if comparator == "<":
        return value < threshold
    return value >= threshold


def decide(is_breached, has_open_incident, last_notified_at, cooldown_minutes, now):
    """The action for one evaluation.

    >>> from datetime import datetime
    >>> now = datetime(2026, 11, 30, 12, 0)
    >>> decide(True, False, None, 60, now)
    'open_and_notify'
    >>> decide(True, False, datetime(2026, 11, 30, 11, 30), 60, now)
    'open_silently'
    >>> decide(True, True, None, 60, now), decide(False, True, None, 60, now), decide(False, False, None, 60, now)
    ('keep', 'resolve', 'nothing')
    """
    if is_breached:
        if has_open_incident:
            return KEEP
        if last_notified_at and now - last_notified_at < timedelta(minutes=cooldown_minutes or 0):
            return OPEN_SILENTLY
        return OPEN_AND_NOTIFY
    return RESOLVE if has_open_incident else NOTHING
