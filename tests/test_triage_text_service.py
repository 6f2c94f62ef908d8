"""The text of inbound mails before classification (distribution_ai_triage/services): redaction of
personal data, cleaning of the body (HTML, quoted history, signatures), language detection."""

import doctest
import time

import pytest

from .services import load_service

redaction = load_service("distribution_ai_triage", "redaction")
mailtext = load_service("distribution_ai_triage", "mailtext")
redact = redaction.redact
clean_body = mailtext.clean_body
detect_language = mailtext.detect_language


@pytest.mark.parametrize("module", [redaction, mailtext], ids=["redaction", "mailtext"])
def test_doctests(module):
    failures, tried = doctest.testmod(module)
    assert tried > 5 and failures == 0


# -- redaction: placeholders and counts ----------------------------------------------------------
def test_placeholders_are_numbered_per_kind_and_repeat_for_the_same_value():
    text = (
        "From anna@shop.example and bob@shop.example; again ANNA@shop.example. "
        "Call +32 470 12 34 56 or +33 1 42 68 53 00, or +32470123456 again."
    )
    result = redact(text)
    assert result.text == (
        "From [EMAIL_1] and [EMAIL_2]; again [EMAIL_1]. Call [PHONE_1] or [PHONE_2], or [PHONE_1] again."
    )
    assert result.counts == {"email": 3, "phone": 3}


def test_nothing_to_redact():
    result = redact("Please ship 40 cases of A12 on Friday.")
    assert result.text == "Please ship 40 cases of A12 on Friday."
    assert result.counts == {}
    assert redact(None).text == ""


def test_every_kind_in_one_mail():
    text = (
        "Hello, this is Jan Peeters (jan.peeters@acme.example, 0470 12 34 56). "
        "Please refund to BE71 0961 2345 6769, not card 4111 1111 1111 1111. Jan"
    )
    result = redact(text, names=["Jan Peeters", "Jan"], region="BE")
    assert result.text == (
        "Hello, this is [NAME_1] ([EMAIL_1], [PHONE_1]). Please refund to [IBAN_1], not card [CARD_1]. [NAME_2]"
    )
    assert result.counts == {"name": 2, "email": 1, "phone": 1, "iban": 1, "card": 1}


# -- redaction: what routing needs stays -----------------------------------------------------------
@pytest.mark.parametrize("region", ["US", "BE", "FR", "DE", "GB", "ES", "NL", None])
@pytest.mark.parametrize(
    "text",
    [
        "Order S00042 is late",
        "Our PO-2026-0042 and PO 20260042",
        "Picking WH/OUT/00014 left",
        "Invoice INV/2026/00017 is wrong",
        "Bill BILL/2026/11/0003 and credit note RINV/2026/00002",
        "Delivered on 2026-11-30, 30/11/2026, 30.11.2026, 11/30/2026",
        "We need 40 cases, 1200 units, 12 pallets of 48",
        "Total 12,500.50 EUR, 1.250,00 €, $1,250.00",
        "Lot 20261130-0042, barcode 5410013101006",
    ],
)
def test_references_dates_quantities_and_amounts_stay(text, region):
    result = redact(text, region=region)
    assert result.text == text
    assert result.counts == {}


def test_a_reference_is_not_a_name_or_a_phone_even_next_to_one():
    result = redact("S00042 for Jan, call 0470 12 34 56 about WH/OUT/00014", names=["Jan"], region="BE")
    assert result.text == "S00042 for [NAME_1], call [PHONE_1] about WH/OUT/00014"


# -- redaction: IBANs and cards ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "iban",
    [
        "BE71 0961 2345 6769",
        "BE71096123456769",
        "DE89370400440532013000",
        "DE89 3704 0044 0532 0130 00",
        "be71 0961 2345 6769",
    ],
)
def test_valid_iban_is_redacted(iban):
    result = redact(f"Please pay to {iban} today.")
    assert result.text == "Please pay to [IBAN_1] today."
    assert result.counts == {"iban": 1}


def test_ibans_of_other_lengths():
    text = "NO93 8601 1117 947, GB82 WEST 1234 5698 7654 32 and FR76 3000 6000 0112 3456 7890 189."
    assert redact(text).text == "[IBAN_1], [IBAN_2] and [IBAN_3]."


def test_spaced_and_compact_iban_are_one_value():
    assert redact("BE71 0961 2345 6769 = BE71096123456769").text == "[IBAN_1] = [IBAN_1]"


@pytest.mark.parametrize("text", ["BE71 0961 2345 6760", "DE89370400440532013001", "XX12 3456 7890 1234"])
def test_invalid_iban_is_left_alone(text):
    assert redact(f"Account {text}.").text == f"Account {text}."


@pytest.mark.parametrize(
    "card", ["4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "3782 822463 10005", "5555555555554444"]
)
def test_luhn_valid_card_is_redacted(card):
    result = redact(f"My card {card} expires soon.")
    assert result.text == "My card [CARD_1] expires soon."
    assert result.counts == {"card": 1}


def test_card_followed_by_a_quantity_is_redacted_alone():
    assert redact("Card 4111 1111 1111 1111 40 cases").text == "Card [CARD_1] 40 cases"


@pytest.mark.parametrize("number", ["4111 1111 1111 1112", "1234567890123456", "1234-5678-9012-3456"])
def test_non_luhn_sixteen_digits_are_left_alone(number):
    assert redact(f"Number {number}.").text == f"Number {number}."


# -- redaction: phones ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "phone",
    ["+32 2 555 12 34", "+33 1 42 68 53 00", "+49 30 901820", "+44 20 7946 0958", "+1 (415) 555-0132"],
)
def test_international_phone_is_redacted_whatever_the_region(phone):
    for region in ("US", "BE", None):
        result = redact(f"Call me on {phone} please", region=region)
        assert result.text == "Call me on [PHONE_1] please", (phone, region)


@pytest.mark.parametrize(
    ("phone", "region"),
    [
        ("(415) 555-0132", "US"),
        ("415.555.0132", "US"),
        ("0470 12 34 56", "BE"),
        ("02/555.12.34", "BE"),
        ("0032 2 555 12 34", "BE"),  # 00: the international prefix dialled from Belgium
        ("01 42 68 53 00", "FR"),
        ("030 901820", "DE"),
        ("020 7946 0958", "gb"),
    ],
)
def test_national_phone_is_redacted_in_its_region(phone, region):
    result = redact(f"Call me on {phone} please", region=region)
    assert result.text == "Call me on [PHONE_1] please"
    assert result.counts == {"phone": 1}


@pytest.mark.parametrize(
    "text",
    ["Order no. 4155550132", "PO# 4155550132", "ticket 4155550132", "our order #4155550132", "REF-4155550132"],
)
def test_digits_after_a_document_word_are_not_a_phone(text):
    assert redact(text).text == text


def test_a_formatted_phone_after_a_document_word_is_still_a_phone():
    assert redact("Order: (415) 555-0132, call 4155550132").text == "Order: [PHONE_1], call [PHONE_1]"


def test_same_phone_in_two_formats_is_one_value():
    assert redact("0470 12 34 56 or +32 470 12 34 56", region="BE").text == "[PHONE_1] or [PHONE_1]"


# -- redaction: names and e-mails --------------------------------------------------------------------
def test_names_are_whole_words_and_case_insensitive():
    result = redact(
        "Dear JAN PEETERS, jan here. Janssen and Jane stay; Peeters alone too.", names=["Jan Peeters", "jan"]
    )
    assert result.text == "Dear [NAME_1], [NAME_2] here. Janssen and Jane stay; Peeters alone too."
    assert result.counts == {"name": 2}


def test_name_across_a_line_break_and_empty_names():
    assert redact("Anna\nSmith", names=["Anna Smith", "", "  "]).text == "[NAME_1]"


def test_a_name_inside_an_email_address_is_the_address():
    assert redact("anna@shop.example", names=["anna"]).text == "[EMAIL_1]"


@pytest.mark.parametrize(
    "email", ["john.doe+orders@mail.acme-foods.co.uk", "o'brien@shop.ie", "ORDERS@DIST.EXAMPLE", "jürgen@bäcker.de"]
)
def test_email_is_redacted(email):
    assert redact(f"<{email}>.").text == "<[EMAIL_1]>."


@pytest.mark.parametrize("text", ["a@b", "foo@bar.", "@home", "user@", "10 @ 4.50"])
def test_not_an_email(text):
    assert redact(text).counts == {}


@pytest.mark.parametrize(
    "text",
    [
        "A" + "1a" * 5000 + "_",  # a long word that is almost a reference
        ("AB12" + "C1" * 20 + "_ ") * 200,  # almost IBANs
        "a" * 5000 + "@" + "b" * 5000,
        "1 " * 5000 + "a",
        "-1" * 5000 + "_",
    ],
    ids=["reference", "iban", "email", "digits", "dashes"],
)
def test_pathological_text_is_handled_quickly(text):
    started = time.monotonic()
    redact(text, names=["Anna"])
    clean_body(text)
    clean_body(text, is_html=False)
    assert time.monotonic() - started < 3


# -- mail body ---------------------------------------------------------------------------------------
GMAIL = """<div dir="ltr"><div>Hi team,</div><div><br></div>
<div>Please add 40 cases of A12 to order S00042.</div>
<div>Delivery to WH/OUT/00014 on Friday.</div><br>
<div>Kind regards,</div><div>Anna</div><div><br></div>
<span class="gmail_signature_prefix">-- </span><br>
<div dir="ltr" class="gmail_signature"><div>Anna Smith | Buyer<br>+1 415 555 0132</div></div></div><br>
<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, Nov 30, 2026 at 10:00 AM Order Desk
&lt;orders@dist.example&gt; wrote:<br></div>
<blockquote class="gmail_quote" style="margin:0px"><div>Your order S00042 is confirmed.</div></blockquote></div>"""


def test_gmail_html_is_reduced_to_the_new_text():
    assert clean_body(GMAIL) == (
        "Hi team,\n\nPlease add 40 cases of A12 to order S00042.\nDelivery to WH/OUT/00014 on Friday."
    )


def test_html_paragraphs_breaks_entities_and_styles():
    html = (
        "<html><head><style>p {margin: 0}</style><title>x</title></head><body>"
        "<p>Hello&nbsp;team,</p><p>line one<br/>line&amp;two</p><script>alert(1)</script>"
        "<ul><li>caf&eacute; &amp; th&#233;</li><li>B7 &lt;2&gt;</li></ul></body></html>"
    )
    assert clean_body(html) == "Hello team,\n\nline one\nline&two\n\ncafé & thé\nB7 <2>"


def test_apple_mail_blockquote_is_left_out():
    html = "<div>Yes, confirmed.</div><div><br><blockquote type='cite'><div>Can you confirm?</div></blockquote></div>"
    assert clean_body(html) == "Yes, confirmed."


OUTLOOK_HTML = """<html><body><div class="WordSection1">
<p class="MsoNormal">Hello,<o:p></o:p></p>
<p class="MsoNormal">INV/2026/00017 is wrong: we received 38 cases, not 40.<o:p></o:p></p>
<div><div style="border:none;border-top:solid #E1E1E1 1.0pt">
<p class="MsoNormal"><b>From:</b> Order Desk &lt;orders@dist.example&gt;<br><b>Sent:</b> Monday, November 30,
2026 10:00 AM<br><b>To:</b> Anna<br><b>Subject:</b> Invoice INV/2026/00017</p></div></div>
<p class="MsoNormal">Dear Anna, please find the invoice attached.</p></div></body></html>"""


def test_outlook_html_header_block_is_cut():
    assert clean_body(OUTLOOK_HTML) == "Hello,\n\nINV/2026/00017 is wrong: we received 38 cases, not 40."


@pytest.mark.parametrize(
    "history",
    [
        "________________________________\nFrom: Order Desk <orders@dist.example>\nSent: Monday, 30 November 2026"
        "\nTo: Anna\nSubject: RE: S00042\n\nold text",
        "-----Original Message-----\nFrom: Order Desk\nSent: Monday\n\nold text",
        "From: Order Desk <orders@dist.example>\nDate: Mon, 30 Nov 2026 10:00\nSubject: S00042\n\nold text",
        "De : Order Desk <orders@dist.example>\nEnvoyé : lundi 30 novembre 2026 10:00\nÀ : Anna\n\nold text",
        "Von: Order Desk <orders@dist.example>\nGesendet: Montag, 30. November 2026 10:00\n\nold text",
        "On Mon, Nov 30, 2026 at 10:00 AM Order Desk <orders@dist.example> wrote:\n> old text",
        "On Mon, Nov 30, 2026 at 10:00 AM Order Desk <\norders@dist.example> wrote:\n\n> old text",
        "Le lun. 30 nov. 2026 à 10:00, Order Desk <orders@dist.example> a écrit :\n> old text",
        "Le lun. 30 nov. 2026 à 10:00, Order Desk <orders@dist.example> a\nécrit :\n> old text",
        "Am 30.11.2026 um 10:00 schrieb Order Desk <orders@dist.example>:\n> old text",
        "El lun, 30 nov 2026 a las 10:00, Order Desk (<orders@dist.example>) escribió:\n> old text",
        "Op ma 30 nov. 2026 om 10:00 schreef Order Desk <orders@dist.example>:\n> old text",
        "> old text\n> more old text",
    ],
)
def test_quoted_history_is_cut(history):
    body = f"Please deliver S00042 on Friday.\n\n{history}"
    assert clean_body(body, is_html=False) == "Please deliver S00042 on Friday."


def test_inline_quoted_lines_are_dropped_and_answers_kept():
    body = "> How many cases?\n40 cases.\n> Which depot?\nWH/OUT/00014 as usual."
    assert clean_body(body, is_html=False) == "40 cases.\nWH/OUT/00014 as usual."


@pytest.mark.parametrize(
    "signature",
    [
        "-- \nAnna Smith\nBuyer, Shop Inc.\n+1 415 555 0132",
        "--\nAnna",
        "Best regards,\nAnna Smith\nBuyer",
        "Kind regards, Anna",
        "Cordialement,\nMarie Dupont\nAcheteuse",
        "Mit freundlichen Grüßen\nHans Müller\nEinkauf",
        "Saludos\nJuan",
        "Met vriendelijke groet,\nPiet",
        "Sent from my iPhone",
        "Envoyé de mon iPhone",
    ],
)
def test_signature_is_cut(signature):
    body = f"Please deliver S00042 on Friday.\n\n{signature}"
    assert clean_body(body, is_html=False) == "Please deliver S00042 on Friday."


def test_closing_before_a_long_text_is_kept():
    rest = "\n".join(
        f"Line {i}: the delivery of order S0004{i} was short by two cases of A12 again." for i in range(10)
    )
    body = f"Regards,\n{rest}"
    assert clean_body(body, is_html=False) == body


def test_closing_words_inside_a_sentence_are_kept():
    body = "Regards to your team: we need 40 cases.\nAnna"
    assert clean_body(body, is_html=False) == body


def test_signature_then_history():
    body = "Yes.\r\n\r\nBest regards\r\nJohn\r\n\r\n-----Original Message-----\r\nFrom: Desk\r\nSent: Mon\r\n\r\nold"
    assert clean_body(body, is_html=False) == "Yes."


def test_whitespace_is_normalised():
    body = "  Hello\t\tteam ,  \n\n\n\n please   ship\xa0S00042.  \n"
    assert clean_body(body, is_html=False) == "Hello team ,\n\nplease ship S00042."
    assert clean_body("") == clean_body(None) == ""


# -- language ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hello, can you please send us the tracking number for our order?", "en"),
        ("The delivery of order S00042 is late.", "en"),
        ("Bonjour, pouvez-vous nous envoyer le numéro de suivi de notre commande ?", "fr"),
        ("La livraison de la commande S00042 est en retard.", "fr"),
        ("Hallo, können Sie uns bitte die Sendungsnummer für unsere Bestellung schicken?", "de"),
        ("Die Lieferung der Bestellung S00042 ist verspätet.", "de"),
        ("Hola, ¿nos puede enviar el número de seguimiento de nuestro pedido?", "es"),
        ("La entrega del pedido S00042 está retrasada.", "es"),
        ("Kunnen jullie ons het trackingnummer van onze bestelling sturen?", "nl"),
        ("Potete inviarci il numero di tracciamento del nostro ordine?", "it"),
    ],
)
def test_language_of_short_samples(text, language):
    assert detect_language(text) == language


@pytest.mark.parametrize("text", ["", None, "OK", "Thanks!", "S00042", "Order S00042 40 cases", "ok merci bien"])
def test_language_is_none_when_unsure(text):
    assert detect_language(text) is None


def test_language_of_a_cleaned_body():
    assert detect_language(clean_body(GMAIL)) == "en"
