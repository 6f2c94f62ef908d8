from email.message import EmailMessage

from odoo import fields
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import TriageCase


def raw_email(subject, html, sender="Anna Peeters <anna.peeters@acme-foods.example>", message_id=None, reply_to=None):
    """An RFC 822 e-mail as a mail server hands it over: HTML and text parts, a quoted reply, a PDF."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "orders@example.com"
    mail["Subject"] = subject
    mail["Message-Id"] = message_id or f"<{abs(hash((subject, html)))}@acme-foods.example>"
    if reply_to:
        mail["In-Reply-To"] = reply_to
        mail["References"] = reply_to
    mail.set_content("see the HTML part")
    mail.add_alternative(html, subtype="html")
    mail.add_attachment(b"%PDF-1.4 delivery note", maintype="application", subtype="pdf", filename="note.pdf")
    return mail.as_string()


@tagged("post_install", "-at_install")
class TestGateway(TriageCase):
    """An e-mail through Odoo's own mail gateway: stored and queued, never classified on the way in."""

    def test_message_process_stores_and_queues(self):
        self._provider("openai_chat")
        self.server.reset()
        html = (
            "<div>Hello,<br>where is our order <b>ACME-PO-7781</b>? We need the tracking number.</div>"
            "<div>-- <br>Anna Peeters<br>Purchasing, Acme Foods<br>+32 470 12 34 56</div>"
            "<blockquote>On Monday, Desk wrote:<br>Your order is confirmed.</blockquote>"
        )
        res_id = self.env["mail.thread"].message_process(
            "distribution.triage.message", raw_email("Order ACME-PO-7781", html)
        )
        message = self.Message.browse(res_id)
        self.assertEqual(message.state, "pending")
        self.assertEqual(self.server.requests, [], "the gateway never calls a classifier")
        self.assertEqual(message.partner_id, self.anna)
        self.assertEqual(message.commercial_partner_id, self.acme)
        self.assertEqual(message.partner_match, "email")
        self.assertEqual(message.attachment_count, 1)
        self.assertEqual(message.language, "en")
        self.assertIn("where is our order ACME-PO-7781", message.body_text)
        self.assertNotIn("Your order is confirmed", message.body_text, "the quoted history is cut")
        self.assertNotIn("+32 470", message.body_text, "the signature is cut")
        self._classify()
        self.assertEqual(message.suggested_label_id, self.label_order_status)
        self.assertIn(self.acme_order, message.sale_order_ids, "the order named by its customer reference is linked")

        # The customer's reply lands on the same record.
        reply = raw_email(
            "Re: Order ACME-PO-7781",
            "<p>Any news?</p>",
            message_id="<reply-1@acme-foods.example>",
            reply_to=message.message_ids[-1].message_id,
        )
        self.assertEqual(self.env["mail.thread"].message_process("distribution.triage.message", reply), message.id)
        self.assertEqual(self.Message.search_count([("id", "!=", message.id), ("name", "like", "ACME-PO-7781")]), 0)

    def test_sender_matched_by_domain_never_by_public_domain(self):
        message = self._message("Where is my order?", email_from="new.buyer@acme-foods.example")
        self.assertEqual((message.commercial_partner_id, message.partner_match), (self.acme, "domain"))
        self.env["res.partner"].create({"name": "Gmail user", "email": "someone@gmail.com"})
        message = self._message("Where is my order?", email_from="else@gmail.com")
        self.assertFalse(message.commercial_partner_id)
        # A "_" in the sender's domain is a character: x_y.example names nobody at xay.example.
        self.env["res.partner"].create({"name": "Xay buyer", "email": "buyer@xay.example", "is_company": True})
        message = self._message("Where is my order?", email_from="someone@x_y.example")
        self.assertFalse(message.commercial_partner_id, "a domain is compared whole, not as a pattern")


@tagged("post_install", "-at_install")
class TestRoutingAndLinks(TriageCase):
    def setUp(self):
        super().setUp()
        self.server.mode = "good"

    def test_routed_message_gets_owner_activity_links_and_exception(self):
        self.label_shortage_escalation.user_id = self.desk
        self._provider("openai_chat")
        self.server.answers = {"short shipped": ("shortage_escalation", 0.95)}
        message = self._message(
            f"We were short shipped on {self.acme_order.name}: 40 cases missing. "
            f"Also {self.other_order.name} and BISTRO-1 of another customer."
        )
        self._classify()
        self.assertEqual((message.state, message.decision_reason), ("routed", "auto_routed"))
        self.assertEqual(message.user_id, self.desk)
        self.assertEqual(message.activity_ids.user_id, self.desk)
        self.assertEqual(message.sale_order_ids, self.acme_order, "never another customer's order")
        self.assertEqual(message.exception_id.category, "stock_shortage")
        self.assertEqual(message.exception_id.severity, "high")
        run = self.env["distribution.workflow.run"].search(
            [("res_model", "=", message._name), ("res_id", "=", message.id)]
        )
        self.assertEqual((run.workflow_id.code, run.reason), ("ai_triage", "auto_routed"))
        self.assertEqual(self.acme_order.state, "draft", "the triage changes no order")

    def test_below_threshold_waits_for_review(self):
        self._provider("openai_chat")
        self.server.answers = {"something odd": ("delivery_reschedule", 0.4)}
        message = self._message("Something odd, let us talk.")  # no rule matches: the chat's 0.4 alone
        self._classify()
        self.assertEqual((message.state, message.decision_reason), ("needs_review", "below_threshold"))
        self.assertFalse(message.activity_ids)
        self.assertFalse(message.exception_id)

    def test_invoice_dispute_contested_goes_to_review_and_stays_with_its_owner(self):
        accountant = self.env.ref("base.user_admin")
        self.label_invoice_dispute.user_id = accountant
        self._provider("openai_chat")
        # The chat says order status, the rules see a dispute: a sensitive label contested -> a person.
        self.server.answers = {"credit note": ("order_status", 0.9)}
        message = self._message("Please issue a credit note, you overcharged us on the last invoice.")
        self._classify()
        self.assertEqual((message.state, message.decision_reason), ("needs_review", "disagreement"))
        message.with_user(self.desk).action_correct(self.label_invoice_dispute.id)
        self.assertEqual(message.user_id, accountant, "a dispute goes to its own owner")
        # Routed only to its owner: without one, never to the customer's salesperson.
        self.label_invoice_dispute.user_id = False
        self.label_invoice_dispute.group_id = False
        self.assertEqual(self.Message._owner_for.__name__, "_owner_for")
        owner, team = message._owner_for(self.label_invoice_dispute)
        self.assertFalse(owner or team)

    def test_redaction_before_anything_leaves(self):
        self._provider("openai_chat")
        self.server.reset()
        message = self._message(
            "Anna Peeters here, call me on +32 470 12 34 56 or write to anna.peeters@acme-foods.example. "
            "Pay the refund to BE71 0961 2345 6769, card 4111 1111 1111 1111. Order ACME-PO-7781."
        )
        self._classify()
        sent = next(r[2] for r in self.server.requests if r[0] == "/v1/chat/completions")["messages"][1]["content"]
        for secret in ("anna.peeters@", "470 12 34 56", "BE71", "4111 1111", "Peeters"):
            self.assertNotIn(secret, sent)
        self.assertIn("ACME-PO-7781", sent, "references stay: routing needs them")
        logged = message.call_ids.input_excerpt
        self.assertNotIn("anna.peeters@", logged)
        self.assertNotIn("BE71", logged)

    def test_external_providers_only_when_allowed(self):
        external = self._provider("openai_chat", base_url="http://192.0.2.10/v1", timeout=0.2)
        self.company.distribution_triage_send_external = False
        message = self._message("Where is my order? tracking please")
        self._classify()
        self.assertFalse(message.call_ids.filtered(lambda c: c.provider_id == external), "not even asked")
        self.assertFalse(message.fallback_used, "switched off is configuration, not an outage")
        self.company.distribution_triage_send_external = True
        message = self._message("Where is my order? tracking again")
        self._classify()
        self.assertTrue(message.call_ids.filtered(lambda c: c.provider_id == external).error)
        self.assertTrue(message.fallback_used)


@tagged("post_install", "-at_install")
class TestReviewAndLearning(TriageCase):
    def test_correction_becomes_an_example_and_counts_in_agreement(self):
        provider = self._provider("openai_embeddings", margin_low=0.0, margin_high=0.05)
        self.server.mode = "good"
        message = self._message("Kindly move the drop at the Ghent depot, the dock is closed on Thursday.")
        self._classify()
        self.assertIn(message.state, ("needs_review", "routed"))
        wrong = message.suggested_label_id
        target = self.label_delivery_reschedule if wrong != self.label_delivery_reschedule else self.label_other
        before = self.env["distribution.triage.example"].search_count([("label_id", "=", target.id)])
        message.with_user(self.desk).write({"correction_label_id": target.id})
        message.with_user(self.desk).action_correct()
        self.assertEqual((message.state, message.review_outcome, message.label_id), ("reviewed", "corrected", target))
        self.assertEqual(message.reviewed_by_id, self.desk)
        example = self.env["distribution.triage.example"].search([("message_id", "=", message.id)])
        self.assertEqual((example.label_id, example.source, example.user_id), (target, "correction", self.desk))
        self.assertEqual(example.company_id, self.company)
        self.assertNotIn("Peeters", example.text, "the example keeps the redacted text")
        self.assertEqual(
            self.env["distribution.triage.example"].search_count([("label_id", "=", target.id)]), before + 1
        )
        # The embeddings provider now compares new messages with the correction too.
        self.server.reset()
        again = self._message("Kindly move the drop at the Ghent depot, the dock is closed on Thursday.")
        self._classify()
        self.assertIn(provider._cache_key(), example.embedding_cache)
        self.assertEqual(again.suggested_label_id, target, "the desk's correction decides the same message")
        self.assertIn(example, again.evidence_example_ids)
        # Agreement: one correction reviewed, none accepted.
        figures = self.env["distribution.workflow.run"]._triage_figures()
        self.assertEqual((figures["reviewed"], figures["agreement_rate"]), (1, 0.0))
        again.with_user(self.desk).action_accept() if again.state in ("needs_review", "routed") else None
        figures = self.env["distribution.workflow.run"]._triage_figures()
        self.assertEqual(figures["agreement_rate"], 50.0)
        target.invalidate_recordset()
        self.assertEqual(target.reviewed_30d, 1)

    def test_accept_routes_a_waiting_message(self):
        self.label_order_status.user_id = self.desk
        self._provider("openai_chat")
        self.server.mode = "good"
        self.server.answers = {"quick question": ("order_status", 0.5)}
        message = self._message("Quick question about ACME-PO-7781")
        self._classify()
        self.assertEqual(message.state, "needs_review")
        message.with_user(self.desk).action_accept()
        self.assertEqual((message.state, message.review_outcome, message.user_id), ("reviewed", "accepted", self.desk))
        self.assertTrue(message.activity_ids)
        with self.assertRaises(UserError):
            message.with_user(self.desk).action_accept()


@tagged("post_install", "-at_install")
class TestTriageSecurity(TriageCase):
    def test_desk_cannot_forge_the_decision_nor_read_secrets(self):
        provider = self._provider("openai_chat", api_key="sk-very-secret")
        self.server.mode = "good"
        message = self._message("Where is my order? tracking please")
        self._classify()
        as_desk = message.with_user(self.desk)
        for vals in (
            {"state": "reviewed"},
            {"review_outcome": "accepted"},
            {"suggested_label_id": self.label_other.id},
            {"confidence": 1.0},
            {"decision_reason": "auto_routed"},
            {"label_id": self.label_other.id},
        ):
            with self.subTest(vals=vals), self.assertRaises(AccessError):
                as_desk.with_context(distribution_triage=True).write(vals)
        as_desk.write({"user_id": self.desk.id})  # the owner is the desk's to set
        with self.assertRaises(AccessError):
            provider.with_user(self.desk).read(["name"])
        with self.assertRaises(AccessError):
            provider.with_user(self.manager).read(["api_key"])
        self.assertTrue(provider.with_user(self.manager).has_api_key)
        with self.assertRaises(AccessError):
            self.env["distribution.ai.call"].with_user(self.desk).search([])
        self.assertTrue(self.env["distribution.ai.call"].with_user(self.manager).search([]))
        with self.assertRaises(AccessError):
            self.Message.with_user(self.salesman).search([])

    def test_second_company_sees_nothing_of_the_first(self):
        self._provider("openai_chat")
        self.server.mode = "good"
        message = self._message("Where is my order? tracking please")
        self._classify()
        other = self.env["res.company"].create({"name": "Triage Second Co"})
        outsider = self.env["res.users"].create(
            {
                "name": "Second desk",
                "login": "triage_second_desk",
                "company_id": other.id,
                "company_ids": [(6, 0, other.ids)],
                "groups_id": [(6, 0, [self.env.ref("distribution_observability.group_distribution_manager").id])],
            }
        )
        self.assertFalse(self.Message.with_user(outsider).search([("id", "=", message.id)]))
        self.assertFalse(self.env["distribution.ai.call"].with_user(outsider).search([]))
        self.assertFalse(self.Provider.with_user(outsider).search([]))
        self.assertFalse(
            self.env["distribution.triage.example"].with_user(outsider).search([("source", "=", "correction")])
        )
        self.assertTrue(self.Label.with_user(outsider).search([]), "the shipped labels are shared")


@tagged("post_install", "-at_install")
class TestReplyAndExceptions(TriageCase):
    def test_drafted_reply_states_the_real_promised_date(self):
        self.acme_order.commitment_date = fields.Datetime.to_datetime("2027-03-18 10:00:00")
        self.acme_order.action_confirm()
        self._provider("openai_chat")
        self.server.mode = "good"
        message = self._message("Where is my order ACME-PO-7781? tracking number please")
        self._classify()
        self.assertEqual(message.reply_order_id, self.acme_order)
        action = message.with_user(self.desk).action_draft_reply()
        composer = self.env["mail.compose.message"].with_user(self.desk).with_context(**action["context"]).create({})
        self.assertIn("03/18/2027", composer.body)
        self.assertIn(self.acme_order.name, composer.body)
        self.assertEqual(len(message.message_ids.filtered(lambda m: m.message_type == "comment")), 0, "not sent")

    def test_the_promised_date_is_the_customers_day(self):
        # 23:30 UTC on 18 March is already the 19th in Tokyo, where the customer reads the reply.
        self.acme_order.commitment_date = fields.Datetime.to_datetime("2027-03-18 23:30:00")
        self.acme_order.partner_id.tz = "Asia/Tokyo"
        self.acme_order.action_confirm()
        self._provider("openai_chat")
        self.server.mode = "good"
        message = self._message("Where is my order ACME-PO-7781? tracking number please")
        self._classify()
        self.assertEqual(message.reply_promised_date, fields.Date.to_date("2027-03-19"))
        # A customer without a time zone reads it in the drafting user's: 02:00 UTC on the 19th is still the
        # 18th in New York.
        self.acme_order.partner_id.tz = False
        message.partner_id.tz = False
        self.acme_order.commitment_date = fields.Datetime.to_datetime("2027-03-19 02:00:00")
        self.desk.tz = "America/New_York"
        message.invalidate_recordset(["reply_promised_date"])
        self.assertEqual(message.with_user(self.desk).reply_promised_date, fields.Date.to_date("2027-03-18"))

    def test_new_exception_gets_a_suggestion(self):
        self._provider("openai_chat")
        self.server.mode = "good"
        self.server.answers = {"pallet": ("shortage_escalation", 0.92)}
        exception = self.env["distribution.exception"]._raise_for(
            self.acme_order, "carrier_short", "other", "The carrier delivered one pallet short."
        )
        triage = self.Message.search([("res_model", "=", exception._name), ("res_id", "=", exception.id)])
        self.assertEqual((triage.source, triage.state), ("exception", "pending"), "queued by the automation rule")
        self._classify()
        self.assertEqual(exception.triage_label_id, self.label_shortage_escalation)
        self.assertEqual(exception.triage_severity, "high")
        self.assertEqual(exception.severity, "medium", "the exception itself is unchanged until a person applies it")
        self.assertEqual(triage.state, "closed")
        exception.action_apply_triage_suggestion()
        self.assertEqual(exception.severity, "high")
        with self.assertRaises(AccessError):
            exception.with_user(self.desk).write({"triage_severity": "low"})


@tagged("post_install", "-at_install")
class TestTriageOfRecords(TriageCase):
    def test_triage_server_action_on_a_sales_order(self):
        self._provider("openai_chat")
        self.server.mode = "good"
        self.acme_order.message_post(
            body="<p>Hello, the delivery of this order arrived short shipped: 6 cases missing.</p>",
            author_id=self.anna.id,
            message_type="comment",
        )
        action = self.env.ref("distribution_ai_triage.sale_order_action_distribution_triage")
        with self.assertRaises(AccessError):  # who asks must read the record
            action.with_user(self.desk).with_context(
                active_model="sale.order", active_id=self.acme_order.id, active_ids=self.acme_order.ids
            ).sudo(False).run()
        self.desk.groups_id |= self.env.ref("sales_team.group_sale_salesman_all_leads")
        action.with_user(self.desk).with_context(
            active_model="sale.order", active_id=self.acme_order.id, active_ids=self.acme_order.ids
        ).sudo(False).run()
        message = self.Message.search([("res_model", "=", "sale.order"), ("res_id", "=", self.acme_order.id)])
        self.assertEqual(
            (message.source, message.state, message.commercial_partner_id), ("record", "pending", self.acme)
        )
        self._classify()
        self.assertEqual(message.suggested_label_id, self.label_shortage_escalation)

    def test_a_reply_reopens_a_closed_message(self):
        message = self._message("Where is my order? tracking please")
        self._classify()
        message.with_user(self.desk).action_close()
        message.message_update({"body": "<p>Any news?</p>"})
        self.assertEqual(message.state, "reviewed")


@tagged("post_install", "-at_install")
class TestOneBrokenMessage(TriageCase):
    def test_a_message_that_cannot_be_routed_does_not_hold_up_the_batch(self):
        self._provider("openai_chat")
        self.server.mode = "good"
        self.server.answers = {"pallet": ("shortage_escalation", 0.95), "tracking": ("order_status", 0.95)}
        # A category the exception queue does not know (a label edited in the database, an addon removed).
        self.env.cr.execute(
            "UPDATE distribution_triage_label SET exception_category = 'vanished' WHERE id = %s",
            [self.label_shortage_escalation.id],
        )
        self.label_shortage_escalation.invalidate_recordset()
        broken = self._message("The pallet arrived short")
        fine = self._message("Please send the tracking number")
        self._classify()
        self.assertEqual((broken.state, broken.decision_reason), ("needs_review", "error"))
        self.assertEqual(fine.state, "routed")
        self.assertFalse(self.Message.search_count([("state", "=", "pending"), ("id", "in", (broken | fine).ids)]))
