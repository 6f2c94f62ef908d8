"""Every signer and verifier of the suite matches the contract's test vectors byte for byte."""

import doctest
import json
from pathlib import Path

import pytest

from .services import load_service

signature = load_service("distribution_orchestration", "signature")
VECTORS = json.loads((Path(__file__).parent / "contract" / "signature-vectors.json").read_text())["vectors"]


def test_doctests():
    failures, tried = doctest.testmod(signature)
    assert tried > 0 and failures == 0


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["header"]["X-Distribution-Event"])
def test_signer_matches_vector(vector):
    body = vector["body"].encode()
    assert signature.sign(vector["secret"], vector["timestamp"], body) == vector["header"]["X-Distribution-Signature"]
    envelope = json.loads(body)
    headers = signature.headers(vector["secret"], envelope["type"], envelope["event_id"], vector["timestamp"], body)
    assert headers == vector["header"]


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["header"]["X-Distribution-Event"])
def test_verifier_accepts_vector_and_rejects_tampering(vector):
    body = vector["body"].encode()
    stamp = int(vector["timestamp"])
    header = vector["header"]["X-Distribution-Signature"]
    signature.verify(vector["secret"], vector["timestamp"], body, header, now=stamp + 299)
    with pytest.raises(signature.SignatureError, match="does not match"):
        signature.verify(vector["secret"], vector["timestamp"], body + b" ", header, now=stamp)
    with pytest.raises(signature.SignatureError, match="does not match"):
        signature.verify(vector["secret"] + "x", vector["timestamp"], body, header, now=stamp)
    with pytest.raises(signature.SignatureError, match="away from the server clock"):
        signature.verify(vector["secret"], vector["timestamp"], body, header, now=stamp + 301)
    with pytest.raises(signature.SignatureError, match="missing"):
        signature.verify(vector["secret"], vector["timestamp"], body, "", now=stamp)


def test_envelope_is_compact_and_keeps_unicode():
    body = signature.envelope("e", "t", "2026-11-30T10:00:00Z", "Société Générale", {"x": 1})
    expected = (
        '{"event_id":"e","type":"t","occurred_at":"2026-11-30T10:00:00Z",'
        '"company":"Société Générale","data":{"x":1}}'
    )
    assert body == expected.encode()
