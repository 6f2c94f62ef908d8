"""Outbound address guard: the server posts only to public Internet addresses.

A URL a user types is a request the server makes on their behalf, from inside the network: to
``127.0.0.1`` (Odoo itself, a database admin port), ``10.x`` (the office), ``169.254.169.254`` (the
cloud provider's metadata and its credentials). Every address the host name resolves to must be a
public unicast address; the check runs when the URL is saved and again right before each request
(a name may resolve elsewhere by then: DNS rebinding).

>>> blocked_reason("https://127.0.0.1:8069/web")
'127.0.0.1 is a loopback address'
>>> blocked_reason("http://[::1]/hook")
'::1 is a loopback address'
>>> blocked_reason("https://10.1.2.3/hook")
'10.1.2.3 is a private address'
>>> blocked_reason("https://169.254.169.254/latest/meta-data/")
'169.254.169.254 is a link-local address'
>>> blocked_reason("https://[::ffff:127.0.0.1]/")
'::ffff:127.0.0.1 is a loopback address'
>>> blocked_reason("https://93.184.216.34/hook") is None
True
>>> blocked_reason("https://receiver.example/hook", resolve=lambda host, port: ["192.168.1.5"])
'receiver.example resolves to 192.168.1.5, a private address'
"""

import ipaddress
import os
import socket
from urllib.parse import urlsplit

ENV_ALLOW_PRIVATE = "DISTRIBUTION_OUTBOUND_ALLOW_PRIVATE"
CONFIG_ALLOW_PRIVATE = "distribution_outbound_allow_private"
TRUE_WORDS = ("1", "true", "yes", "on")


class UnresolvedHost(ValueError):
    """The host name does not resolve (now): not a verdict on the address."""


def allow_private(config_value=None, environ=None):
    """Whether the server configuration lets the outbox post to private addresses (development and
    tests, whose receivers listen on 127.0.0.1): the server option ``distribution_outbound_allow_private``
    or the environment variable ``DISTRIBUTION_OUTBOUND_ALLOW_PRIVATE``, both off by default.

    >>> allow_private(None, {}), allow_private("True", {}), allow_private(None, {ENV_ALLOW_PRIVATE: "1"})
    (False, True, True)
    """
    environ = os.environ if environ is None else environ
    values = (config_value, environ.get(ENV_ALLOW_PRIVATE))
    return any(str(value).strip().lower() in TRUE_WORDS for value in values if value not in (None, False))


def system_resolve(host, port):
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvedHost(f"{host} does not resolve: {exc}") from exc
    return sorted({info[4][0] for info in infos})


def address_kind(address):
    """Why an address is not a public unicast one ('loopback', 'private', ...), or None when it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone index
    mapped = getattr(ip, "ipv4_mapped", None) or getattr(ip, "sixtofour", None)
    if mapped is not None:
        ip = mapped
    for kind, test in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if test:
            return kind
    return None if ip.is_global else "non-public"


def blocked_reason(url, resolve=None):
    """Why the server must not post to ``url`` (text), or None when every address of its host is public.
    Raises ``UnresolvedHost`` when the name does not resolve."""
    parts = urlsplit(url or "")
    host = parts.hostname
    if not host:
        return "the URL has no host"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the URL has an invalid port"
    try:
        literal = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        literal = None
    if literal is not None:
        kind = address_kind(host)
        return f"{host} is {_article(kind)} {kind} address" if kind else None
    for address in (resolve or system_resolve)(host, port):
        kind = address_kind(address)
        if kind:
            return f"{host} resolves to {address}, {_article(kind)} {kind} address"
    return None


def _article(word):
    return "an" if word[:1] in "aeiou" else "a"
