"""Inbound fuzz (#16): property-based requests against the live signed webhook ``POST /distribution/webhook/<code>``
of a real Odoo server (the ``odoo_server`` fixture), one endpoint per inbound handler, each with a known secret.

Properties:
- whatever the method, headers, signature, timestamp and body (bytes, invalid UTF-8, JSON of any shape, up to and
  over the size limit), the answer is a 2xx or a 4xx with a reason (a 503 only when the server says it is busy):
  never a 500, never a traceback;
- a validly signed event the inbox accepts (202) is stored exactly once, and a resend of its id stores nothing;
- every refusal of a request to an endpoint (400, 401, 413) is appended to the rejection log with its reason;
- validly signed, schema-valid but fuzzed events of every handler, once processed, change no business document:
  no sale order, no partner, no approval decision nor audit entry; only the inbox row and its exception.

The examples are derandomized (the same on every run); FUZZ_EXAMPLES=<n> runs n examples per property and
FUZZ_RANDOM=1 draws new ones (a longer hunt, e.g. FUZZ_EXAMPLES=2000 FUZZ_RANDOM=1).
"""

import hashlib
import hmac
import json
import os
import time
import uuid
from collections import Counter
from datetime import datetime
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from .odoo_process import database_under_test
from .rpc import Rpc
from .services import load_service

signature = load_service("distribution_orchestration", "signature")

MAX_BODY_BYTES = 1024 * 1024  # the controller's limit
SECRET = f"fuzz-secret-{uuid.uuid4().hex}"
RUN = uuid.uuid4().hex[:8]  # names of this run's records
# The handlers this file knows how to fuzz; a handler added to the selection fails the fixture until it has one.
HANDLERS = ("carrier_status", "supplier_update", "exception_report", "channel_order", "approval_decision")
# A handler's events end in these states once processed: a fuzzed event names nothing that exists (a business
# exception on the event); an exception report is applied by raising the exception it reports.
FINAL_STATES = {handler: {"exception"} for handler in HANDLERS} | {"exception_report": {"done"}}
COUNTED = (
    "sale.order",
    "sale.order.line",
    "res.partner",
    "purchase.order",
    "stock.picking",
    "distribution.approval.request",
    "distribution.approval.decision",
    "distribution.audit.entry",
)
FIGURES = Counter()  # examples, requests
STATUSES = Counter()  # HTTP status -> answers
STATES = Counter()  # state of the processed fuzzed events -> count
ACCEPTED = {}  # event id -> handler, of every event a property got accepted (202)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "0"))


def fuzz_settings(default_examples):
    return settings(
        max_examples=EXAMPLES or default_examples,
        derandomize=not os.environ.get("FUZZ_RANDOM"),
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
        print_blob=True,
        # Shrinking a failure costs minutes of requests: the derandomized run reports the example as found; a
        # random hunt (FUZZ_RANDOM=1) shrinks it.
        phases=list(Phase) if os.environ.get("FUZZ_RANDOM") else [Phase.explicit, Phase.reuse, Phase.generate],
    )


class Inbox:
    """This run's endpoints (one per handler, secret known), its sales channel, and the data the fuzz draws from."""

    def __init__(self, url):
        self.url = url
        self.rpc = Rpc(url, database_under_test())
        self.web = requests.Session()
        rpc = self.rpc
        handlers = {
            key
            for key, _label in rpc("distribution.inbound.endpoint", "fields_get", ["handler"])["handler"]["selection"]
        }
        assert handlers == set(HANDLERS), f"handlers to fuzz: {sorted(handlers)}"
        company = rpc("res.users", "read", [2], ["company_id"])[0]["company_id"][0]
        self.channel_code = f"fuzz-{RUN}"
        # Create on Hold: a fuzzed order whose customer were found (a wildcard, a loose match) would be created.
        self.channel_id = rpc(
            "distribution.sales.channel",
            "create",
            {"name": f"Fuzz {RUN}", "code": self.channel_code, "company_id": company, "hold_instead_of_reject": True},
        )
        self.endpoints = {}
        for handler in HANDLERS:
            code = f"fuzz-{RUN}-{handler}"
            endpoint_id = rpc(
                "distribution.inbound.endpoint",
                "create",
                {"name": f"Fuzz {handler}", "code": code, "handler": handler, "secret": SECRET, "company_id": company},
            )
            self.endpoints[handler] = (endpoint_id, code)
        self.categories = [
            key for key, _label in rpc("distribution.exception", "fields_get", ["category"])["category"]["selection"]
        ]
        self.requests = [
            r["name"] for r in rpc("distribution.approval.request", "search_read", [], fields=["name"], limit=20)
        ]
        self.logins = [u["login"] for u in rpc("res.users", "search_read", [("share", "=", False)], fields=["login"])]
        self.cron = rpc.xmlid("distribution_orchestration.ir_cron_distribution_inbox_process")
        self.process()  # what waits in the inbox is applied before any figure is taken

    def post(self, code, body, headers, method="POST"):
        response = self.web.request(
            method, f"{self.url}/distribution/webhook/{code}", data=body, headers=headers, timeout=20
        )
        return response

    def process(self):
        """Run the inbox's scheduled action until no event is left received (bounded). An event a killed worker left
        in processing waits for the reconciliation; one whose retry is due later waits for it."""
        for _attempt in range(50):
            if not self.rpc.count("distribution.inbound.event", [("state", "=", "received")]):
                return
            self.rpc("ir.cron", "method_direct_trigger", [self.cron])
        pytest.fail("the inbox is still not empty after 50 runs of its scheduled action")

    def rejections(self, endpoint_id):
        return self.rpc.count("distribution.inbound.rejection", [("endpoint_id", "=", endpoint_id)])

    def last_rejection(self, endpoint_id):
        return self.rpc(
            "distribution.inbound.rejection",
            "search_read",
            [("endpoint_id", "=", endpoint_id)],
            fields=["status", "reason"],
            limit=1,
            order="id desc",
        )[0]

    def stored(self, handler, event_id):
        return self.rpc.count(
            "distribution.inbound.event",
            [("endpoint_id", "=", self.endpoints[handler][0]), ("event_id", "=", event_id)],
        )


@pytest.fixture(scope="module")
def inbox(odoo_server, request):
    inbox = Inbox(odoo_server)
    yield inbox
    # The figures, printed past pytest's capture (a module fixture's teardown is captured like a test).
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(STATUSES.items()))
    states = ", ".join(f"{state}: {n}" for state, n in sorted(STATES.items()))
    with request.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print(f"\n[fuzz] {FIGURES['examples']} examples, {FIGURES['requests']} requests; answers {statuses}")
        print(f"[fuzz] {len(ACCEPTED)} events accepted; the fuzzed events once processed: {states or '-'}")


# -- strategies -----------------------------------------------------------------------------------
# Text a sender may put anywhere: any character, with the ones parsers, LIKE patterns and PostgreSQL care about.
SPECIAL = st.sampled_from(["%", "_", "\\", "'", '"', "*", "\x00", "\ud800", "\udfff", "\ufeff", "\u202e", "\n", " "])
TEXT = st.text(alphabet=st.characters() | SPECIAL, max_size=40)
# Text the schema takes (PostgreSQL can store it: no NUL, no lone surrogate): what the handlers receive.
STORABLE = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
CLEAN = st.text(
    alphabet=STORABLE | st.sampled_from("%_\\'\"* "),
    min_size=1,
    max_size=40,
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
STORED_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | CLEAN,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(CLEAN, children, max_size=3),
    max_leaves=8,
)
OFFSETS = st.sampled_from(["", "Z", "+00:00", "-23:59", "+23:59", "+05:30"])
DATES = st.one_of(
    st.builds(lambda moment, offset: moment.isoformat() + offset, st.datetimes(), OFFSETS),
    st.builds(lambda moment: moment.date().isoformat(), st.datetimes()),
    st.sampled_from(["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-02-30", "tomorrow", ""]),
    TEXT,
)
# Whole values that are LIKE patterns: a lookup that compares with (i)like must not take them as wildcards.
PATTERNS = st.sampled_from(["%", "%@%", "_%", "%a%", "%.%", "\\%"])
VALID_DATES = st.builds(
    lambda moment, offset: moment.isoformat() + offset,
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    OFFSETS,
) | st.sampled_from(["9999-12-31T00:00:00Z", "0001-01-01", "2026-11-30"])
# Content types that make the web framework read the body itself (forms), or name another charset.
CONTENT_TYPES = st.sampled_from(
    [
        b"multipart/form-data; boundary=fuzz",
        b"multipart/form-data",
        b"application/x-www-form-urlencoded",
        b"text/plain; charset=utf-16",
        b"application/json; charset=latin-1",
        b"chunked",
        b"100-continue",
    ]
)
NUMBERS = st.integers(min_value=-(10**20), max_value=10**20) | st.floats(allow_nan=False, allow_infinity=False)
POSITIVE = st.integers(min_value=0, max_value=10**20) | st.floats(min_value=0, allow_nan=False, allow_infinity=False)


def maybe(strategy):
    """A key's value, or the key left out (None is dropped by ``compact``)."""
    return st.none() | strategy


def compact(mapping):
    return {key: value for key, value in mapping.items() if value is not None}


@st.composite
def carrier_data(draw, inbox):
    data = {"tracking_ref": draw(maybe(CLEAN)), "picking": draw(maybe(CLEAN))}
    if not (data["tracking_ref"] or data["picking"]):
        data["tracking_ref"] = draw(CLEAN)
    data.update(
        status=draw(st.sampled_from(["in_transit", "delivered", "delayed", "exception"])),
        eta=draw(maybe(VALID_DATES)),
        occurred_at=draw(VALID_DATES),
    )
    return compact(data)


@st.composite
def supplier_data(draw, inbox):
    line = st.fixed_dictionaries(
        {"product_code": CLEAN, "planned_date": VALID_DATES}, optional={"quantity": POSITIVE, "note": STORED_JSON}
    )
    data = {
        "purchase_order": draw(CLEAN),
        "lines": draw(maybe(st.lists(line, max_size=3))),
        "lead_time_days": draw(maybe(st.integers(min_value=0, max_value=10**12))),
    }
    if not data["lines"] and data["lead_time_days"] is None:
        data["lead_time_days"] = draw(st.integers(min_value=0, max_value=400))
    return compact(data)


@st.composite
def report_data(draw, inbox):
    models = st.sampled_from(["sale.order", "stock.picking", "purchase.order", "res.partner", "res.users", "a.b"])
    digits = st.integers(min_value=0, max_value=10**20).map(str) | st.sampled_from(["\u00b2", "\u0661\u0662", "007"])
    # A record that exists may be named: the exception is then raised on it, as the handler is meant to.
    record = CLEAN | st.builds(lambda model, key: f"{model},{key}", models, digits)
    return {
        "category": draw(st.sampled_from(inbox.categories)),
        "severity": draw(st.sampled_from(["low", "medium", "high", "critical"])),
        "message": draw(st.text(alphabet=STORABLE, min_size=1, max_size=2000)),
        "record": draw(record),
    }


@st.composite
def channel_data(draw, inbox):
    customer = draw(
        st.fixed_dictionaries(
            {}, optional={"ref": CLEAN | PATTERNS, "vat": CLEAN | PATTERNS, "email": CLEAN | PATTERNS, "name": CLEAN}
        ).filter(lambda c: any(c.get(key) for key in ("ref", "vat", "email")))
    )
    line = st.fixed_dictionaries({"sku": CLEAN, "quantity": NUMBERS}, optional={"price": POSITIVE, "name": CLEAN})
    address = st.fixed_dictionaries(
        {}, optional={key: CLEAN for key in ("name", "street", "zip", "city", "country_code", "phone", "email")}
    )
    return compact(
        {
            "channel": draw(st.just(inbox.channel_code) | CLEAN),
            "order_ref": draw(CLEAN),
            "customer": customer,
            "lines": draw(st.lists(line, min_size=1, max_size=4)),
            "delivery_address": draw(maybe(address)),
            "requested_date": draw(maybe(VALID_DATES)),
            "notes": draw(
                maybe(
                    st.text(
                        alphabet=STORABLE,
                        min_size=1,
                        max_size=300,
                    )
                )
            ),
        }
    )


@st.composite
def decision_data(draw, inbox):
    names = st.sampled_from(inbox.requests) if inbox.requests else CLEAN
    actors = st.sampled_from(inbox.logins) | CLEAN.map(lambda text: text[:128]) | st.sampled_from(["%", "_%", "%@%"])
    decision = draw(st.sampled_from(["approve", "reject"]))
    comment = draw(CLEAN if decision == "reject" else maybe(CLEAN))
    if decision == "reject" and not comment.strip():
        comment = "no"
    return compact(
        {
            "request": draw((names | CLEAN).map(lambda text: text[:128])),
            "token": draw(st.text(alphabet="0123456789abcdefABCDEF", min_size=64, max_size=64)),
            "decision": decision,
            "comment": comment,
            "actor": draw(actors),
            "channel": draw(maybe(CLEAN.map(lambda text: text[:128]))),
        }
    )


DATA = {
    "carrier_status": carrier_data,
    "supplier_update": supplier_data,
    "exception_report": report_data,
    "channel_order": channel_data,
    "approval_decision": decision_data,
}


def envelope(event_id, event_type, data, occurred_at="2026-11-30T10:00:00Z", ensure_ascii=False):
    body = {"event_id": event_id, "type": event_type, "occurred_at": occurred_at, "company": "Fuzz", "data": data}
    return json.dumps(body, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")


def signed(body, event_type, event_id, timestamp=None):
    headers = signature.headers(SECRET, event_type, event_id, timestamp or int(time.time()), body)
    headers["Content-Type"] = "application/json"
    return headers


@st.composite
def valid_event(draw, inbox, handler=None):
    handler = handler or draw(st.sampled_from(HANDLERS))
    data = draw(DATA[handler](inbox))
    event_id = str(uuid.uuid4())
    event_type = draw(st.sampled_from([f"{handler}.fuzz", "x", "\u00e9v\u00e9nement"]))
    body = envelope(event_id, event_type, data, draw(VALID_DATES), ensure_ascii=draw(st.booleans()))
    return handler, event_id, event_type, body


def weighted(draw, weights):
    """One of the keys of ``weights``, drawn in proportion to its weight (sampled_from draws evenly)."""
    pick = draw(st.integers(min_value=0, max_value=sum(weights.values()) - 1))
    for value, weight in weights.items():
        if pick < weight:
            return value
        pick -= weight
    raise AssertionError("unreachable")


@st.composite
def any_request(draw, inbox):
    """A request as anybody may send it: method, target, body, signature, timestamp, headers all drawn."""
    handler = draw(st.sampled_from(HANDLERS))
    method = weighted(draw, {"POST": 8, "other": 2})
    if method == "other":
        method = draw(st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]))
    event_id = draw(st.just(str(uuid.uuid4())) | TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")) | st.none())
    event_type = draw(st.just(f"{handler}.fuzz") | TEXT | st.none())
    kind = weighted(draw, {"bytes": 1, "not utf-8": 1, "json": 2, "envelope": 3, "valid": 3, "nested": 1, "empty": 1})
    eid_text = event_id if isinstance(event_id, str) else str(uuid.uuid4())
    if kind == "bytes":
        body = draw(st.binary(max_size=600))
    elif kind == "not utf-8":
        body = draw(st.binary(max_size=200)) + draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xf8\x88"]))
    elif kind == "json":
        body = json.dumps(draw(JSON), ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    elif kind == "envelope":
        body = envelope(draw(st.just(eid_text) | TEXT), draw(TEXT), draw(JSON), draw(DATES), draw(st.booleans()))
    elif kind == "valid":
        body = envelope(eid_text, event_type if isinstance(event_type, str) else "x", draw(DATA[handler](inbox)))
    elif kind == "nested":
        depth = draw(st.sampled_from([31, 33, 500, 5000, 200000]))
        body = b'{"data": ' + b"[" * depth + b"]" * depth + b"}"
    else:
        body = b""
    stamp = int(time.time())
    timestamp = weighted(draw, {"fresh": 7, "stale": 1, "text": 1, None: 1})
    if timestamp == "fresh":
        timestamp = draw(st.sampled_from([stamp, stamp - 299, stamp + 299]))
    elif timestamp == "stale":
        timestamp = stamp + draw(st.sampled_from([-1, 1])) * draw(st.integers(min_value=301, max_value=10**12))
    elif timestamp == "text":
        timestamp = draw(TEXT)
    signature_mode = weighted(
        draw, {"valid": 6, "missing": 1, "wrong": 1, "garbage": 1, "other body": 1, "other secret": 1}
    )
    headers = {}
    if signature_mode == "valid":
        headers[signature.HEADER_SIGNATURE] = _sign(SECRET, timestamp, body)
    elif signature_mode == "wrong":
        headers[signature.HEADER_SIGNATURE] = "sha256=" + draw(st.text("0123456789abcdef", min_size=64, max_size=64))
    elif signature_mode == "garbage":
        headers[signature.HEADER_SIGNATURE] = draw(TEXT)
    elif signature_mode == "other body":
        headers[signature.HEADER_SIGNATURE] = _sign(SECRET, timestamp, body + b" ")
    elif signature_mode == "other secret":
        headers[signature.HEADER_SIGNATURE] = _sign(SECRET + "x", timestamp, body)
    for name, value in (
        (signature.HEADER_TIMESTAMP, timestamp),
        (signature.HEADER_EVENT_ID, event_id),
        (signature.HEADER_EVENT, event_type),
    ):
        if value is not None:
            headers[name] = value
    extra = draw(
        st.dictionaries(
            (
                st.from_regex(r"\A[A-Za-z][A-Za-z0-9-]{0,24}\Z")
                | st.sampled_from(["Content-Type", "User-Agent", "Content-Encoding", "Expect", "Connection"])
            ).filter(lambda name: name.lower() not in FRAMING),
            st.binary(max_size=60) | CONTENT_TYPES,
            max_size=4,
        )
    )
    headers.update(extra)
    headers = {name: _header_value(value) for name, value in headers.items()}
    # An unknown code: any text but a slash (another route); "z" first, so that it is never empty nor a dot segment.
    code = inbox.endpoints[handler][1]
    if not draw(st.integers(0, 9)):
        code = "z" + quote(draw(TEXT).replace("/", "").encode("utf-8", "surrogatepass"), safe="")
    return method, code, handler, body, headers, kind


# How the body is framed is the HTTP client's business: a request that announces a chunked body and sends none
# only waits for its own time-out.
FRAMING = ("transfer-encoding", "content-length")


def _sign(secret, timestamp, body):
    """The contract's signature of whatever the timestamp header holds (``signature.sign`` takes digits)."""
    message = _header_value(timestamp) + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _header_value(value):
    """What an HTTP client can send as a header value (no line break, no leading blank), as bytes."""
    if value is None:
        return b""
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogatepass")
    value = value.replace(b"\r", b"").replace(b"\n", b"").lstrip()
    # Framing headers decide how the body is read, not what the inbox does with it: left to the client.
    return value


# -- checks ----------------------------------------------------------------------------------------
def check_answer(response, method):
    """A 2xx, or a 4xx (a 503 if busy) with a JSON reason; no 500, no traceback."""
    STATUSES[response.status_code] += 1
    FIGURES["requests"] += 1
    text = response.text
    for leak in ("Traceback", "odoo.exceptions", 'File "/'):
        assert leak not in text, f"{response.status_code} with {leak!r}: {text[:2000]}"
    status = response.status_code
    assert 200 <= status < 300 or 400 <= status < 500 or status == 503, f"{status}: {text[:2000]}"
    if 400 <= status < 500 and method != "HEAD":
        answer = response.json()
        assert answer["status"] == "rejected" and answer["reason"], answer
    return response


# -- properties ------------------------------------------------------------------------------------
@fuzz_settings(150)
@given(data=st.data())
def test_any_request_is_answered_with_a_reason_never_a_crash(inbox, data):
    method, code, handler, body, headers, kind = data.draw(any_request(inbox))
    FIGURES["examples"] += 1
    endpoint_id = inbox.endpoints[handler][0]
    ours = code == inbox.endpoints[handler][1]
    before = inbox.rejections(endpoint_id)
    response = check_answer(inbox.post(code, body, headers, method), method)
    after = inbox.rejections(endpoint_id)
    status = response.status_code
    if ours and ((method == "POST" and status in (400, 401, 413)) or status == 405):
        assert after == before + 1, f"{status} {response.text[:300]}: {after - before} rejection(s) logged"
        logged = inbox.last_rejection(endpoint_id)
        assert logged["status"] == status
        if method != "HEAD":  # an answer to HEAD has no body
            assert logged["reason"] == f"{status} {response.json()['reason']}"[:200]
    else:
        # Unknown codes (404, or 405 for another verb) are answered, logged on no endpoint: there is none.
        assert after == before, f"{status}: {after - before} rejection(s) logged"
    if status == 202:
        event_id = response.json()["event_id"]
        ACCEPTED[event_id] = handler
        assert inbox.stored(handler, event_id) == 1
    if ours and method == "POST" and kind not in ("valid",) and status == 202:
        FIGURES["accepted_random"] += 1


@fuzz_settings(60)
@given(data=st.data())
def test_an_accepted_event_is_stored_exactly_once(inbox, data):
    handler, event_id, event_type, body = data.draw(valid_event(inbox))
    FIGURES["examples"] += 1
    code = inbox.endpoints[handler][1]
    first = check_answer(inbox.post(code, body, signed(body, event_type, event_id)), "POST")
    assert first.status_code == 202, first.text[:1000]
    assert first.json()["event_id"] == event_id
    ACCEPTED[event_id] = handler
    # The same event again, and the same id with another (valid) body: the first one stays the only row.
    other_type, other_body = f"{handler}.again", envelope(event_id, f"{handler}.again", data.draw(DATA[handler](inbox)))
    for again, kind in ((body, event_type), (other_body, other_type)):
        resent = check_answer(inbox.post(code, again, signed(again, kind, event_id)), "POST")
        assert resent.status_code == 200 and resent.json()["status"] == "duplicate", resent.text[:1000]
    assert inbox.stored(handler, event_id) == 1


@fuzz_settings(12)
@given(
    size=st.sampled_from([MAX_BODY_BYTES - 1, MAX_BODY_BYTES, MAX_BODY_BYTES + 1, 2 * MAX_BODY_BYTES])
    | st.integers(MAX_BODY_BYTES - 64, MAX_BODY_BYTES + 64),
    chunked=st.booleans(),
)
def test_bodies_up_to_and_over_the_size_limit(inbox, size, chunked):
    """A signed, valid event padded to ``size`` bytes: accepted up to the limit, 413 over it (with and without
    Content-Length), the refusal logged."""
    FIGURES["examples"] += 1
    event_id = str(uuid.uuid4())
    data = {"tracking_ref": f"fuzz-{RUN}-size", "status": "in_transit", "occurred_at": "2026-11-30T10:00:00Z"}
    empty = envelope(event_id, "carrier.size", dict(data, padding=""))
    body = envelope(event_id, "carrier.size", dict(data, padding="x" * max(0, size - len(empty))))
    endpoint_id, code = inbox.endpoints["carrier_status"]
    before = inbox.rejections(endpoint_id)
    headers = signed(body, "carrier.size", event_id)
    sent = (body[i : i + 65536] for i in range(0, len(body), 65536)) if chunked else body
    response = check_answer(inbox.post(code, sent, headers), "POST")
    if len(body) > MAX_BODY_BYTES:
        assert response.status_code == 413, response.text[:500]
        assert inbox.rejections(endpoint_id) == before + 1
    else:
        assert response.status_code == 202, response.text[:500]
        ACCEPTED[event_id] = "carrier_status"


@pytest.mark.parametrize("handler", HANDLERS)
def test_fuzzed_events_change_nothing_but_the_inbox(inbox, handler):
    """Validly signed, schema-valid events with fuzzed content, processed by the inbox's scheduled action: each
    ends as an exception on the event (or the exception it reports), never a technical failure, and no business
    document is created or decided."""
    rpc = inbox.rpc
    inbox.process()
    counts = {model: rpc.count(model) for model in COUNTED}
    requests_before = {
        r["id"]: r["state"] for r in rpc("distribution.approval.request", "search_read", [], fields=["state"])
    }
    last_exception = max(rpc("distribution.exception", "search", [], order="id desc", limit=1) or [0])
    sent = []

    @fuzz_settings(40)
    @given(event=valid_event(inbox, handler))
    def send(event):
        _handler, event_id, event_type, body = event
        FIGURES["examples"] += 1
        response = check_answer(
            inbox.post(inbox.endpoints[handler][1], body, signed(body, event_type, event_id)), "POST"
        )
        assert response.status_code == 202, response.text[:1000]
        ACCEPTED[event_id] = handler
        sent.append(event_id)

    send()
    inbox.process()
    events = rpc(
        "distribution.inbound.event",
        "search_read",
        [("event_id", "in", sent)],
        fields=["event_id", "state", "error", "exception_id"],
    )
    assert len(events) == len(sent)
    for event in events:
        STATES[event["state"]] += 1
    wrong = [e for e in events if e["state"] not in FINAL_STATES[handler]]
    assert not wrong, f"{len(wrong)} {handler} event(s) not as expected: {wrong[:3]}"
    assert {model: rpc.count(model) for model in COUNTED} == counts
    requests_after = {
        r["id"]: r["state"] for r in rpc("distribution.approval.request", "search_read", [], fields=["state"])
    }
    assert requests_after == requests_before
    # Every new exception is the event's own, or the exception report's, or the fuzz channel's refusal.
    event_ids = {e["id"] for e in events}
    new = rpc(
        "distribution.exception",
        "search_read",
        [("id", ">", last_exception)],
        fields=["res_model", "res_id", "source_key"],
    )
    for exception in new:
        on_event = exception["res_model"] == "distribution.inbound.event" and exception["res_id"] in event_ids
        reported = (exception["source_key"] or "").removeprefix("inbox:") in sent
        on_channel = exception["res_model"] == "distribution.sales.channel" and exception["res_id"] == inbox.channel_id
        assert on_event or reported or on_channel, exception
