"""The outbound address guard (distribution_observability/services/netguard.py): the outbox posts only to
public addresses; loopback, private, link-local and reserved ones are refused, also through a name."""

import doctest

import pytest

from .services import load_service

netguard = load_service("distribution_observability", "netguard")


def test_doctests():
    failures, tried = doctest.testmod(netguard)
    assert tried >= 8 and failures == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8069/web/database/list",
        "https://127.1.2.3/",
        "http://[::1]:8069/",
        "https://10.0.0.1/hook",
        "https://172.16.5.4/hook",
        "https://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/iam/",
        "https://[fe80::1%25eth0]/",
        "https://[fc00::1]/",
        "https://0.0.0.0/",
        "https://[::ffff:10.0.0.1]/",
        "https://100.64.0.1/",  # carrier-grade NAT: not public
        "https://224.0.0.1/",
        "https://240.0.0.1/",
    ],
)
def test_internal_addresses_are_refused(url):
    assert netguard.blocked_reason(url, resolve=lambda host, port: pytest.fail("a literal is not resolved"))


def test_public_addresses_pass():
    assert netguard.blocked_reason("https://93.184.216.34/hook") is None
    assert netguard.blocked_reason("https://[2606:4700::1111]/hook") is None


def test_every_resolved_address_is_checked():
    # A name with one public and one loopback address is refused: the connection may take either.
    def resolve(host, port):
        assert (host, port) == ("receiver.example", 8443)
        return ["93.184.216.34", "127.0.0.1"]

    reason = netguard.blocked_reason("https://receiver.example:8443/hook", resolve=resolve)
    assert reason == "receiver.example resolves to 127.0.0.1, a loopback address"
    assert netguard.blocked_reason("https://receiver.example/", resolve=lambda host, port: ["93.184.216.34"]) is None


def test_unresolvable_and_malformed():
    def fail(host, port):
        raise netguard.UnresolvedHost(f"{host} does not resolve")

    with pytest.raises(netguard.UnresolvedHost):
        netguard.blocked_reason("https://nowhere.invalid/", resolve=fail)
    assert netguard.blocked_reason("https:///no-host") == "the URL has no host"
    assert netguard.blocked_reason("https://receiver.example:99999/", resolve=fail) == "the URL has an invalid port"


def test_allow_private_is_server_configuration_only():
    assert not netguard.allow_private(None, {})
    assert not netguard.allow_private("False", {netguard.ENV_ALLOW_PRIVATE: "0"})
    assert netguard.allow_private("1", {})
    assert netguard.allow_private(True, {})
    assert netguard.allow_private(None, {netguard.ENV_ALLOW_PRIVATE: "yes"})
