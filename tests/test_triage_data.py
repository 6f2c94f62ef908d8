"""The data of distribution_ai_triage: the evaluation set of benchmarks/data and the seed of the addon.

The evaluation set (one JSON object a line) measures the classifiers and is never used as examples: no seed
example may appear in it. Its mix is part of what it measures: every label, several languages, quoted history
(whose text may belong to another label, so that cleaning matters), signatures and e-mails with two intents.
"""

import json
import re
import unicodedata

import pytest

from .conftest import ROOT

EVAL = ROOT / "benchmarks" / "data" / "triage_eval.jsonl"
SEED = ROOT / "distribution_ai_triage" / "data" / "triage_seed.json"
LABELS = ("order_status", "shortage_escalation", "delivery_reschedule", "invoice_dispute", "other")
LANGS = ("en", "fr", "de", "es", "nl")
FIELDS = {"id": str, "label": str, "subject": str, "body": str, "lang": str, "ambiguous": bool, "notes": str}

MIN_ITEMS = 100
MIN_PER_LABEL = 18
MIN_QUOTED = 15
MIN_SIGNED = 15
OTHER_LANGS_SHARE = (0.15, 0.30)  # about 20% of the set is not in English
AMBIGUOUS = (8, 15)  # about 10
MAX_NEW_LINES = 12  # non-empty lines of the new text, quoted history left out

# The start of a quoted previous message: "On ... wrote:" and its French, German, Spanish and Dutch forms,
# Outlook's separator, or "> " lines.
QUOTE_HEADER = re.compile(
    r"^(On\s.+\swrote:|Le\s.+\sa écrit\s?:|Am\s.+\sschrieb.*:|El\s.+\sescribió:|Op\s.+\sschreef.*:"
    r"|-{2,}\s*Original Message\s*-{2,})\s*$",
    re.MULTILINE,
)
QUOTED_LINE = re.compile(r"^>", re.MULTILINE)
# A signature: a phone line (Tel / Tél. / Phone / Mobile / Direct / T / M, then a number) or an IBAN.
SIGNATURE_LINE = re.compile(
    r"^\s*((tel|tél|phone|mobile|mob|direct|t|m)\b\.?\s*:?\s*\+?\d|iban\s+[a-z]{2}\d\d)",
    re.MULTILINE | re.IGNORECASE,
)


def _eval_rows():
    return [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]


def _seed_labels():
    return json.loads(SEED.read_text(encoding="utf-8"))["labels"]


def _has_quote(body):
    return bool(QUOTE_HEADER.search(body) or QUOTED_LINE.search(body))


def _new_text(body):
    """The body without its quoted history."""
    match = QUOTE_HEADER.search(body)
    text = body[: match.start()] if match else body
    return "\n".join(line for line in text.splitlines() if not line.startswith(">"))


def _unaccented(text):
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@pytest.fixture(scope="module")
def rows():
    return _eval_rows()


@pytest.fixture(scope="module")
def seed_labels():
    return _seed_labels()


# -- the evaluation set ------------------------------------------------------------------------------
def test_eval_set_parses_with_the_expected_fields(rows):
    assert len(rows) >= MIN_ITEMS
    for row in rows:
        assert set(row) == set(FIELDS), row.get("id")
        for field, kind in FIELDS.items():
            assert isinstance(row[field], kind), f"{row['id']}: {field} is not a {kind.__name__}"
        assert row["subject"].strip() and row["body"].strip() and row["notes"].strip(), row["id"]
        assert row["label"] in LABELS, row["id"]
        assert row["lang"] in LANGS, row["id"]


def test_eval_ids_are_unique_and_numbered(rows):
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids))
    for item_id in ids:
        assert re.fullmatch(r"eval-\d{3}", item_id), item_id


def test_eval_has_no_repeated_text(rows):
    bodies = [_new_text(row["body"]).strip().casefold() for row in rows]
    subjects = [row["subject"].strip().casefold() for row in rows]
    assert len(set(bodies)) == len(bodies)
    assert len(set(subjects)) == len(subjects)


@pytest.mark.parametrize("label", LABELS)
def test_every_label_has_enough_items(rows, label):
    assert sum(row["label"] == label for row in rows) >= MIN_PER_LABEL


def test_about_a_fifth_is_not_in_english(rows):
    others = [row for row in rows if row["lang"] != "en"]
    low, high = OTHER_LANGS_SHARE
    assert low * len(rows) <= len(others) <= high * len(rows)
    assert {row["lang"] for row in others} == set(LANGS) - {"en"}


def test_enough_items_quote_their_history(rows):
    quoted = [row for row in rows if _has_quote(row["body"])]
    assert len(quoted) >= MIN_QUOTED
    # The quoted part is history, not the message: there is new text above it.
    for row in quoted:
        assert _new_text(row["body"]).strip(), row["id"]


def test_enough_items_are_signed(rows):
    signed = [row for row in rows if SIGNATURE_LINE.search(row["body"])]
    assert len(signed) >= MIN_SIGNED
    assert any(re.search(r"^IBAN ", row["body"], re.MULTILINE) for row in signed)


def test_about_ten_items_are_ambiguous(rows):
    ambiguous = [row for row in rows if row["ambiguous"]]
    low, high = AMBIGUOUS
    assert low <= len(ambiguous) <= high
    assert len({row["label"] for row in ambiguous}) >= 4


def test_items_have_realistic_lengths(rows):
    for row in rows:
        lines = [line for line in _new_text(row["body"]).splitlines() if line.strip()]
        assert 1 <= len(lines) <= MAX_NEW_LINES, row["id"]


def test_markers_are_detected():
    assert _has_quote("Yes.\n\nOn Mon, 30 Nov 2026, Anna <a@b.example> wrote:\n> How many?")
    assert _has_quote("Oui.\n\nLe 23 nov. 2026 à 10:41, Marc a écrit :\nCombien ?")
    assert _has_quote("Ja.\n\nAm 25.11.2026 um 08:14 schrieb Anna:\nWie viele?")
    assert _has_quote("OK\n\n-----Original Message-----\nFrom: Anna")
    assert not _has_quote("We ordered 40 cases.\nThanks, Anna")
    assert _new_text("New text\n\nOn Mon, Anna wrote:\n> old text").strip() == "New text"
    assert SIGNATURE_LINE.search("Regards,\nAnna\nTél. : +33 4 72 55 18 90")
    assert SIGNATURE_LINE.search("Regards,\nAnna\nIBAN DE89 3704 0044 0532 0130 00")
    assert not SIGNATURE_LINE.search("Tracking: 6Z91 4410 2287\nThanks")


# -- the seed ----------------------------------------------------------------------------------------
def test_seed_has_the_five_labels(seed_labels):
    codes = [label["code"] for label in seed_labels]
    assert len(codes) == len(set(codes))
    assert set(codes) <= set(LABELS)
    assert set(codes) == set(LABELS)
    for label in seed_labels:
        assert set(label) == {"code", "name", "description", "examples", "rules"}, label["code"]
        assert label["name"].strip(), label["code"]
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", label["description"].strip()) if s]
        assert 2 <= len(sentences) <= 3, label["code"]


def test_seed_examples_are_short_and_distinct(seed_labels):
    everything = []
    for label in seed_labels:
        examples = label["examples"]
        assert len(examples) == 10, label["code"]  # 8 in English, 2 in other languages
        for example in examples:
            assert isinstance(example, str) and 3 <= len(example.split()) <= 20, example
        everything += [example.casefold() for example in examples]
    assert len(everything) == len(set(everything))


def test_no_seed_example_is_in_the_eval_set(rows, seed_labels):
    bodies = [row["body"].casefold() for row in rows]
    for label in seed_labels:
        for example in label["examples"]:
            needle = example.casefold()
            assert not any(needle in body for body in bodies), f"seed example {example!r} is in the eval set"


def test_seed_rules_compile_and_are_weighted(seed_labels):
    for label in seed_labels:
        rules = label["rules"]
        assert 10 <= len(rules) <= 20, label["code"]
        patterns = [rule["pattern"] for rule in rules]
        assert len(patterns) == len(set(patterns)), label["code"]
        for rule in rules:
            assert set(rule) == {"pattern", "weight", "regex"}, rule
            assert isinstance(rule["regex"], bool), rule
            assert isinstance(rule["weight"], int) and not isinstance(rule["weight"], bool), rule
            assert 1 <= rule["weight"] <= 3, rule
            pattern = rule["pattern"]
            assert pattern.strip() and pattern == _unaccented(pattern), rule
            if rule["regex"]:
                re.compile(pattern)
                # lowercase, escapes such as \b or \d aside
                assert re.sub(r"\\.", "", pattern) == re.sub(r"\\.", "", pattern).lower(), rule
            else:
                assert pattern == pattern.lower() and pattern == pattern.strip(), rule
