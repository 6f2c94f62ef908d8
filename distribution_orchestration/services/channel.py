"""Customer-channel orders, without Odoo: the business key, the fingerprint of what the channel said, the
price tolerance and the problems list that one business exception carries.

A channel (a web shop, a marketplace, an EDI feed) resends an order under a new message id whenever it is
not sure it was received. The order is known by its business key, the channel and the channel's own order
reference; what the channel said is compared through a fingerprint of the order's content (not of the
envelope, which changes with every resend).
"""

import hashlib
import json

# The content of a channel order that makes it the same order (an identical resend changes nothing).
FINGERPRINT_KEYS = ("customer", "delivery_address", "lines", "requested_date", "notes")


def business_key(channel_code, order_ref):
    """The key of a channel order, for logs and exception source keys.

    >>> business_key("shop-eu", " #1001 ")
    'shop-eu:#1001'
    """
    return f"{channel_code}:{order_ref.strip()}"


def like_literal(text):
    """``text`` as a LIKE pattern that matches only itself (for ``=ilike``, a comparison without case): the
    channel's ``%`` and ``_`` are characters, not wildcards that would match any customer.

    >>> like_literal("a_b%c\\\\d")
    'a\\\\_b\\\\%c\\\\\\\\d'
    """
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def fingerprint(data):
    """A hash of what the channel said about the order: key order, the envelope and unknown keys do not count.

    >>> a = {"channel": "s", "order_ref": "1", "lines": [{"sku": "A", "quantity": 2}], "notes": "x"}
    >>> b = {"notes": "x", "lines": [{"quantity": 2, "sku": "A"}], "order_ref": "1", "channel": "s", "extra": 1}
    >>> fingerprint(a) == fingerprint(b), fingerprint(a) == fingerprint(dict(a, notes="y"))
    (True, False)
    >>> len(fingerprint(a))
    64
    """
    content = {key: data.get(key) for key in FINGERPRINT_KEYS}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def price_deviation_pct(price, reference):
    """How far the channel's price is from ours, in % of ours (0 when ours is 0 and so is theirs).

    >>> price_deviation_pct(95.0, 100.0), price_deviation_pct(100.0, 100.0), price_deviation_pct(5.0, 0.0)
    (5.0, 0.0, 100.0)
    """
    if not reference:
        return 0.0 if not price else 100.0
    return round(abs(price - reference) / abs(reference) * 100.0, 4)


def price_within(price, reference, tolerance_pct):
    """Whether the channel's price is within the tolerance of the pricelist's (no price given: yes).

    >>> price_within(95.0, 100.0, 5.0), price_within(94.99, 100.0, 5.0), price_within(None, 100.0, 0.0)
    (True, False, True)
    """
    if price is None:
        return True
    return price_deviation_pct(price, reference) <= (tolerance_pct or 0.0)


def summarize(problems):
    """The problems of an order as one text, one line each, in the order found.

    >>> summarize(["unknown customer", "line 2: unknown SKU 'X'"])
    "- unknown customer\\n- line 2: unknown SKU 'X'"
    """
    return "\n".join(f"- {problem}" for problem in problems)
