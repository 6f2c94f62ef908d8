"""Thresholds, levels and the overall health status, without Odoo."""

OK, WARNING, CRITICAL = "ok", "warning", "critical"
_RANK = {OK: 0, WARNING: 1, CRITICAL: 2}
# /distribution/health answers one of these, from the worst check.
STATUS_OF_LEVEL = {OK: "ok", WARNING: "degraded", CRITICAL: "failing"}


def level(value, warning=None, critical=None):
    """Level of a value against optional thresholds (a threshold of 0 or None is unset).

    >>> level(5, warning=10, critical=50), level(10, 10, 50), level(75, 10, 50), level(3, None, None)
    ('ok', 'warning', 'critical', 'ok')
    """
    if value is None:
        return OK
    if critical and value >= critical:
        return CRITICAL
    if warning and value >= warning:
        return WARNING
    return OK


def worst(levels):
    """The worst of several levels; OK when there are none.

    >>> worst(["ok", "warning", "ok"]), worst([])
    ('warning', 'ok')
    """
    return max(levels, key=_RANK.__getitem__, default=OK)


def overall_status(checks):
    """'ok', 'degraded' or 'failing' from checks shaped {"level": ...}.

    >>> overall_status([{"level": "ok"}, {"level": "critical"}])
    'failing'
    """
    return STATUS_OF_LEVEL[worst(check["level"] for check in checks)]


def age_buckets(total, newer_than_1h, newer_than_4h, newer_than_24h):
    """Split a backlog into age buckets from cumulative counts of items newer than 1 h, 4 h, 24 h.

    >>> age_buckets(10, 2, 5, 9)
    {'lt_1h': 2, 'h1_4': 3, 'h4_24': 4, 'gt_24h': 1}
    """
    return {
        "lt_1h": newer_than_1h,
        "h1_4": newer_than_4h - newer_than_1h,
        "h4_24": newer_than_24h - newer_than_4h,
        "gt_24h": total - newer_than_24h,
    }
