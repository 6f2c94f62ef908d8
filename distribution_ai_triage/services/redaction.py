"""Redaction of personal data before an e-mail's text leaves Odoo for an external classifier.

``redact(text, names=(), region="US")`` replaces e-mail addresses, phone numbers, IBANs, payment card
numbers and the given names by placeholders numbered per kind (``[EMAIL_1]``, ``[PHONE_2]``); the same
value gets the same placeholder each time, so the classifier still sees that two mentions are one thing.
Order, purchase, picking and invoice references stay as they are: routing needs them.

>>> result = redact("Jan (jan@acme.example, +32 470 12 34 56) asks about S00042 and PO-2026-0042.",
...                 names=["Jan"])
>>> result.text
'[NAME_1] ([EMAIL_1], [PHONE_1]) asks about S00042 and PO-2026-0042.'
>>> result.counts
{'name': 1, 'email': 1, 'phone': 1}

What is found, and how:

- e-mail addresses: a regular expression;
- phone numbers: ``phonenumbers.PhoneNumberMatcher`` with ``Leniency.VALID`` (a number must be valid
  for its country: dates, quantities, amounts and document numbers are not), in international form
  anywhere and in national form for ``region`` (``None``: international form only);
- IBANs: country code, check digits and account, spaced or not, valid by ``stdnum.iban``;
- card numbers: 13 to 19 digits, together or in groups separated by spaces or dashes, Luhn-valid;
- names: each given name as a whole phrase, case-insensitive, whole words only. A full name does not
  redact its parts on their own: pass ``["Jan Peeters", "Jan", "Peeters"]`` to catch all three.

A document reference (letters, then digits, slashes or dashes: ``S00042``, ``WH/OUT/00014``,
``INV/2026/00017``) is never taken for a phone, card number or name, nor is a bare run of digits right
after a document word ("order no. 4155550132", "PO# 4155550132", "ticket 4155550132").
"""

import bisect
import re
from dataclasses import dataclass
from dataclasses import field

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum import luhn

KINDS = ("email", "phone", "iban", "card", "name")

_EMAIL_RE = re.compile(
    r"(?<![\w.!#$%&'*+=?^`{|}~-])"
    r"[\w!#$%&'*+=?^`{|}~-]+(?:\.[\w!#$%&'*+=?^`{|}~-]+)*"
    r"@(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})"
    r"(?![\w-])"
)
# Country code, check digits, then 11 to 30 letters or digits, together or in groups of four.
_IBAN_RE = re.compile(
    r"(?<!\w)[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)(?!\w)", re.IGNORECASE
)
# Runs of digit groups separated by one space or dash: candidate card numbers are taken inside them.
_DIGIT_RUN_RE = re.compile(r"(?<![\w.,/-])\d+(?:[ -]\d+)*(?![\w])")
# A document reference: words of letters and digits joined by slashes or dashes, starting with a letter and
# holding a digit (S00042, PO-2026-0042, WH/OUT/00014, INV/2026/00017). Each part is one unambiguous run, so
# a long word cannot make the expression backtrack for ever.
_REFERENCE_RE = re.compile(r"(?<![\w/-])[A-Za-z][A-Za-z0-9]*(?:[/-][A-Za-z0-9]+)*(?![\w])")
_DIGIT_RE = re.compile(r"\d")
# The words after which a bare run of digits is a document's number, not a phone number.
_DOCUMENT_WORD_RE = re.compile(
    r"(?<!\w)(?:order|po|so|invoice|inv|bill|ref|reference|ticket|case|tracking|lot|batch|shipment|delivery"
    r"|commande|facture|bestellung|auftrag|rechnung|pedido|factura|albarán|bestelling|factuur|ordine|fattura)"
    r"(?:\s*(?:no|nr|n°|nº|number|num|#)\b)?\s*[#:.°]?\s*\Z",
    re.IGNORECASE,
)


@dataclass
class Redaction:
    """The redacted text and how many occurrences of each kind were replaced (kinds not found are
    absent: an empty dict means nothing was redacted)."""

    text: str
    counts: dict = field(default_factory=dict)


class _Spans:
    """Non-overlapping (start, end) spans, sorted, asked whether a new span overlaps one of them."""

    def __init__(self, spans=()):
        self.starts, self.ends = [], []
        for start, end in spans:
            self.add(start, end)

    def overlaps(self, start, end):
        i = bisect.bisect_left(self.starts, end)  # spans starting before our end
        return bool(i) and self.ends[i - 1] > start

    def add(self, start, end):
        i = bisect.bisect_left(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)


def _emails(text):
    for match in _EMAIL_RE.finditer(text):
        yield match.start(), match.end(), match.group().lower()


def _ibans(text):
    """IBANs, trying the longest candidate first: a match may run into the word after the number."""
    for match in _IBAN_RE.finditer(text):
        candidate = match.group()
        while len(candidate.replace(" ", "")) >= 15:
            if stdnum_iban.is_valid(candidate):
                yield match.start(), match.start() + len(candidate), stdnum_iban.compact(candidate)
                break
            candidate = candidate[:-1].rstrip()


def _cards(text):
    """Luhn-valid card numbers inside runs of digit groups: one group of 13 to 19 digits, or groups
    starting with a group of four (4-4-4-4, 4-6-5 ...) adding up to 13 to 19 digits."""
    for run in _DIGIT_RUN_RE.finditer(text):
        groups = [(m.start() + run.start(), m.end() + run.start()) for m in re.finditer(r"\d+", run.group())]
        i = 0
        while i < len(groups):
            found = None
            first = groups[i][1] - groups[i][0]
            if first == 4 or 13 <= first <= 19:
                digits = ""
                for j in range(i, len(groups) if first == 4 else i + 1):
                    digits += text[groups[j][0] : groups[j][1]]
                    if len(digits) > 19:
                        break
                    if len(digits) >= 13 and luhn.is_valid(digits):
                        found = (j, digits)  # keep going: the longest valid number wins
            if found:
                j, digits = found
                yield groups[i][0], groups[j][1], digits
                i = j + 1
            else:
                i += 1


def _phones(text, region):
    region = region.upper() if region else None
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        start, end = match.start, match.end
        # "REF-0470123456", "x/0470123456", "#0470123456": the digits belong to a reference, not a phone.
        if start and (text[start - 1].isalnum() or text[start - 1] in "#/-_"):
            continue
        # "Order no. 4155550132", "PO# 4155550132": digits alone after a document word are its number.
        if match.raw_string.isdigit() and _DOCUMENT_WORD_RE.search(text, max(0, start - 40), start):
            continue
        key = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        yield start, end, key


def _names(text, names):
    phrases = sorted({" ".join(n.split()) for n in names if n and n.strip()}, key=len, reverse=True)
    for phrase in phrases:
        pattern = r"(?<!\w)" + r"\s+".join(re.escape(word) for word in phrase.split()) + r"(?!\w)"
        for match in re.finditer(pattern, text, re.IGNORECASE):
            yield match.start(), match.end(), phrase.casefold()


def redact(text, names=(), region="US"):
    """Replace personal data in ``text`` by numbered placeholders; returns a :class:`Redaction`.

    ``names``: the names to hide (the sender's, the partner's), ``region``: the country whose national
    phone number format is recognised (ISO 3166 alpha-2, e.g. the company's country).

    >>> redact("Card 4111 1111 1111 1111, not 4111 1111 1111 1112; IBAN BE71 0961 2345 6769.").text
    'Card [CARD_1], not 4111 1111 1111 1112; IBAN [IBAN_1].'
    >>> r = redact("Mail ANNA@shop.example or anna@shop.example, call (415) 555-0132 or +1 415 555 0132.")
    >>> r.text
    'Mail [EMAIL_1] or [EMAIL_1], call [PHONE_1] or [PHONE_1].'
    >>> r.counts
    {'email': 2, 'phone': 2}
    >>> redact("WH/OUT/00014 for INV/2026/00017 of 2026-11-30: 40 cases, 1,250.00 EUR").text
    'WH/OUT/00014 for INV/2026/00017 of 2026-11-30: 40 cases, 1,250.00 EUR'
    >>> redact("").counts
    {}
    """
    text = text or ""
    references = _Spans((m.start(), m.end()) for m in _REFERENCE_RE.finditer(text) if _DIGIT_RE.search(m.group()))
    detectors = (
        ("email", _emails(text), False),
        ("iban", _ibans(text), False),
        ("card", _cards(text), True),
        ("phone", _phones(text, region), True),
        ("name", _names(text, names), True),
    )
    taken, taken_spans = [], _Spans()  # (start, end, kind, key)
    for kind, found, spare_references in detectors:
        for start, end, key in found:
            if taken_spans.overlaps(start, end) or (spare_references and references.overlaps(start, end)):
                continue
            taken.append((start, end, kind, key))
            taken_spans.add(start, end)
    taken.sort()

    numbers = {}  # (kind, key) -> placeholder
    per_kind = {}
    counts = {}
    parts = []
    position = 0
    for start, end, kind, key in taken:
        if (kind, key) not in numbers:
            per_kind[kind] = per_kind.get(kind, 0) + 1
            numbers[kind, key] = f"[{kind.upper()}_{per_kind[kind]}]"
        parts += [text[position:start], numbers[kind, key]]
        counts[kind] = counts.get(kind, 0) + 1
        position = end
    parts.append(text[position:])
    return Redaction("".join(parts), counts)
