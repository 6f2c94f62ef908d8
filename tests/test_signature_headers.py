"""Malformed signature headers on the inbound webhook (distribution_orchestration/services/signature.py):
a reason for the 401, never an exception that ends in a 500."""

import pytest

from .services import load_service

signature = load_service("distribution_orchestration", "signature")


@pytest.mark.parametrize(
    "header",
    [
        "sha256=\u00e9t\u00e9",  # what a UTF-8 header looks like once werkzeug decodes it as Latin-1
        "sha256=" + "\u00c3\u00a9" * 32,
        "sha256=" + "\uff10" * 64,  # full-width digits
        "md5=" + "0" * 64,
        "sha256=" + "0" * 63,
        "sha256=" + "z" * 64,
    ],
)
def test_malformed_signature_headers_are_a_reason_not_a_crash(header):
    with pytest.raises(signature.SignatureError, match="hexadecimal"):
        signature.verify("secret", "100", b"{}", header, now=100)


@pytest.mark.parametrize("stamp", ["\u0661\u0660\u0660", "1e2", "-100", "10 0", "\u00e9"])
def test_malformed_timestamps_are_a_reason_not_a_crash(stamp):
    with pytest.raises(signature.SignatureError, match="Unix seconds"):
        signature.verify("secret", stamp, b"{}", signature.sign("secret", "100", b"{}"), now=100)


def test_an_uppercase_hex_signature_still_matches():
    header = signature.sign("secret", "100", b"{}")
    signature.verify("secret", "100", b"{}", "sha256=" + header[7:].upper(), now=100)
