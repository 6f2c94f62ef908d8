"""The pure decisions of the approval matrix and the audit chain (distribution_approvals/services)."""

import doctest
import hashlib
import hmac
from datetime import date
from datetime import datetime
from decimal import Decimal

import pytest

from .services import load_service

approval = load_service("distribution_approvals", "approval")
audit = load_service("distribution_approvals", "audit")


@pytest.mark.parametrize("module", [approval, audit], ids=["approval", "audit"])
def test_doctests(module):
    failures, tried = doctest.testmod(module)
    assert tried > 5 and failures == 0


# -- matrix --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "amount_min", "amount_max", "inside"),
    [
        (1000, 1000, 5000, True),  # the minimum is included
        (999.99, 1000, 5000, False),
        (4999.99, 1000, 5000, True),
        (5000, 1000, 5000, False),  # the maximum is excluded
        (0, 0, 5000, True),  # 0: no minimum
        (10**12, 1000, 0, True),  # 0: no maximum
        (None, 0, 0, True),  # no amount counts as 0
        (-1, 0, 100, True),  # a negative amount is under any maximum
        (5, None, None, True),
    ],
)
def test_amount_band(amount, amount_min, amount_max, inside):
    assert approval.amount_in_band(amount, amount_min, amount_max) is inside


def test_adjacent_bands_never_overlap_nor_leave_a_gap():
    bands = [(0, 1000), (1000, 5000), (5000, 0)]
    for amount in (0, 0.01, 999.99, 1000, 1000.01, 4999.99, 5000, 5000.01, 10**9):
        assert sum(approval.amount_in_band(amount, low, high) for low, high in bands) == 1, amount


@pytest.mark.parametrize(
    ("amount", "threshold", "auto"),
    [(499.99, 500, True), (500, 500, False), (0, 500, True), (None, 500, True), (1, 0, False), (1, None, False)],
)
def test_auto_approval_under_the_threshold_only(amount, threshold, auto):
    assert approval.auto_approved(amount, threshold) is auto


@pytest.mark.parametrize(
    ("approvals", "required", "reached"),
    [(0, 1, False), (1, 1, True), (1, 2, False), (2, 2, True), (3, 2, True), (0, 0, False), (1, None, True)],
)
def test_quorum(approvals, required, reached):
    assert approval.quorum_reached(approvals, required) is reached


# -- who may decide ------------------------------------------------------------------------------
REQUESTER, ALICE, BOB, CAROL = 1, 2, 3, 4


def test_the_requester_is_refused_first_even_when_eligible():
    assert approval.refusal(REQUESTER, REQUESTER, {REQUESTER, ALICE}, set(), set(), False) == "self_approval"
    assert approval.refusal(REQUESTER, REQUESTER, set(), {REQUESTER}, {REQUESTER}, True) == "self_approval"


@pytest.mark.parametrize(
    ("user", "eligible", "decided_here", "approved_other", "four_eyes", "code"),
    [
        (ALICE, {ALICE, BOB}, set(), set(), True, None),
        (CAROL, {ALICE, BOB}, set(), set(), True, "not_approver"),
        (ALICE, {ALICE, BOB}, {ALICE}, set(), True, "already_decided"),
        (ALICE, {ALICE, BOB}, set(), {ALICE}, True, "four_eyes"),
        (ALICE, {ALICE, BOB}, set(), {ALICE}, False, None),
        (BOB, {ALICE, BOB}, {ALICE}, {ALICE}, True, None),
    ],
)
def test_refusal_codes(user, eligible, decided_here, approved_other, four_eyes, code):
    assert approval.refusal(user, REQUESTER, eligible, decided_here, approved_other, four_eyes) == code


# -- deadlines and escalation --------------------------------------------------------------------
START = datetime(2026, 3, 2, 8, 0)


def test_deadline_after_the_sla_and_none_without():
    assert approval.deadline(START, 8) == datetime(2026, 3, 2, 16, 0)
    assert approval.deadline(START, 0.5) == datetime(2026, 3, 2, 8, 30)
    assert approval.deadline(START, 0) is None
    assert approval.deadline(START, None) is None


def test_next_escalation_walks_the_levels_in_order():
    due = approval.deadline(START, 8)
    delays = [0, 4, 24]
    assert [approval.next_escalation_at(due, delays, level) for level in range(4)] == [
        datetime(2026, 3, 2, 16, 0),
        datetime(2026, 3, 2, 20, 0),
        datetime(2026, 3, 3, 16, 0),
        None,
    ]
    assert approval.next_escalation_at(due, [], 0) is None


def test_levels_due_each_exactly_once():
    due = datetime(2026, 3, 2, 16, 0)
    delays = [0, 4, 24]
    assert approval.levels_due(due, delays, 0, datetime(2026, 3, 2, 15, 59, 59)) == []
    assert approval.levels_due(due, delays, 0, due) == [1]
    # A job that ran late catches up level by level; levels done are never due again.
    assert approval.levels_due(due, delays, 0, datetime(2026, 3, 4)) == [1, 2, 3]
    assert approval.levels_due(due, delays, 1, datetime(2026, 3, 2, 20, 0)) == [2]
    assert approval.levels_due(due, delays, 3, datetime(2030, 1, 1)) == []
    assert approval.levels_due(None, delays, 0, datetime(2030, 1, 1)) == []


# -- audit chain ---------------------------------------------------------------------------------
def test_canonical_json_is_one_text_for_one_value():
    one = audit.canonical_json({"b": [1, 2], "a": {"y": None, "x": "é"}})
    other = audit.canonical_json({"a": {"x": "é", "y": None}, "b": [1, 2]})
    assert one == other == '{"a":{"x":"é","y":null},"b":[1,2]}'


def test_canonical_json_writes_other_values_as_text():
    assert audit.canonical_json({"on": date(2026, 3, 2), "amount": Decimal("1.50")}) == (
        '{"amount":"1.50","on":"2026-03-02"}'
    )


def test_chain_hash_is_sha256_of_previous_hash_and_data():
    data = audit.canonical_json({"n": 1})
    expected = hashlib.sha256((audit.GENESIS + data).encode("utf-8")).hexdigest()
    assert audit.chain_hash(audit.GENESIS, data) == expected
    assert audit.chain_hash(expected, data) != expected
    assert len(audit.GENESIS) == 64 and set(audit.GENESIS) == {"0"}


def _chain(count):
    entries, previous = [], audit.GENESIS
    for number in range(1, count + 1):
        data = audit.canonical_json({"sequence": number, "details": {"amount": number * 10.0}})
        entry = {"data": data, "rebuilt": data, "prev_hash": previous, "hash": audit.chain_hash(previous, data)}
        entries.append(entry)
        previous = entry["hash"]
    return entries


def test_an_intact_chain_holds_and_an_empty_one_too():
    assert audit.first_break(_chain(5)) is None
    assert audit.first_break([]) is None


def test_the_chain_is_walked_lazily():
    """The walk takes an iterator (a model reads the rows in batches) and stops at the first break."""
    entries = _chain(4)
    entries[1] = dict(entries[1], rebuilt="{}")
    read = []

    def rows():
        for entry in entries:
            read.append(entry)
            yield entry

    assert audit.first_break(rows()) == (1, "data_mismatch")
    assert len(read) == 2


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        # The data edited (and the columns it is rebuilt from edited alike): its own hash breaks.
        (lambda c: c[2].update(data='{"x":1}', rebuilt='{"x":1}'), (2, "hash_mismatch")),
        # A column edited: the rebuilt text no longer matches the stored data.
        (lambda c: c[2].update(rebuilt='{"x":1}'), (2, "data_mismatch")),
        # An entry removed: the next one no longer links.
        (lambda c: c.pop(2), (2, "broken_link")),
        # Two entries swapped.
        (lambda c: c.insert(1, c.pop(2)), (1, "broken_link")),
        # A hash replaced: the next entry no longer links to it.
        (lambda c: c[2].update(hash="f" * 64), (2, "hash_mismatch")),
        # A forged entry with a recomputed hash: caught by the next link.
        (
            lambda c: c[2].update(data="{}", rebuilt="{}", hash=audit.chain_hash(c[2]["prev_hash"], "{}")),
            (3, "broken_link"),
        ),
        # The first entry claiming another origin.
        (lambda c: c[0].update(prev_hash="1" * 64), (0, "broken_link")),
    ],
    ids=["data", "column", "deleted", "swapped", "hash", "forged", "origin"],
)
def test_each_tampering_is_named(tamper, expected):
    chain = _chain(5)
    tamper(chain)
    assert audit.first_break(chain) == expected


# -- keyed chain and anchored heads -----------------------------------------------------------------
KEYS = {"k1": "first secret", "k2": "second secret"}


def _keyed_chain(count, key_id="k1"):
    entries, previous = [], audit.GENESIS
    for number in range(1, count + 1):
        data = audit.canonical_json({"sequence": number})
        entry = {
            "data": data,
            "rebuilt": data,
            "prev_hash": previous,
            "key_id": key_id,
            "hash": audit.chain_hash(previous, data, KEYS[key_id]),
        }
        entries.append(entry)
        previous = entry["hash"]
    return entries


def test_a_keyed_hash_is_hmac_sha256_and_not_computable_without_the_key():
    data = audit.canonical_json({"n": 1})
    expected = hmac.new(b"first secret", (audit.GENESIS + data).encode(), hashlib.sha256).hexdigest()
    assert audit.chain_hash(audit.GENESIS, data, "first secret") == expected
    assert audit.chain_hash(audit.GENESIS, data) != expected


def test_a_keyed_chain_holds_with_its_keys_only():
    chain = _keyed_chain(4)
    assert audit.first_break(chain, KEYS) is None
    assert audit.first_break(chain, {"k1": "a guess"}) == (0, "hash_mismatch")
    assert audit.first_break(chain, {}) == (0, "unknown_key")


def test_a_chain_rehashed_without_the_key_is_caught():
    chain = _keyed_chain(4)
    # Keeping the key ids, recomputing plain SHA-256: the first entry breaks.
    rehashed, previous = [], audit.GENESIS
    for entry in chain:
        new = dict(entry, prev_hash=previous, hash=audit.chain_hash(previous, entry["data"]))
        rehashed.append(new)
        previous = new["hash"]
    assert audit.first_break(rehashed, KEYS) == (0, "hash_mismatch")
    # Passing the tail off as unkeyed: an unsigned entry after signed ones.
    tail = [dict(entry, key_id=None) for entry in rehashed]
    tail[2] = dict(tail[2], prev_hash=chain[1]["hash"], hash=audit.chain_hash(chain[1]["hash"], tail[2]["data"]))
    assert audit.first_break([*chain[:2], tail[2]], KEYS) == (2, "unsigned_entry")


def test_rotation_keeps_old_entries_verifiable():
    old = _keyed_chain(2, "k1")
    data = audit.canonical_json({"sequence": 3})
    new = {"data": data, "rebuilt": data, "prev_hash": old[-1]["hash"], "key_id": "k2"}
    new["hash"] = audit.chain_hash(new["prev_hash"], data, KEYS["k2"])
    assert audit.first_break([*old, new], KEYS) is None
    assert audit.first_break([*old, new], {"k2": KEYS["k2"]}) == (0, "unknown_key")


@pytest.mark.parametrize(
    ("keys_text", "key_id", "single", "expected"),
    [
        ("k1:a,k2:b", "k1", None, ("k1", {"k1": "a", "k2": "b"})),
        (" k1 : a , ,junk, k2:b ", None, None, ("k2", {"k1": "a", "k2": "b"})),
        (None, None, "solo", ("1", {"1": "solo"})),
        ("old:a", "new", "b", ("new", {"old": "a", "new": "b"})),
        ("", "", "", (None, {})),
        ("k1:a", "missing", None, (None, {"k1": "a"})),
    ],
)
def test_the_keyring_of_the_configuration(keys_text, key_id, single, expected):
    assert audit.parse_keys(keys_text, key_id, single) == expected


def test_a_head_line_is_signed_and_checked():
    line = audit.sign_head({"company_id": 1, "sequence": 9, "hash": "ab" * 32, "key_id": "k2"}, KEYS["k2"])
    head = audit.parse_head(line)
    assert (head["company_id"], head["sequence"]) == (1, 9)
    assert audit.head_signature_valid(head, KEYS) is True
    assert audit.head_signature_valid(dict(head, sequence=8), KEYS) is False
    assert audit.head_signature_valid(dict(head, key_id="k1"), KEYS) is False
    assert (
        audit.head_signature_valid(
            audit.parse_head(audit.sign_head({"company_id": 1, "sequence": 9, "hash": "x"})), KEYS
        )
        is None
    )
    assert audit.parse_head('{"company_id":"x","sequence":1,"hash":"a"}') is None
