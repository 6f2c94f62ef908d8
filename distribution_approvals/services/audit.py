"""The audit trail's hash chain, in plain Python: canonical JSON, keyed links, signed heads.

Each entry stores the canonical JSON of what it records (``data``), the hash of the previous entry of its
chain (``prev_hash``) and its own hash: ``HMAC-SHA256(key, prev_hash + data)`` in hex when the entry was
signed with a key (``key_id`` names it), ``SHA-256(prev_hash + data)`` for an unkeyed entry (written
while no key was configured). Changing any entry breaks its own hash, or its link to the next one;
removing one breaks the next entry's link. The key lives outside the database (server configuration or
environment): whoever edits the table can recompute unkeyed hashes, never keyed ones.

Keys and rotation: ``distribution_audit_keys = id1:secret1,id2:secret2`` lists every key that signed
entries (old ones stay listed to verify old entries) and ``distribution_audit_key_id`` names the one new
entries are signed with; a single ``distribution_audit_key = secret`` is the key of id
``distribution_audit_key_id`` (``1`` by default).
"""

import hashlib
import hmac
import json

GENESIS = "0" * 64
DEFAULT_KEY_ID = "1"


def canonical_json(data):
    """One text for one value: keys sorted, no spaces, UTF-8 kept, non-JSON values as strings.

    >>> canonical_json({"b": 1, "a": [True, None, 1.5], "é": "ü"})
    '{"a":[true,null,1.5],"b":1,"é":"ü"}'
    """
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def chain_hash(prev_hash, canonical, key=None):
    """The hash of an entry from the previous entry's hash and the entry's canonical JSON, keyed by
    ``key`` (text) when given.

    >>> chain_hash(GENESIS, '{"a":1}') == hashlib.sha256((GENESIS + '{"a":1}').encode()).hexdigest()
    True
    >>> chain_hash(GENESIS, '{"a":1}', "k") == chain_hash(GENESIS, '{"a":1}'), len(chain_hash(GENESIS, "", "k"))
    (False, 64)
    """
    message = (prev_hash + canonical).encode("utf-8")
    if key:
        return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def parse_keys(keys_text=None, key_id=None, single_key=None):
    """The keyring from the configuration: ``(current_id, {id: secret})``; ``current_id`` is None when
    no key signs new entries (the chain is then unkeyed).

    >>> parse_keys("a:one, b:two", "b")
    ('b', {'a': 'one', 'b': 'two'})
    >>> parse_keys(single_key="s3cret"), parse_keys(single_key="s", key_id="2024"), parse_keys()
    (('1', {'1': 's3cret'}), ('2024', {'2024': 's'}), (None, {}))
    >>> parse_keys("a:one,b:two")  # no current id named: the last one listed signs
    ('b', {'a': 'one', 'b': 'two'})
    >>> parse_keys("a:one", "zz")  # the named key is not listed: nothing signs, rather than a wrong key
    (None, {'a': 'one'})
    """
    keys = {}
    for item in (keys_text or "").split(","):
        ident, sep, secret = item.strip().partition(":")
        if sep and ident.strip() and secret.strip():
            keys[ident.strip()] = secret.strip()
    key_id = (key_id or "").strip() or None
    if single_key and single_key.strip():
        key_id = key_id or DEFAULT_KEY_ID
        keys.setdefault(key_id, single_key.strip())
    if key_id is None and keys:
        key_id = list(keys)[-1]
    return (key_id if key_id in keys else None), keys


def first_break(entries, keys=None):
    """Walk a chain in order and answer ``(index, reason)`` of the first broken entry, or None when the
    chain holds. ``entries`` are mappings with ``data`` (stored canonical JSON), ``rebuilt`` (the canonical
    JSON rebuilt from the entry's columns), ``prev_hash``, ``hash`` and ``key_id`` (None: unkeyed);
    ``keys`` maps key ids to secrets. An entry signed with a key that is not configured any more is
    ``unknown_key``; an unkeyed entry after a keyed one is ``unsigned_entry`` (someone without the key
    rewrote the chain from there).

    >>> a = {"data": '{"n":1}', "rebuilt": '{"n":1}', "prev_hash": GENESIS, "key_id": None}
    >>> a["hash"] = chain_hash(GENESIS, a["data"])
    >>> b = {"data": '{"n":2}', "rebuilt": '{"n":2}', "prev_hash": a["hash"], "key_id": "k"}
    >>> b["hash"] = chain_hash(a["hash"], b["data"], "secret")
    >>> first_break([a, b], {"k": "secret"}) is None
    True
    >>> first_break([a, dict(b, rebuilt='{"n":3}')], {"k": "secret"}), first_break([a, b], {"k": "other"})
    ((1, 'data_mismatch'), (1, 'hash_mismatch'))
    >>> first_break([a, dict(b, prev_hash=GENESIS)], {"k": "secret"}), first_break([a, b], {})
    ((1, 'broken_link'), (1, 'unknown_key'))
    >>> c = dict(a, prev_hash=b["hash"], hash=chain_hash(b["hash"], a["data"]))
    >>> first_break([a, b, c], {"k": "secret"})
    (2, 'unsigned_entry')
    >>> first_break([dict(a, data='{"n":9}', rebuilt='{"n":9}'), b])
    (0, 'hash_mismatch')
    """
    keys = keys or {}
    previous = GENESIS
    keyed_seen = False
    for index, entry in enumerate(entries):
        key_id = entry.get("key_id") or None
        if entry["prev_hash"] != previous:
            return index, "broken_link"
        if entry["rebuilt"] != entry["data"]:
            return index, "data_mismatch"
        if key_id is None and keyed_seen:
            return index, "unsigned_entry"
        if key_id is not None and key_id not in keys:
            return index, "unknown_key"
        if chain_hash(entry["prev_hash"], entry["data"], keys.get(key_id) if key_id else None) != entry["hash"]:
            return index, "hash_mismatch"
        keyed_seen = keyed_seen or key_id is not None
        previous = entry["hash"]
    return None


def sign_head(head, key=None):
    """A head of a chain (``company_id``, ``sequence``, ``hash``, ...) as one line of canonical JSON, with
    its ``signature`` (HMAC-SHA256 of the other fields' canonical JSON; None without a key).

    >>> line = sign_head({"company_id": 1, "sequence": 3, "hash": "ab", "key_id": "k"}, "secret")
    >>> parsed = parse_head(line)
    >>> parsed["sequence"], head_signature_valid(parsed, {"k": "secret"}), head_signature_valid(parsed, {"k": "x"})
    (3, True, False)
    >>> head_signature_valid(parse_head(sign_head({"company_id": 1, "sequence": 3, "hash": "ab"})), {})
    """
    fields = {name: value for name, value in head.items() if name != "signature"}
    signature = chain_hash("", canonical_json(fields), key) if key else None
    return canonical_json(dict(fields, signature=signature))


def parse_head(line):
    """A head line back as a dict (None when the line is not a head: no company, sequence or hash).

    >>> parse_head('{"company_id":1,"sequence":2,"hash":"ab"}')["hash"], parse_head("not json"), parse_head("[1]")
    ('ab', None, None)
    """
    try:
        head = json.loads(line)
    except ValueError:
        return None
    if not isinstance(head, dict) or not all(name in head for name in ("company_id", "sequence", "hash")):
        return None
    try:
        head["company_id"], head["sequence"] = int(head["company_id"]), int(head["sequence"])
    except (TypeError, ValueError):
        return None
    return head


def head_signature_valid(head, keys):
    """True when ``head`` is signed by the key it names, False when the signature does not match (or
    names a key that is not configured), None when the head is not signed (an unkeyed anchor)."""
    if not head.get("signature"):
        return None
    key = keys.get(head.get("key_id") or "")
    if not key:
        return False
    fields = {name: value for name, value in head.items() if name != "signature"}
    return hmac.compare_digest(chain_hash("", canonical_json(fields), key), str(head["signature"]))
