"""The audit trail's hash chain, in plain Python: canonical JSON and SHA-256 links.

Each entry stores the canonical JSON of what it records (``data``), the hash of the previous entry of its
chain (``prev_hash``) and ``hash = SHA-256(prev_hash + data)`` in hex. Changing any entry (its data, or a
column the data is rebuilt from) breaks its own hash, or its link to the next one; removing one breaks the
next entry's link.
"""

import hashlib
import json

GENESIS = "0" * 64


def canonical_json(data):
    """One text for one value: keys sorted, no spaces, UTF-8 kept, non-JSON values as strings.

    >>> canonical_json({"b": 1, "a": [True, None, 1.5], "é": "ü"})
    '{"a":[true,null,1.5],"b":1,"é":"ü"}'
    """
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash, canonical):
    """The hash of an entry from the previous entry's hash and the entry's canonical JSON.

    >>> chain_hash(GENESIS, '{"a":1}') == hashlib.sha256((GENESIS + '{"a":1}').encode()).hexdigest()
    True
    """
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()


def first_break(entries):
    """Walk a chain in order and answer ``(index, reason)`` of the first broken entry, or None when the
    chain holds. ``entries`` are mappings with ``data`` (stored canonical JSON), ``rebuilt`` (the canonical
    JSON rebuilt from the entry's columns), ``prev_hash`` and ``hash``.

    >>> a = {"data": '{"n":1}', "rebuilt": '{"n":1}', "prev_hash": GENESIS}
    >>> a["hash"] = chain_hash(GENESIS, a["data"])
    >>> b = {"data": '{"n":2}', "rebuilt": '{"n":2}', "prev_hash": a["hash"]}
    >>> b["hash"] = chain_hash(a["hash"], b["data"])
    >>> first_break([a, b]) is None
    True
    >>> first_break([a, dict(b, rebuilt='{"n":3}')]), first_break([a, dict(b, prev_hash=GENESIS)])
    ((1, 'data_mismatch'), (1, 'broken_link'))
    >>> first_break([dict(a, data='{"n":9}', rebuilt='{"n":9}'), b])
    (0, 'hash_mismatch')
    """
    previous = GENESIS
    for index, entry in enumerate(entries):
        if entry["prev_hash"] != previous:
            return index, "broken_link"
        if entry["rebuilt"] != entry["data"]:
            return index, "data_mismatch"
        if chain_hash(entry["prev_hash"], entry["data"]) != entry["hash"]:
            return index, "hash_mismatch"
        previous = entry["hash"]
    return None
