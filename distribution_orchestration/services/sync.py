"""The finance and reporting sync log, without Odoo: which version of a document an event carried, and the
reference the receiver gave it in its answer.

A system of record (a general ledger, a BI warehouse) is told about a document each time it changes. What
matters to finance is which version of the document it holds: the version is a hash of what the event said
about the document (its ``data``), not of the envelope, whose event id and time change with every send.
The receiver's own reference (its journal entry number, its row id) is read from its JSON answer with a
short path configured on the endpoint.
"""

import hashlib
import json
import re

MAX_REFERENCE_LENGTH = 256
# The longest answer the outbox reads for a reference: a receiver's acknowledgement, not a document.
MAX_ANSWER_LENGTH = 64 * 1024
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class PathError(ValueError):
    """The reference path cannot be read; ``str()`` says what to fix."""


def version_hash(payload):
    """The version of the document an event carried: a hash of its ``data``, key order aside.

    >>> a = '{"event_id":"e1","type":"invoice.posted","data":{"number":"INV/1","total":10.0}}'
    >>> b = '{"event_id":"e2","type":"invoice.posted","data":{"total":10.0,"number":"INV/1"}}'
    >>> version_hash(a) == version_hash(b), version_hash(a) == version_hash(a.replace("10.0", "11.0"))
    (True, False)
    >>> len(version_hash(a))
    64
    """
    try:
        data = json.loads(payload).get("data")
    except (ValueError, AttributeError):
        data = payload
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def parse_path(path):
    """The steps of a reference path: keys separated by dots, list positions in brackets; ``$.`` may lead.

    >>> parse_path("$.data.entries[0].id")
    ['data', 'entries', 0, 'id']
    >>> parse_path("id")
    ['id']
    >>> try:
    ...     parse_path("a..b")
    ... except PathError as error:
    ...     print(error)
    empty step in 'a..b'
    """
    text = (path or "").strip()
    if text.startswith("$"):
        text = text[1:].lstrip(".")
    if not text:
        raise PathError("the path is empty")
    steps = []
    for part in text.split("."):
        if not part:
            raise PathError(f"empty step in {path!r}")
        position = 0
        while position < len(part):
            match = _STEP.match(part, position)
            if not match:
                raise PathError(f"cannot read {part[position:]!r} in {path!r}")
            steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
            position = match.end()
    return steps


def extract_reference(answer, path):
    """The receiver's reference in its answer (text), or None when the answer is not JSON or lacks it.

    >>> extract_reference('{"data": {"entries": [{"id": 4711}]}}', "data.entries[0].id")
    '4711'
    >>> extract_reference('{"id": "GL-2026-0042"}', "$.id")
    'GL-2026-0042'
    >>> extract_reference("ok", "id") is None, extract_reference('{"id": null}', "id") is None
    (True, True)
    >>> extract_reference('{"items": []}', "items[0].id") is None
    True
    """
    if not answer or not path:
        return None
    try:
        value = json.loads(answer[:MAX_ANSWER_LENGTH])
    except ValueError:
        return None
    for step in parse_path(path):
        if (isinstance(step, int) and isinstance(value, list) and step < len(value)) or (
            isinstance(step, str) and isinstance(value, dict) and step in value
        ):
            value = value[step]
        else:
            return None
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        value = str(value).lower()
    return str(value)[:MAX_REFERENCE_LENGTH]
