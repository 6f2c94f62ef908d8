"""The wording of a vendor's risk summary by a chat provider: what it is asked, and what of its answer is kept.

The facts (figures and the purchase orders at risk) come from the data; the provider only words them. It gets
the facts as JSON with the vendor's name replaced by ``[VENDOR]`` (put back in its answer), and the answer is
kept only when it is a plain text of bounded length that names every purchase order of the facts. A summary
is valid for the facts it was worded from: ``facts_hash`` tells when they changed.

>>> facts = {"vendor": "Bolt Supplier", "median_days": 13.0, "late_purchases": [{"name": "P00042"}]}
>>> request = chat_request(facts, "gpt-4o-mini", "English")
>>> [m["role"] for m in request["messages"]], "Bolt" in request["messages"][1]["content"]
(['system', 'user'], False)
>>> check_wording("```\\n[VENDOR] delivers late: P00042 will miss its customer.\\n```", facts)
'Bolt Supplier delivers late: P00042 will miss its customer.'
>>> try:
...     check_wording("[VENDOR] is late.", facts)
... except WordingRejected as error:
...     print(error)
missing_orders: P00042
"""

import hashlib
import json
import re

VENDOR = "[VENDOR]"
SUMMARY_MAX = 1200
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_SPACES = re.compile(r"[ \t]+")


class WordingRejected(ValueError):
    """The provider's answer is not kept: ``reason`` says why (empty, too_long, missing_orders)."""

    def __init__(self, reason, detail=""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


def facts_hash(facts):
    """A fingerprint of the facts: a worded summary is shown only while the facts still hash the same.

    >>> facts_hash({"a": 1, "b": [2]}) == facts_hash({"b": [2], "a": 1}), len(facts_hash({}))
    (True, 64)
    """
    text = json.dumps(facts, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def order_names(facts):
    """The names of the purchase orders at risk in the facts, each once, in order."""
    names = []
    for late in facts.get("late_purchases") or ():
        name = late.get("name")
        if name and name not in names:
            names.append(name)
    return names


def facts_text(facts):
    """The facts as the provider reads them: JSON, the vendor's name replaced by ``[VENDOR]``."""
    return json.dumps(dict(facts, vendor=VENDOR), sort_keys=True, default=str, ensure_ascii=False, indent=1)


def system_prompt(language, max_chars=SUMMARY_MAX):
    """What the provider is told to do with the facts."""
    return (
        "You word the delivery risk of one vendor for a purchasing team, in plain language, in "
        f"{language or 'English'}. The user message holds the facts as JSON: median_days and p90_days are the "
        "days the vendor really takes from order to receipt (median and 90th percentile over its last receipts), "
        "planned_days the delay the planning uses, on_time_rate the percentage of receipts on time, drifting "
        "whether the real delay departs from the plan, late_purchases the open purchase orders expected too late "
        "for the customer orders listed with them. Use only these facts: do not add, round differently or invent "
        f"any figure, date or order. Write {VENDOR} where the vendor is meant and name every purchase order of "
        f"late_purchases as written. Answer with the summary only: no title, no list, no markdown, at most "
        f"{max_chars} characters."
    )


def chat_request(facts, model, language, max_chars=SUMMARY_MAX):
    """The JSON body to POST to ``/v1/chat/completions`` to have ``facts`` worded (plain text answer)."""
    return {
        "model": model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": system_prompt(language, max_chars)},
            {"role": "user", "content": facts_text(facts)},
        ],
    }


def check_wording(content, facts, max_chars=SUMMARY_MAX):
    """The provider's text ready to show (fences and surrounding quotes removed, spaces tidied, the vendor's
    name put back), or WordingRejected: empty, longer than ``max_chars``, or missing a purchase order name.

    >>> check_wording('  "Nothing threatens a customer."  ', {"vendor": "V"})
    'Nothing threatens a customer.'
    >>> try:
    ...     check_wording("x" * 20, {"vendor": "V"}, max_chars=10)
    ... except WordingRejected as error:
    ...     print(error.reason, error.detail)
    too_long 20 characters, at most 10
    """
    text = _FENCE.sub("", (content or "").strip()).strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines()).strip()
    if not text:
        raise WordingRejected("empty", "the answer has no text")
    if len(text) > max_chars:
        raise WordingRejected("too_long", f"{len(text)} characters, at most {max_chars}")
    missing = [name for name in order_names(facts) if name not in text]
    if missing:
        raise WordingRejected("missing_orders", ", ".join(missing)[:200])
    return text.replace(VENDOR, str(facts.get("vendor") or ""))
