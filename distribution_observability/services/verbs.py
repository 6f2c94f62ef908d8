"""Server verbs: the marks that only the server's own code can set.

Every public method is a door a user opens over JSON-RPC with a context of their choosing, so a
context key can never say "this write is the approved one". A server verb marks the records it works
on for the time of a ``with`` block, in a context variable of the running call stack, which no request
can reach. A guard field (a validation state, an approval link, an exception's state) refuses a write
unless its records are inside one of the verbs that own it.

>>> class Records:
...     _name, ids = "sale.order", [1, 2]
>>> inside("release", Records())
False
>>> with server_verb("release", Records()):
...     inside("release", Records()), inside("other", Records())
(True, False)
>>> inside("release", Records())
False
"""

import contextlib
import contextvars

_ACTIVE = contextvars.ContextVar("distribution_server_verbs", default=frozenset())


def _marks(name, records):
    ids = list(records.ids) or [None]  # no ids: the verb covers the model (records being created)
    return frozenset((name, records._name, record_id) for record_id in ids)


@contextlib.contextmanager
def server_verb(name, records):
    """Mark ``records`` as worked on by the server verb ``name`` while the block runs."""
    token = _ACTIVE.set(_ACTIVE.get() | _marks(name, records))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def inside(names, records):
    """Whether every one of ``records`` is inside one of the verbs ``names`` (a name or a tuple), or
    the verb covers their whole model."""
    names = (names,) if isinstance(names, str) else tuple(names)
    active = _ACTIVE.get()
    for name in names:
        if (name, records._name, None) in active:
            return True
        if records.ids and all((name, records._name, record_id) in active for record_id in records.ids):
            return True
    return False


def refused_fields(records, vals, guards):
    """The fields of ``vals`` that ``guards`` ({field: verb name or tuple of names}) reserve to verbs
    the records are not inside, sorted.

    >>> class Records:
    ...     _name, ids = "distribution.exception", [7]
    >>> refused_fields(Records(), {"state": "resolved", "user_id": 3}, {"state": ("resolve", "dismiss")})
    ['state']
    >>> with server_verb("resolve", Records()):
    ...     refused_fields(Records(), {"state": "resolved"}, {"state": ("resolve", "dismiss")})
    []
    """
    return sorted(name for name in vals if name in guards and not inside(guards[name], records))
