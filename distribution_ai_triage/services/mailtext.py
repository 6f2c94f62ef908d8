"""The text of an inbound e-mail that is worth classifying: the new message, without its history.

``clean_body(body, is_html=True)`` turns a mail body into plain text: HTML becomes text (paragraphs and
line breaks kept, entities decoded), the quoted history is cut (``>`` lines, "On ... wrote:" and its French, German,
Spanish, Dutch and Italian forms, "-----Original Message-----", Outlook's "From: / Sent:" header block,
Gmail's quote and Apple Mail's ``<blockquote>`` in HTML), then the signature ("-- ", a closing such as
"Best regards" followed by a few short lines, "Sent from my iPhone"), and the whitespace is tidied.

>>> clean_body("<p>Hello,</p><p>please ship S00042 today.</p><div class='gmail_quote'>On Mon, Anna wrote:"
...            "<blockquote>Old text</blockquote></div>")
'Hello,\\n\\nplease ship S00042 today.'

``detect_language(text)`` guesses the language (en, fr, de, es, nl, it) from common short words; it
answers None when the text is too short or the guess is not clear.

>>> detect_language("Could you please send us the invoice of the last order?")
'en'
>>> detect_language("OK") is None
True
"""

import re
from html.parser import HTMLParser

LANGUAGES = ("en", "fr", "de", "es", "nl", "it")

# -- HTML to text ---------------------------------------------------------------------------------------
_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "form", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table", "tr", "ul",
}  # fmt: skip
_SKIP_TAGS = {"head", "script", "style", "title", "template", "noscript"}
# Elements whose start means "the rest is history": Gmail, Outlook (web and desktop), Thunderbird.
_HISTORY_CLASSES = {"gmail_quote", "gmail_extra", "moz-cite-prefix", "yahoo_quoted", "protonmail_quote"}
_HISTORY_IDS = {"divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container"}
# Elements left out but not ending the message: signatures, quoted blocks between inline replies.
_DROP_CLASSES = {"gmail_signature", "moz-signature"}
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.skip_tag = None  # the tag name of the element being left out, and how deep we are in it
        self.skip_depth = 0
        self.stopped = False
        self.pre = 0

    def handle_starttag(self, tag, attrs):
        if self.stopped:
            return
        if self.skip_tag:
            if tag == self.skip_tag and tag not in _VOID_TAGS:
                self.skip_depth += 1
            return
        attrs = dict(attrs)
        classes = set((attrs.get("class") or "").lower().split())
        if classes & _HISTORY_CLASSES or (attrs.get("id") or "").lower() in _HISTORY_IDS:
            self.stopped = True
            return
        if tag in _SKIP_TAGS or tag == "blockquote" or classes & _DROP_CLASSES:
            if tag not in _VOID_TAGS:
                self.skip_tag, self.skip_depth = tag, 1
            return
        if tag == "pre":
            self.pre += 1
        if tag == "br":
            self._break(0)
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self._break(1)
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def _break(self, count):
        """End the text so far with at least ``count`` line breaks (a block starts on its own line, but
        ``<div><p>`` does not make two)."""
        while self.parts and not self.parts[-1].strip(" \t") and "\n" not in self.parts[-1]:
            self.parts.pop()
        if not self.parts:
            return
        tail = "".join(self.parts[-count - 1 :])
        self.parts.append("\n" * max(0, count - (len(tail) - len(tail.rstrip("\n")))))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.skip_tag == tag:  # <div class="gmail_signature"/>: nothing inside to leave out
            self.skip_tag, self.skip_depth = None, 0

    def handle_endtag(self, tag):
        if self.stopped:
            return
        if self.skip_tag:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if not self.skip_depth:
                    self.skip_tag = None
            return
        if tag == "pre" and self.pre:
            self.pre -= 1
        # A paragraph is followed by an empty line, as mail clients show it.
        if tag == "p":
            self._break(2)
        elif tag in _BLOCK_TAGS and tag != "br":
            self._break(1)

    def handle_data(self, data):
        if self.stopped or self.skip_tag:
            return
        self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_to_text(html):
    """Plain text of an HTML mail body: block elements and ``<br>`` become line breaks, paragraphs are
    followed by an empty line, scripts and styles are dropped, and from Gmail's, Outlook's or
    Thunderbird's quoted history on nothing is kept; ``<blockquote>`` and Gmail signatures are left out.

    >>> html_to_text("<div>Hi<br>40 cases&nbsp;of&nbsp;A12, please.</div><blockquote>old</blockquote>")
    'Hi\\n40 cases of A12, please.\\n'
    """
    parser = _TextExtractor()
    parser.feed(html or "")
    parser.close()
    text = "".join(parser.parts)
    return re.sub(r"[ \t]*\n[ \t]*", "\n", text)


# -- quoted history --------------------------------------------------------------------------------------
# "On <date>, <name> wrote:" in the languages of the order desk ("Am <date> schrieb <name>:" in German and
# Dutch); the header may be wrapped over three lines.
_ATTRIBUTION_RE = re.compile(
    r"^[ \t]*(?:On|Le|Am|El|Op|Il|Den|Em)\s[^\n]*(?:\n[^\n]*){0,2}?"
    r"(?:wrote|a\s+écrit|schrieb|escribió|schreef|ha\s+scritto|skrev|escreveu)\b(?:[^\n]*:)?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_ORIGINAL_RE = re.compile(
    r"^[ \t]*-{2,}\s*(?:Original Message|Message d'origine|Ursprüngliche Nachricht|Mensaje original"
    r"|Oorspronkelijk bericht|Messaggio originale)\s*-{2,}",
    re.IGNORECASE | re.MULTILINE,
)
# Outlook's header block: "From:" then, within the next lines, "Sent:" (or "Date:"), in several languages.
_OUTLOOK_RE = re.compile(
    r"^[ \t]*\*?(?:From|De|Von|Van|Da)\s*:\*?[ \t]+\S[^\n]*\n(?:[^\n]*\n){0,3}?[ \t]*\*?"
    r"(?:Sent|Date|Envoyé|Gesendet|Datum|Enviado(?: el)?|Fecha|Verzonden|Inviato)\s*:",
    re.IGNORECASE | re.MULTILINE,
)
_SEPARATOR_RE = re.compile(r"(?:\n[ \t]*(?:_{5,}|-{5,}|={5,})?[ \t]*)+\Z")


def cut_history(text):
    """The text before the quoted history: everything from the first reply header on is cut, and the
    remaining lines starting with ">" are dropped.

    >>> cut_history("Yes, 40 cases.\\n\\nOn Mon, 30 Nov 2026, Anna <a@b.example> wrote:\\n> How many?")
    'Yes, 40 cases.'
    >>> cut_history("D'accord.\\n\\nLe lun. 30 nov. 2026 à 10:00, Anna <a@b.example> a écrit :\\n> Combien ?")
    "D'accord."
    >>> cut_history("Fine.\\n________________________________\\nFrom: Anna\\nSent: Monday\\nSubject: S00042")
    'Fine.'
    """
    cuts = [m.start() for regex in (_ATTRIBUTION_RE, _ORIGINAL_RE, _OUTLOOK_RE) if (m := regex.search(text))]
    if cuts:
        text = text[: min(cuts)]
    text = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))
    return _SEPARATOR_RE.sub("", text).rstrip()


# -- signatures ------------------------------------------------------------------------------------------
_CLOSINGS = (
    "best regards", "kind regards", "warm regards", "regards", "best wishes", "many thanks", "thanks and regards",
    "cordialement", "bien cordialement", "bien à vous", "salutations", "meilleures salutations",
    "mit freundlichen grüßen", "mit freundlichen grüssen", "freundliche grüße", "freundliche grüsse",
    "viele grüße", "viele grüsse", "beste grüße", "beste grüsse", "liebe grüße",
    "saludos", "un saludo", "saludos cordiales", "atentamente", "cordialmente",
    "met vriendelijke groet", "met vriendelijke groeten", "vriendelijke groeten", "groeten", "mvg",
    "cordiali saluti", "distinti saluti", "saluti",
    "thanks", "thank you", "thanks a lot", "thanks in advance", "best", "cheers", "merci", "merci d'avance",
    "danke", "vielen dank", "gracias", "grazie", "bedankt", "alvast bedankt",
)  # fmt: skip
_CLOSING_RE = re.compile(
    r"^[ \t]*(?:" + "|".join(re.escape(c) for c in sorted(_CLOSINGS, key=len, reverse=True)) + r")"
    r"[ \t]*(?:[,.!]|,[ \t]*[^\n]{1,40})?[ \t]*$",  # "Best regards," or "Best regards, Anna"
    re.IGNORECASE | re.MULTILINE,
)
_MOBILE_RE = re.compile(
    r"^[ \t]*(?:Sent from my|Sent from Outlook|Get Outlook for|Envoyé de mon|Envoyé depuis|Von meinem"
    r"|Gesendet von|Enviado desde mi|Verzonden vanaf mijn|Verstuurd vanaf mijn|Inviato da)\b[^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
_DASHES_RE = re.compile(r"^-- ?$", re.MULTILINE)
SIGNATURE_MAX_LINES = 8
SIGNATURE_MAX_LINE_LENGTH = 80


def cut_signature(text):
    """The text without its signature: from a "-- " line, from "Sent from my iPhone" and its kind, or
    from a closing ("Best regards", "Cordialement", "Mit freundlichen Grüßen", "Saludos" ...) alone on its
    line when at most a few short lines follow it (a closing in the middle of a long text is kept).

    >>> cut_signature("Please deliver on Friday.\\n\\nKind regards,\\nAnna Smith\\nPurchasing\\n+1 415 555 0132")
    'Please deliver on Friday.'
    >>> cut_signature("Bitte liefern.\\n\\nMit freundlichen Grüßen\\nAnna")
    'Bitte liefern.'
    >>> cut_signature("Yes.\\nSent from my iPhone")
    'Yes.'
    >>> cut_signature("Can you deliver on Friday?\\n\\nThanks,\\nTom Baker\\nBaker's Deli")
    'Can you deliver on Friday?'
    """
    cuts = [m.start() for regex in (_DASHES_RE, _MOBILE_RE) if (m := regex.search(text))]
    for match in _CLOSING_RE.finditer(text):
        rest = [line for line in text[match.end() :].split("\n") if line.strip()]
        if len(rest) <= SIGNATURE_MAX_LINES and all(len(line) <= SIGNATURE_MAX_LINE_LENGTH for line in rest):
            cuts.append(match.start())
            break
    if cuts:
        text = text[: min(cuts)]
    return text.rstrip()


def normalise_whitespace(text):
    """One space between words, no trailing spaces, at most one empty line in a row, no blank edges.

    >>> normalise_whitespace("  Hello\\xa0 there \\r\\n\\r\\n\\r\\n\\tS00042  ")
    'Hello there\\n\\nS00042'
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[^\S\n]+", " ", text)  # every blank but the line break, non-breaking spaces too
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def clean_body(body, is_html=True):
    """The new text of a mail body, ready to be classified: HTML turned into text, quoted history and
    signature cut, whitespace tidied.

    >>> clean_body("Please send 40 cases of A12.\\n\\n-- \\nAnna\\n\\n> earlier mail", is_html=False)
    'Please send 40 cases of A12.'
    >>> clean_body("") == clean_body(None) == ""
    True
    """
    text = html_to_text(body) if is_html else (body or "")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = cut_history(text)
    text = cut_signature(text)
    return normalise_whitespace(text)


# -- language --------------------------------------------------------------------------------------------
_STOP_WORDS = {
    "en": """the and of to is are was were for with on at by this that these those it you we our your please
        could would can will have has not from be been as an or but if there which what when do does did my me i
        us they them all any thanks thank a in""",
    "fr": """le la les un une des du de et est sont pour dans avec sur pas ne nous vous je il elle ils que qui ce
        cette ces mais ou au aux votre vos notre nos merci bonjour être avoir a à été très par plus se sa son
        leur y en plaît""",
    "de": """der die das und ist sind nicht mit für auf ein eine einen einem den dem des zu im von wir sie ich
        es bitte danke uns ihr ihre unser unsere auch noch aber oder wie wenn dass bei nach aus hat haben wird
        werden kann können schon hallo sehr geehrte geehrter guten tag vielen dank in""",
    "es": """el la los las un una unos de del y es son está están en para por con que no nos su sus nuestro
        nuestra al lo le les se como pero o muy gracias hola favor buenos días usted ustedes este esta estos hay
        ya también fue ha han más""",
    "nl": """de het een en is zijn van voor met op niet wij we u uw ons onze ik dat die dit deze er maar of om
        aan te naar ook nog graag bedankt dank alvast hebben heeft wordt worden kunnen kunt zou bij als wat hoe
        geen al mijn jullie in""",
    "it": """il lo la i gli le un una uno di del della dei e è sono per con su non che ci noi voi io ma o anche
        come questo questa nostro nostra vostro grazie buongiorno cordiali saluti gentile molto ha hanno essere
        al alla nel nella da dal più sia se in""",
}
_LANGUAGES_OF = {}
for _lang, _words in _STOP_WORDS.items():
    for _word in _words.split():
        _LANGUAGES_OF.setdefault(_word, set()).add(_lang)
MIN_WORDS = 4
MIN_SCORE = 1.5
MIN_LEAD = 1.5  # the best language must score this many times the second one


def detect_language(text):
    """The ISO 639-1 code of the language of ``text`` among en, fr, de, es, nl, it, or None when unsure.

    Each common word found adds to the languages it belongs to, shared words (``de``, ``la``, ``in``) less
    than words of one language only.

    >>> detect_language("Pouvez-vous nous envoyer la facture de la dernière commande ?")
    'fr'
    >>> detect_language("Können Sie uns bitte die Rechnung der letzten Bestellung schicken?")
    'de'
    >>> detect_language("¿Nos puede enviar la factura del último pedido, por favor?")
    'es'
    >>> detect_language("Kunt u ons de factuur van de laatste bestelling sturen?")
    'nl'
    >>> detect_language("Potete inviarci la fattura dell'ultimo ordine, per favore? Grazie")
    'it'
    >>> detect_language("S00042 40 cases") is None
    True
    """
    words = re.findall(r"[^\W\d_]+", (text or "").lower())
    if len(words) < MIN_WORDS:
        return None
    scores = dict.fromkeys(LANGUAGES, 0.0)
    for word in words:
        languages = _LANGUAGES_OF.get(word, ())
        for lang in languages:
            scores[lang] += 1 / len(languages)
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, score), (_second, runner_up) = ranked[0], ranked[1]
    if score < MIN_SCORE or score < MIN_LEAD * runner_up:
        return None
    return best
