"""The pure side of customer-channel orders (distribution_orchestration/services/channel.py and the channel_order
schema of services/inbound.py)."""

import doctest

import pytest

from .services import load_service

channel = load_service("distribution_orchestration", "channel")
inbound = load_service("distribution_orchestration", "inbound")
ORDER = {
    "channel": "shop",
    "order_ref": "#1001",
    "customer": {"email": "buyer@example.com"},
    "delivery_address": {"street": "1 Dock Road", "city": "Brussels", "country_code": "BE"},
    "lines": [{"sku": "WID", "quantity": 2, "price": 98.0}, {"sku": "GAD", "quantity": 0}],
    "requested_date": "2026-12-20",
    "notes": "Leave at the dock.",
}


def _body(data, event_id="e-1"):
    return {"event_id": event_id, "type": "order.created", "occurred_at": "2026-11-30T10:00:00Z", "data": data}


def test_doctests():
    failures, tried = doctest.testmod(channel)
    assert tried >= 8 and failures == 0


def test_a_documented_order_is_accepted_at_the_door():
    # A quantity of 0 is the data's problem (one business exception listing every problem), not the schema's.
    assert inbound.validate("channel_order", _body(ORDER), event_id="e-1") == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"channel": None}, "data.channel is required"),
        ({"order_ref": 1001}, "data.order_ref must be a string"),
        ({"customer": "buyer@example.com"}, "data.customer must be an object"),
        ({"customer": {"name": "Buyer"}}, "data.customer.ref, .vat or .email is required"),
        ({"lines": []}, "data.lines must be a non-empty list"),
        ({"lines": [{"sku": "WID", "quantity": True}]}, "data.lines[0].quantity must be a number"),
        ({"lines": [{"sku": "WID", "quantity": 1, "price": -1}]}, "data.lines[0].price must be a number >= 0"),
        ({"requested_date": "soon"}, "data.requested_date must be an ISO 8601 date or date-time, got 'soon'"),
        ({"notes": "x" * 2001}, "data.notes must be at most 2000 characters"),
        ({"delivery_address": {"city": 3}}, "data.delivery_address.city must be a string"),
    ],
)
def test_malformed_orders_are_refused_with_their_problem(change, problem):
    assert problem in inbound.validate("channel_order", _body(dict(ORDER, **change)))


def test_the_fingerprint_ignores_the_envelope_and_sees_every_change():
    same = channel.fingerprint(dict(ORDER, channel="shop", order_ref="#1001", received="now"))
    assert same == channel.fingerprint(ORDER)
    for key, value in (
        ("lines", [{"sku": "WID", "quantity": 3}]),
        ("requested_date", "2026-12-21"),
        ("notes", ""),
        ("customer", {"vat": "BE1"}),
        ("delivery_address", None),
    ):
        assert channel.fingerprint(dict(ORDER, **{key: value})) != channel.fingerprint(ORDER), key


@pytest.mark.parametrize(
    ("price", "reference", "tolerance", "within"),
    [
        (95.0, 100.0, 5.0, True),
        (105.0, 100.0, 5.0, True),
        (94.99, 100.0, 5.0, False),
        (100.0, 100.0, 0.0, True),
        (100.01, 100.0, 0.0, False),
        (None, 100.0, 0.0, True),
        (0.0, 0.0, 0.0, True),
        (1.0, 0.0, 50.0, False),
    ],
)
def test_price_tolerance(price, reference, tolerance, within):
    assert channel.price_within(price, reference, tolerance) is within
