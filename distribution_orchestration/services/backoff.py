"""The retry policy of the outbox, without Odoo: which answers are retried and how long to wait.

- ``outcome(status)``: what an HTTP status means for an event: ``delivered`` (2xx), ``retry``
  (5xx, 408 Request Timeout, 429 Too Many Requests; a timeout or a connection error is ``retry`` too,
  see ``outcome(None)``) or ``dead`` (any other answer: the receiver refuses the event for good).
- ``delay(attempt, ...)``: exponential backoff with jitter, capped: ``base * factor ** (attempt - 1)``
  seconds, capped at ``cap``, minus a random part of at most ``jitter`` (a fraction) of it, so that the
  events of a receiver that came back do not all retry in the same second. Deterministic when given a
  random source (``rand``, a function returning a float in [0, 1)).
- ``retry_after(value, cap)``: the seconds a ``Retry-After`` header (seconds form) asks for, capped.
"""

import random as _random

DELIVERED = "delivered"
RETRY = "retry"
DEAD = "dead"
RETRYABLE_CLIENT_STATUSES = frozenset({408, 429})

BASE_SECONDS = 30.0
FACTOR = 2.0
CAP_SECONDS = 6 * 3600.0
JITTER = 0.2


def outcome(status):
    """What an answer means for the event; ``None`` stands for no answer (timeout, connection error).

    >>> [outcome(status) for status in (200, 201, 204, 299)]
    ['delivered', 'delivered', 'delivered', 'delivered']
    >>> [outcome(status) for status in (500, 502, 503, 408, 429, None)]
    ['retry', 'retry', 'retry', 'retry', 'retry', 'retry']
    >>> [outcome(status) for status in (400, 401, 403, 404, 410, 422, 301)]
    ['dead', 'dead', 'dead', 'dead', 'dead', 'dead', 'dead']
    """
    if status is None or status >= 500 or status in RETRYABLE_CLIENT_STATUSES:
        return RETRY
    if 200 <= status < 300:
        return DELIVERED
    return DEAD


def delay(attempt, base=BASE_SECONDS, factor=FACTOR, cap=CAP_SECONDS, jitter=JITTER, rand=None):
    """Seconds to wait after the ``attempt``-th failed attempt (1 for the first failure).

    Without jitter the delays double up to the cap:

    >>> [delay(attempt, jitter=0) for attempt in (1, 2, 3, 4)]
    [30.0, 60.0, 120.0, 240.0]
    >>> delay(20, jitter=0)
    21600.0
    >>> delay(3, base=10, factor=3, cap=60, jitter=0)
    60.0

    The jitter takes off at most ``jitter`` of the delay (a fraction, clamped to [0, 1]: never above the
    cap, never below zero):

    >>> delay(1, rand=lambda: 0.0), delay(1, rand=lambda: 0.5), delay(1, rand=lambda: 0.999999)
    (30.0, 27.0, 24.0)
    >>> delay(1, jitter=5, rand=lambda: 0.5), delay(1, jitter=-1, rand=lambda: 0.5)
    (15.0, 30.0)
    >>> delay(0, jitter=0)
    30.0
    """
    attempt = max(int(attempt), 1)
    jitter = min(max(float(jitter), 0.0), 1.0)
    # Cap the exponent too: factor ** attempt overflows floats long before attempts run out.
    exponent = min(attempt - 1, 64)
    raw = min(float(cap), float(base) * float(factor) ** exponent)
    draw = (rand or _random.random)()
    return round(raw * (1.0 - jitter * draw), 3)


def retry_after(value, cap=CAP_SECONDS):
    """Seconds asked by a ``Retry-After`` header in its seconds form (the date form is ignored).

    >>> retry_after("120"), retry_after(" 5 "), retry_after("999999", cap=3600)
    (120.0, 5.0, 3600.0)
    >>> retry_after(None), retry_after(""), retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), retry_after("-3")
    (0.0, 0.0, 0.0, 0.0)
    """
    try:
        seconds = float(str(value).strip())
    except (TypeError, ValueError):
        return 0.0
    if seconds != seconds:  # NaN
        return 0.0
    return min(max(seconds, 0.0), float(cap))
