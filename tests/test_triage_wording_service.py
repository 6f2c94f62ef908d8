"""The pure layer of the AI risk summary (distribution_ai_triage/services/risk_wording.py): what the chat
provider is sent (the facts only, the vendor's name left out) and what of its answer is kept."""

import doctest
import json

import pytest

from .services import load_service

wording = load_service("distribution_ai_triage", "risk_wording")
FACTS = {
    "vendor": "Bolt Supplier",
    "median_days": 13.0,
    "p90_days": 15.0,
    "planned_days": 7.0,
    "on_time_rate": 20.0,
    "receipts": 5,
    "drifting": True,
    "late_purchases": [
        {"name": "P00042", "product": "Bolt", "expected": "2026-03-14", "customers": ["S00007"]},
        {"name": "P00043", "product": "Nut", "expected": None, "customers": []},
    ],
}


def test_doctests():
    failures, tried = doctest.testmod(wording)
    assert tried > 5 and failures == 0


def test_the_provider_is_sent_the_facts_only():
    body = wording.chat_request(FACTS, "m", "Français")
    assert "response_format" not in body and body["temperature"] == 0
    system, user = (message["content"] for message in body["messages"])
    assert "Français" in system and "P00042" not in system
    assert json.loads(user) == dict(FACTS, vendor="[VENDOR]")


def test_the_fingerprint_follows_every_fact():
    changed = json.loads(json.dumps(FACTS))
    changed["late_purchases"][0]["customers"] = ["S00008"]
    assert wording.facts_hash(FACTS) == wording.facts_hash(json.loads(json.dumps(FACTS)))
    assert wording.facts_hash(changed) != wording.facts_hash(FACTS)
    assert wording.facts_hash(dict(FACTS, median_days=13.5)) != wording.facts_hash(FACTS)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty"),
        ("```\n```", "empty"),
        ("[VENDOR] is late on P00042.", "missing_orders"),
        ("P00042 and P00043 " + "late " * 300, "too_long"),
    ],
)
def test_answers_that_are_refused(answer, reason):
    with pytest.raises(wording.WordingRejected) as info:
        wording.check_wording(answer, FACTS)
    assert info.value.reason == reason


def test_an_answer_naming_every_order_is_kept_with_the_vendor_put_back():
    text = wording.check_wording("[VENDOR]   is late:\nP00042 and P00043 will miss their dates.", FACTS)
    assert text == "Bolt Supplier is late:\nP00042 and P00043 will miss their dates."
