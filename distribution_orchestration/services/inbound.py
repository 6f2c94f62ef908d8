"""Inbound webhook events, without Odoo: the schema of each handler's body, dates, retry delays.

``validate(handler, payload)`` returns the list of problems of a decoded JSON body (empty when it is
acceptable); the controller answers 400 with that list. The envelope is the one of
``services/signature.envelope``: ``{"event_id", "type", "occurred_at", "company", "data": {...}}``.
"""

import json
import math
import re
import uuid
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta

HANDLERS = ("carrier_status", "supplier_update", "exception_report", "channel_order")
CARRIER_STATUSES = ("in_transit", "delivered", "delayed", "exception")
SEVERITIES = ("low", "medium", "high", "critical")
MAX_ATTEMPTS = 5
MAX_MESSAGE_LENGTH = 2000
EXCERPT_LENGTH = 200
# How deep a body may nest its arrays and objects: every schema reads two or three levels; deeper is refused
# before anything walks it (json would raise RecursionError far deeper, a 500).
MAX_DEPTH = 32
MAX_RECORD_ID = 2**31 - 1  # PostgreSQL's integer: a larger id is no record (and an error in a query)
# A JSON string value of a secret key, whole or cut off by the excerpt: never logged.
SECRET_VALUE = re.compile(r'("(?:token|secret|password)"\s*:\s*")(?:[^"\\]|\\.)*(?="|$)')


class BusinessProblem(Exception):
    """The event is valid but cannot be applied to the data (unknown tracking number, no such purchase
    order): a person must look at it; retrying will not help. ``reason`` is a code, ``message`` plain words."""

    def __init__(self, reason, message, on=None):
        super().__init__(message)
        self.reason = reason
        self.message = message
        # Where the exception belongs when it is not the event (``channel_order``: its channel, with a
        # category and a source key of its own): ``{"record", "category", "source_key", "values"}``.
        self.on = on


class RetryLater(Exception):
    """The event cannot be applied now, for a reason that passes by itself (another worker is applying an
    event with the same business key): processed again at once in a new transaction, not a failure."""


def parse_datetime(value):
    """A naive UTC datetime from an ISO 8601 date or date-time (with ``Z`` or an offset; naive = UTC);
    None when it is not one. A date alone is midnight UTC.

    >>> parse_datetime("2026-11-30T10:00:00Z")
    datetime.datetime(2026, 11, 30, 10, 0)
    >>> parse_datetime("2026-11-30T12:00:00+02:00")
    datetime.datetime(2026, 11, 30, 10, 0)
    >>> parse_datetime("2026-11-30")
    datetime.datetime(2026, 11, 30, 0, 0)
    >>> parse_datetime("tomorrow") is None, parse_datetime(20261130) is None
    (True, True)
    >>> parse_datetime("9999-12-31T23:59:59-23:59") is None  # past the calendar in UTC
    True
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time())
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        try:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # a date at the end of the calendar whose UTC time is past year 9999
            return None
    return parsed


def is_uuid(value):
    """Whether a header value is a UUID.

    >>> is_uuid("7d0c5a9e-54a8-4c0d-9a57-3b0f1a2b3c4d"), is_uuid("42"), is_uuid(None)
    (True, False, False)
    >>> is_uuid("\uff17d0c5a9e-54a8-4c0d-9a57-3b0f1a2b3c4d")  # a full-width digit: uuid.UUID would take it
    False
    """
    if not isinstance(value, str) or not value.isascii():
        return False
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return value is not None


def retry_delay(attempt):
    """Seconds to wait after the ``attempt``-th failure (1-based): 1 min, 4 min, 16 min, 64 min, then
    capped at 6 h.

    >>> [retry_delay(n) for n in (1, 2, 3, 4, 5, 9)]
    [60, 240, 960, 3840, 15360, 21600]
    """
    return min(60 * 4 ** (max(attempt, 1) - 1), 6 * 3600)


def retry_later_delay(attempt):
    """Seconds before an event deferred for the ``attempt``-th time (``RetryLater``: another worker holds its
    business key) is due again: 2, 4, 8, 16 s, about half a minute in all before the attempts run out,
    longer than a worker holds a key (its batch's transaction) under load.

    >>> [retry_later_delay(n) for n in (1, 2, 3, 4)]
    [2, 4, 8, 16]
    """
    return 2 ** max(attempt, 1)


def next_attempt_at(now, attempt):
    """When to try again after the ``attempt``-th failure; None when it was the last allowed attempt.

    >>> next_attempt_at(datetime(2026, 1, 1), 1)
    datetime.datetime(2026, 1, 1, 0, 1)
    >>> next_attempt_at(datetime(2026, 1, 1), MAX_ATTEMPTS) is None
    True
    """
    if attempt >= MAX_ATTEMPTS:
        return None
    return now + timedelta(seconds=retry_delay(attempt))


def excerpt(body, length=EXCERPT_LENGTH):
    """The start of a raw body, for logs of rejected requests: never more than ``length`` characters, and
    the values of secret keys (a decision ``token``, a ``secret``, a ``password``) masked.

    >>> excerpt(b'{"a": 1}')
    '{"a": 1}'
    >>> len(excerpt(b"x" * 5000))
    201
    >>> excerpt(b'{"data": {"token": "4f9a0c", "secret" : "s", "decision": "reject"}}')
    '{"data": {"token": "***", "secret" : "***", "decision": "reject"}}'
    >>> excerpt(b'{"data": {"token": "4f9a0c')  # cut inside the value
    '{"data": {"token": "***'
    """
    if isinstance(body, bytes):
        body = body[: length * 4].decode("utf-8", "replace")
    body = SECRET_VALUE.sub(r"\1***", body)
    return body if len(body) <= length else body[:length] + "\u2026"


def decode(body):
    """The JSON value of a raw body; ``ValueError`` with the reason when it is not UTF-8 JSON as RFC 8259
    has it (no NaN nor Infinity) or nests too deeply for the parser.

    >>> decode(b'{"a": [1, "\\u00e9"]}')
    {'a': [1, 'é']}
    >>> for body in (b'{"a": NaN}', b"\\xff{}", b"[" * 100000 + b"]" * 100000, b'{"a": 1e999}'):
    ...     try:
    ...         decode(body)
    ...     except ValueError as error:
    ...         print(error)
    NaN is not JSON
    invalid start byte at byte 0: the body must be UTF-8
    the body nests too deeply
    1e999 is not a finite number
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        # A UTF-16 body json.loads would detect and take is stored as UTF-8 text: it could never be applied.
        raise ValueError(f"{error.reason} at byte {error.start}: the body must be UTF-8") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("the body nests too deeply") from None


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text):
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:20]} is not a finite number")
    return number


def storage_problem(payload, max_depth=MAX_DEPTH):
    """Why a decoded body cannot be stored and applied whatever its handler, or None: nested deeper than
    ``max_depth``, or a string (key or value) PostgreSQL text cannot hold: a NUL character, a lone
    surrogate (both are valid JSON escapes). Walked without recursion.

    >>> storage_problem({"data": {"lines": [{"sku": "WID"}]}}) is None
    True
    >>> storage_problem({"data": {"sku": "W\\x00"}}), storage_problem(["\\ud800"])
    ('the body holds a NUL character (\\\\u0000)', 'the body holds a lone surrogate (\\\\ud800 to \\\\udfff)')
    >>> storage_problem([[[[1]]]], max_depth=3)
    'the body nests deeper than 3 levels'
    """
    stack = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list) and depth > max_depth:
            return f"the body nests deeper than {max_depth} levels"
        if isinstance(value, dict):
            stack.extend((key, depth) for key in value)
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "the body holds a lone surrogate (\\ud800 to \\udfff)"
        if isinstance(value, str) and "\x00" in value:
            return "the body holds a NUL character (\\u0000)"
    return None


def parse_record_ref(value):
    """A record reference: ``("model", id)`` for ``"model,id"``, ``(None, name)`` for a name.

    >>> parse_record_ref("sale.order,42")
    ('sale.order', 42)
    >>> parse_record_ref("WH/OUT/00012")
    (None, 'WH/OUT/00012')
    >>> parse_record_ref("Acme, Inc.")
    (None, 'Acme, Inc.')

    An id must be ASCII digits within PostgreSQL's integer (``"2".isdigit()`` is true for "²", which
    ``int`` refuses): anything else is a name, which no document has.

    >>> parse_record_ref("sale.order,²"), parse_record_ref("sale.order,2147483648")
    ((None, 'sale.order,²'), (None, 'sale.order,2147483648'))
    >>> parse_record_ref("sale.order," + "9" * 5000)[0] is None  # int() refuses over 4,300 digits
    True
    """
    model, sep, res_id = value.partition(",")
    res_id = res_id.strip()
    digits = res_id.isascii() and res_id.isdigit() and len(res_id) <= len(str(MAX_RECORD_ID))
    if sep and "." in model and " " not in model and digits and int(res_id) <= MAX_RECORD_ID:
        return model.strip(), int(res_id)
    return None, value.strip()


# -- schema --------------------------------------------------------------------------------------
def _text(data, key, problems, required=True, where="data"):
    value = data.get(key)
    if value is None or value == "":
        if required:
            problems.append(f"{where}.{key} is required")
        return None
    if not isinstance(value, str):
        problems.append(f"{where}.{key} must be a string")
        return None
    return value


def _when(data, key, problems, required=True, where="data"):
    value = _text(data, key, problems, required=required, where=where)
    if value is not None and parse_datetime(value) is None:
        problems.append(f"{where}.{key} must be an ISO 8601 date or date-time, got {value[:40]!r}")


def _number(data, key, problems, required=True, where="data", integer=False):
    value = data.get(key)
    if value is None:
        if required:
            problems.append(f"{where}.{key} is required")
        return
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or value < 0:
        problems.append(f"{where}.{key} must be a {'whole ' if integer else ''}number >= 0")


def _choice(data, key, choices, problems, where="data"):
    value = data.get(key)
    if value not in choices:
        problems.append(f"{where}.{key} must be one of {', '.join(choices)}, got {str(value)[:40]!r}")


def _carrier_status(data, problems, **_options):
    """
    >>> _carrier_status({"tracking_ref": "1Z9", "status": "in_transit", "occurred_at": "2026-11-30T10:00:00Z"}, [])
    >>> problems = []
    >>> _carrier_status({"status": "lost", "eta": "soon"}, problems)
    >>> problems  # doctest: +NORMALIZE_WHITESPACE
    ['data.tracking_ref or data.picking is required',
     "data.status must be one of in_transit, delivered, delayed, exception, got 'lost'",
     "data.eta must be an ISO 8601 date or date-time, got 'soon'", 'data.occurred_at is required']
    """
    ref = _text(data, "tracking_ref", [], required=False)
    name = _text(data, "picking", [], required=False)
    if not ref and not name:
        problems.append("data.tracking_ref or data.picking is required")
    _choice(data, "status", CARRIER_STATUSES, problems)
    _when(data, "eta", problems, required=False)
    _when(data, "occurred_at", problems)


def _supplier_update(data, problems, **_options):
    """
    >>> _supplier_update({"purchase_order": "P00012", "lead_time_days": 12, "lines": [
    ...     {"product_code": "WID", "planned_date": "2026-12-20", "quantity": 10}]}, [])
    >>> problems = []
    >>> _supplier_update({"lines": [{"planned_date": "x"}, 3], "lead_time_days": -1}, problems)
    >>> problems  # doctest: +NORMALIZE_WHITESPACE
    ['data.purchase_order is required', 'data.lines[0].product_code is required',
     "data.lines[0].planned_date must be an ISO 8601 date or date-time, got 'x'",
     'data.lines[1] must be an object', 'data.lead_time_days must be a whole number >= 0']
    """
    _text(data, "purchase_order", problems)
    lines = data.get("lines")
    if lines is None:
        lines = []
    if not isinstance(lines, list):
        problems.append("data.lines must be a list")
        lines = []
    if not lines and data.get("lead_time_days") is None:
        problems.append("data.lines or data.lead_time_days is required")
    for index, line in enumerate(lines):
        where = f"data.lines[{index}]"
        if not isinstance(line, dict):
            problems.append(f"{where} must be an object")
            continue
        _text(line, "product_code", problems, where=where)
        _when(line, "planned_date", problems, where=where)
        _number(line, "quantity", problems, required=False, where=where)
    _number(data, "lead_time_days", problems, required=False, integer=True)


def _exception_report(data, problems, categories=(), **_options):
    """
    >>> _exception_report({"category": "other", "severity": "high", "message": "Dock 3 flooded",
    ...                    "record": "stock.picking,7"}, [], categories=("other",))
    >>> problems = []
    >>> _exception_report({"category": "weather", "message": ""}, problems, categories=("other", "integration"))
    >>> problems  # doctest: +NORMALIZE_WHITESPACE
    ["data.category must be one of other, integration, got 'weather'",
     "data.severity must be one of low, medium, high, critical, got 'None'", 'data.message is required',
     'data.record is required']
    """
    _choice(data, "category", tuple(categories), problems)
    _choice(data, "severity", SEVERITIES, problems)
    message = _text(data, "message", problems)
    if message and len(message) > MAX_MESSAGE_LENGTH:
        problems.append(f"data.message must be at most {MAX_MESSAGE_LENGTH} characters")
    _text(data, "record", problems)


def _channel_order(data, problems, **_options):
    """The shape of a customer-channel order (what it means is checked against the data later, every
    problem at once: unknown customer or SKU, quantity not positive, price out of tolerance).

    >>> _channel_order({"channel": "shop", "order_ref": "1001", "customer": {"email": "a@b.example"},
    ...                 "lines": [{"sku": "WID", "quantity": 2, "price": 99.5}], "requested_date": "2026-12-01"}, [])
    >>> problems = []
    >>> _channel_order({"channel": "shop", "customer": {}, "lines": [{"quantity": "2"}],
    ...                 "delivery_address": "here"}, problems)
    >>> problems  # doctest: +NORMALIZE_WHITESPACE
    ['data.order_ref is required', 'data.customer.ref, .vat or .email is required',
     'data.delivery_address must be an object', 'data.lines[0].sku is required',
     'data.lines[0].quantity must be a number']
    """
    _text(data, "channel", problems)
    _text(data, "order_ref", problems)
    customer = data.get("customer")
    if not isinstance(customer, dict):
        problems.append("data.customer must be an object")
    elif not any(_text(customer, key, problems, required=False, where="data.customer") for key in CUSTOMER_KEYS):
        problems.append("data.customer.ref, .vat or .email is required")
    address = data.get("delivery_address")
    if address is not None:
        if not isinstance(address, dict):
            problems.append("data.delivery_address must be an object")
        else:
            for key in ADDRESS_KEYS:
                _text(address, key, problems, required=False, where="data.delivery_address")
    lines = data.get("lines")
    if not isinstance(lines, list) or not lines:
        problems.append("data.lines must be a non-empty list")
        lines = []
    for index, line in enumerate(lines):
        where = f"data.lines[{index}]"
        if not isinstance(line, dict):
            problems.append(f"{where} must be an object")
            continue
        _text(line, "sku", problems, where=where)
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int | float):
            problems.append(f"{where}.quantity must be a number")  # not positive: a business problem
        _number(line, "price", problems, required=False, where=where)
    _when(data, "requested_date", problems, required=False)
    notes = _text(data, "notes", problems, required=False)
    if notes and len(notes) > MAX_MESSAGE_LENGTH:
        problems.append(f"data.notes must be at most {MAX_MESSAGE_LENGTH} characters")


CUSTOMER_KEYS = ("ref", "vat", "email")
ADDRESS_KEYS = ("name", "street", "street2", "zip", "city", "country_code", "phone", "email")

SCHEMAS = {
    "carrier_status": _carrier_status,
    "supplier_update": _supplier_update,
    "exception_report": _exception_report,
    "channel_order": _channel_order,
}


def register_schema(handler, schema):
    """Extension point: another addon declares the body schema of a handler of its own, e.g.
    ``register_schema("approval_decision", _approval_decision)`` at import (distribution_approvals). ``schema``
    is called like the ones above: ``schema(data, problems, categories=...)``, appending to ``problems``. The
    addon also adds the handler to the endpoint's ``handler`` selection (``selection_add``) and defines
    ``_handle_<handler>(data)`` on ``distribution.inbound.event``.

    >>> register_schema("carrier_status", _exception_report)
    Traceback (most recent call last):
    ...
    ValueError: the handler 'carrier_status' already has a schema
    """
    if SCHEMAS.get(handler, schema) is not schema:
        raise ValueError(f"the handler {handler!r} already has a schema")
    SCHEMAS[handler] = schema


def validate(handler, payload, event_id=None, event_type=None, categories=()):
    """The problems of a decoded body for a handler (empty list: acceptable). ``event_id`` and
    ``event_type``, the header values, must match the body's when given. ``categories`` are the
    exception categories an ``exception_report`` may use.

    >>> body = {"event_id": "e1", "type": "carrier.status", "occurred_at": "2026-11-30T10:00:00Z",
    ...         "company": "Co", "data": {"picking": "WH/OUT/1", "status": "delivered",
    ...                                    "occurred_at": "2026-11-30T10:00:00Z"}}
    >>> validate("carrier_status", body, event_id="e1")
    []
    >>> validate("carrier_status", dict(body, data=[]), event_id="e2")
    ['event_id does not match the X-Distribution-Event-Id header', 'data must be an object']
    >>> validate("carrier_status", [1, 2])
    ['the body must be a JSON object']
    >>> validate("payroll", body)
    ["unknown handler 'payroll'"]
    """
    if handler not in SCHEMAS:
        return [f"unknown handler {handler!r}"]
    if not isinstance(payload, dict):
        return ["the body must be a JSON object"]
    problem = storage_problem(payload)
    if problem:
        return [problem]
    problems = []
    envelope = {key: payload.get(key) for key in ("event_id", "type", "occurred_at")}
    _text(envelope, "event_id", problems, where="body")
    _text(envelope, "type", problems, where="body")
    _when(envelope, "occurred_at", problems, where="body")
    if payload.get("company") is not None and not isinstance(payload["company"], str):
        problems.append("body.company must be a string")
    if event_id is not None and payload.get("event_id") is not None and payload["event_id"] != event_id:
        problems.append("event_id does not match the X-Distribution-Event-Id header")
    if event_type and payload.get("type") is not None and payload["type"] != event_type:
        problems.append("type does not match the X-Distribution-Event header")
    data = payload.get("data")
    if not isinstance(data, dict):
        problems.append("data must be an object")
        return problems
    SCHEMAS[handler](data, problems, categories=categories)
    return problems
