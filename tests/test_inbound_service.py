"""The pure side of the signed inbound webhooks (distribution_orchestration/services/inbound.py)."""

import doctest
from datetime import datetime

import pytest

from .services import load_service

inbound = load_service("distribution_orchestration", "inbound")
CATEGORIES = ("late_transfer", "integration", "other")


def _body(data, event_id="e-1", event_type="carrier.status"):
    return {
        "event_id": event_id,
        "type": event_type,
        "occurred_at": "2026-11-30T10:00:00Z",
        "company": "Co",
        "data": data,
    }


def test_doctests():
    failures, tried = doctest.testmod(inbound)
    assert tried > 15 and failures == 0


@pytest.mark.parametrize(
    ("handler", "data"),
    [
        (
            "carrier_status",
            {
                "tracking_ref": "1Z",
                "status": "delayed",
                "eta": "2026-12-02",
                "occurred_at": "2026-11-30T10:00:00+01:00",
            },
        ),
        ("carrier_status", {"picking": "WH/OUT/00001", "status": "delivered", "occurred_at": "2026-11-30T10:00:00Z"}),
        (
            "supplier_update",
            {
                "purchase_order": "P00001",
                "lines": [{"product_code": "WID", "planned_date": "2026-12-20T08:00:00Z", "quantity": 12.5}],
            },
        ),
        ("supplier_update", {"purchase_order": "P00001", "lead_time_days": 21}),
        (
            "exception_report",
            {"category": "other", "severity": "critical", "message": "Dock flooded", "record": "stock.picking,12"},
        ),
    ],
)
def test_valid_bodies(handler, data):
    assert inbound.validate(handler, _body(data), event_id="e-1", categories=CATEGORIES) == []


def test_every_problem_is_listed():
    problems = inbound.validate("supplier_update", _body({"lines": "P1", "lead_time_days": 2.5}))
    assert problems == [
        "data.purchase_order is required",
        "data.lines must be a list",
        "data.lead_time_days must be a whole number >= 0",
    ]


def test_envelope_problems():
    body = {"event_id": 3, "type": "", "occurred_at": "yesterday", "company": 1, "data": {}}
    problems = inbound.validate("carrier_status", body)
    assert "body.event_id must be a string" in problems
    assert "body.type is required" in problems
    assert "body.company must be a string" in problems
    assert any(problem.startswith("body.occurred_at must be an ISO 8601") for problem in problems)


def test_header_mismatch():
    body = _body({"picking": "X", "status": "delivered", "occurred_at": "2026-11-30"})
    assert inbound.validate("carrier_status", body, event_id="other", event_type="other.type") == [
        "event_id does not match the X-Distribution-Event-Id header",
        "type does not match the X-Distribution-Event header",
    ]


def test_exception_report_category_and_length():
    data = {"category": "payroll", "severity": "high", "message": "x" * 2001, "record": "S00001"}
    problems = inbound.validate("exception_report", _body(data), categories=CATEGORIES)
    assert problems[0].startswith("data.category must be one of late_transfer, integration, other")
    assert "data.message must be at most 2000 characters" in problems


def test_booleans_are_not_numbers():
    data = {"purchase_order": "P1", "lines": [{"product_code": "W", "planned_date": "2026-12-01", "quantity": True}]}
    assert inbound.validate("supplier_update", _body(data)) == ["data.lines[0].quantity must be a number >= 0"]


def test_dates_are_naive_utc():
    assert inbound.parse_datetime("2026-11-30T23:30:00-02:00") == datetime(2026, 12, 1, 1, 30)
    assert inbound.parse_datetime("2026-13-01") is None
    assert inbound.parse_datetime("") is None


def test_backoff_grows_then_stops():
    delays = [inbound.retry_delay(attempt) for attempt in range(1, inbound.MAX_ATTEMPTS + 1)]
    assert delays == sorted(delays) and delays[0] == 60
    now = datetime(2026, 1, 1)
    assert inbound.next_attempt_at(now, inbound.MAX_ATTEMPTS - 1) > now
    assert inbound.next_attempt_at(now, inbound.MAX_ATTEMPTS) is None


def test_record_reference():
    assert inbound.parse_record_ref("purchase.order,7") == ("purchase.order", 7)
    assert inbound.parse_record_ref("sale.order,abc") == (None, "sale.order,abc")


def test_excerpt_is_bounded():
    assert len(inbound.excerpt("é" * 1000)) == inbound.EXCERPT_LENGTH + 1
    assert inbound.excerpt(b"\xff\xfe ok") == "\ufffd\ufffd ok"


def test_is_uuid_refuses_non_ascii_lookalikes():
    assert inbound.is_uuid("7d0c5a9e-54a8-4c0d-9a57-3b0f1a2b3c4d")
    assert not inbound.is_uuid("\uff17d0c5a9e-54a8-4c0d-9a57-3b0f1a2b3c4d")  # full-width 7
    assert not inbound.is_uuid("7d0c5a9e-54a8-4c0d-9a57-3b0f1a2b3c4\u00e9")
    assert not inbound.is_uuid(b"7d0c5a9e-54a8-4c0d-9a57-3b0f1a2b3c4d")
