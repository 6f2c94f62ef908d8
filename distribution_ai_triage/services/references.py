"""Document references in an e-mail's text, without Odoo: what the triage links a message to.

A reference is a word that starts with a letter and holds a digit, possibly with slashes or dashes
(``S00042``, ``P00017``, ``WH/OUT/00014``, ``INV/2026/00017``, ``PO-4471``), or a bare number of at
least four digits right after a document word ("order 4471", "PO# 88213", "invoice no. 20461", which a
customer's own purchase order number often is). The model then looks each candidate up among the
sender's own documents only: a reference is a clue, never an authority.

>>> candidates("Where is S00042? Our PO# 88213, invoice INV/2026/00017 and WH/OUT/00014.")
['S00042', '88213', 'INV/2026/00017', 'WH/OUT/00014']
>>> candidates("We need 40 cases by 12/03, call +32 470 12 34 56")
[]
"""

import re

MAX_CANDIDATES = 20
_REFERENCE_RE = re.compile(r"(?<![\w/-])([A-Za-z][A-Za-z0-9]*(?:[/-][A-Za-z0-9]+)*)(?![\w])")
_DIGIT_RE = re.compile(r"\d")
_NUMBER_AFTER_WORD_RE = re.compile(
    r"\b(?:order|po|p\.o\.|purchase order|invoice|inv|bill|delivery|picking|ref|reference|commande|"
    r"facture|bestellung|rechnung|pedido|factura|bestelling|factuur|ordine|fattura)"
    r"\s*(?:no\.?|nr\.?|n°|#|number|num\.?)?\s*[:#]?\s*(\d{4,12})\b",
    re.IGNORECASE,
)
# Words that look like references but are not documents: units, sizes, model numbers of no one's
# orders are filtered by the lookup anyway; these are only the commonest noise.
_NOISE = {"covid19", "a4", "a3", "co2", "h2o", "mp3", "mp4", "4g", "5g"}


def candidates(text):
    """The distinct reference candidates of ``text``, in order of appearance, at most ``MAX_CANDIDATES``.

    >>> candidates("Order S00042, again S00042, and order 4471")
    ['S00042', '4471']
    """
    found = []
    for match in _REFERENCE_RE.finditer(text or ""):
        token = match.group(1)
        if _DIGIT_RE.search(token) and len(token) >= 4 and token.lower() not in _NOISE:
            found.append((match.start(), token))
    for match in _NUMBER_AFTER_WORD_RE.finditer(text or ""):
        found.append((match.start(1), match.group(1)))
    result = []
    for _position, token in sorted(found):
        if token not in result:
            result.append(token)
    return result[:MAX_CANDIDATES]


def email_domain(address):
    """The domain of an e-mail address, lower case, or '' (``"Anna <anna@Acme.example>"`` -> ``acme.example``).

    >>> email_domain("Anna <anna@Acme.example>"), email_domain("nobody")
    ('acme.example', '')
    """
    match = re.search(r"@([\w.-]+)", address or "")
    return match.group(1).lower().strip(".") if match else ""


# Domains shared by many senders: a partner is never matched by them.
PUBLIC_DOMAINS = frozenset(
    """gmail.com googlemail.com yahoo.com yahoo.fr yahoo.co.uk hotmail.com hotmail.fr outlook.com live.com
    msn.com icloud.com me.com aol.com gmx.de gmx.net web.de orange.fr free.fr laposte.net proton.me
    protonmail.com mail.com yandex.ru t-online.de libero.it telenet.be skynet.be ziggo.nl""".split()
)
