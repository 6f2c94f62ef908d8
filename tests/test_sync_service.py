"""The pure side of the finance and reporting sync log (distribution_orchestration/services/sync.py)."""

import doctest
import json

import pytest

from .services import load_service

sync = load_service("distribution_orchestration", "sync")


def _envelope(event_id, data):
    return json.dumps(
        {"event_id": event_id, "type": "invoice.posted", "occurred_at": "2026-12-07T10:00:00Z", "data": data}
    )


def test_doctests():
    failures, tried = doctest.testmod(sync)
    assert tried >= 10 and failures == 0


def test_two_sends_of_one_version_share_the_hash_and_any_change_gives_another():
    invoice = {"number": "INV/2026/0001", "amount_total": 121.0, "lines": [{"sku": "A", "quantity": 1}]}
    first = sync.version_hash(_envelope("e-1", invoice))
    resent = sync.version_hash(_envelope("e-2", dict(reversed(list(invoice.items())))))
    assert first == resent
    for change in ({"amount_total": 121.01}, {"lines": [{"sku": "A", "quantity": 2}]}, {"number": "INV/2026/0002"}):
        assert sync.version_hash(_envelope("e-1", {**invoice, **change})) != first


@pytest.mark.parametrize(
    ("answer", "path", "reference"),
    [
        ('{"id": 12}', "id", "12"),
        ('{"id": 12}', "$.id", "12"),
        ('{"result": {"entries": [{"number": "JE/1"}, {"number": "JE/2"}]}}', "result.entries[1].number", "JE/2"),
        ('[{"id": "first"}]', "[0].id", "first"),
        ('{"matrix": [[1, 2], [3, 4]]}', "matrix[1][0]", "3"),
        ('{"ok": true}', "ok", "true"),
        ('{"id": {"nested": 1}}', "id", None),
        ('{"result": {}}', "result.id", None),
        ('{"entries": [1]}', "entries[5]", None),
        ('{"entries": {"0": "x"}}', "entries[0]", None),
        ("<html>busy</html>", "id", None),
        ("", "id", None),
        ('{"id": 1}', "", None),
    ],
)
def test_the_receivers_reference_is_read_from_its_json_answer(answer, path, reference):
    assert sync.extract_reference(answer, path) == reference


def test_a_long_reference_is_cut_and_a_huge_answer_is_not_parsed_whole():
    assert len(sync.extract_reference(json.dumps({"id": "x" * 5000}), "id")) == sync.MAX_REFERENCE_LENGTH
    huge = json.dumps({"id": 1, "padding": "y" * (sync.MAX_ANSWER_LENGTH + 10)})
    assert sync.extract_reference(huge, "id") is None


@pytest.mark.parametrize("path", ["", "   ", "$", "a..b", "a.[x]", "a[", "a]b", "."])
def test_a_path_that_cannot_be_read_says_why(path):
    with pytest.raises(sync.PathError) as error:
        sync.parse_path(path)
    assert str(error.value)
