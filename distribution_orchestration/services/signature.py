"""The signed event contract, both directions, without Odoo.

Every request carries ``X-Distribution-Event`` (type), ``X-Distribution-Event-Id`` (UUID),
``X-Distribution-Timestamp`` (Unix seconds) and ``X-Distribution-Signature``:
``sha256=`` + hex HMAC-SHA256, keyed with the endpoint's secret (UTF-8), of
``<timestamp>.<raw body bytes>``. The raw body is signed exactly as sent, never re-serialised.
Receivers reject timestamps more than 300 s away from their clock.
"""

import hashlib
import hmac
import json

TOLERANCE_SECONDS = 300
HEADER_EVENT = "X-Distribution-Event"
HEADER_EVENT_ID = "X-Distribution-Event-Id"
HEADER_TIMESTAMP = "X-Distribution-Timestamp"
HEADER_SIGNATURE = "X-Distribution-Signature"


class SignatureError(ValueError):
    """A request whose signature cannot be trusted; ``reason`` says why, for the 401 answer."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def sign(secret, timestamp, body):
    """The signature header value of a raw body (checked against the contract's test vectors in
    tests/test_signature_contract.py)."""
    if isinstance(body, str):
        body = body.encode()
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def headers(secret, event_type, event_id, timestamp, body):
    """The four contract headers of a request."""
    return {
        HEADER_EVENT: event_type,
        HEADER_EVENT_ID: event_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, timestamp, body),
    }


def verify(secret, timestamp, body, signature, now, tolerance=TOLERANCE_SECONDS):
    """Check a request's signature and freshness; raise ``SignatureError`` with the reason.

    >>> verify("s", "100", b"{}", sign("s", "100", b"{}"), now=150)
    >>> try:
    ...     verify("s", "100", b"{}", sign("s", "100", b"{}"), now=1000)
    ... except SignatureError as error:
    ...     print(error.reason)
    timestamp 100 is 900 s away from the server clock (limit 300 s)
    >>> try:
    ...     verify("s", "100", b"{}", "sha256=\u00e9t\u00e9", now=150)
    ... except SignatureError as error:
    ...     print(error.reason)
    X-Distribution-Signature must be sha256= and hexadecimal digits
    """
    if not signature:
        raise SignatureError(f"missing {HEADER_SIGNATURE} header")
    if not timestamp:
        raise SignatureError(f"missing {HEADER_TIMESTAMP} header")
    # Header values are whatever the sender put there (werkzeug decodes them as Latin-1): anything but
    # ASCII digits, or "sha256=" and hex digits, is refused with a reason before comparing; compare_digest
    # raises TypeError on non-ASCII text, which would be a 500 with a traceback.
    timestamp = str(timestamp).strip()
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise SignatureError(f"{HEADER_TIMESTAMP} must be Unix seconds, got {timestamp[:20]!r}")
    stamp = int(timestamp)
    skew = abs(int(now) - stamp)
    if skew > tolerance:
        raise SignatureError(f"timestamp {stamp} is {skew} s away from the server clock (limit {tolerance} s)")
    signature = str(signature).strip()
    digest = signature.removeprefix("sha256=")
    if not (
        signature.startswith("sha256=")
        and digest.isascii()
        and len(digest) == 64
        and all(char in "0123456789abcdefABCDEF" for char in digest)
    ):
        raise SignatureError(f"{HEADER_SIGNATURE} must be sha256= and hexadecimal digits")
    if not hmac.compare_digest(sign(secret, timestamp, body), "sha256=" + digest.lower()):
        raise SignatureError("signature does not match the body")


def envelope(event_id, event_type, occurred_at, company, data):
    """The JSON body of an event, serialised once: the bytes that are signed and sent.

    >>> envelope("e1", "order.held", "2026-11-30T10:00:00Z", "Co", {"order": "S1"})
    b'{"event_id":"e1","type":"order.held","occurred_at":"2026-11-30T10:00:00Z","company":"Co","data":{"order":"S1"}}'
    """
    payload = {"event_id": event_id, "type": event_type, "occurred_at": occurred_at, "company": company, "data": data}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode()
