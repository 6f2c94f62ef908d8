import logging
import time
from datetime import timedelta

from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import days
from odoo.addons.distribution_observability.services import verbs
from odoo.addons.distribution_orchestration.services.channel import like_literal
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tools import SQL
from odoo.tools import email_normalize
from odoo.tools.mail import email_split_and_format

from ..services import classify
from ..services import mailtext
from ..services import policy
from ..services import redaction
from ..services import references

_logger = logging.getLogger(__name__)

USER_GROUP = "distribution_observability.group_distribution_user"
MANAGER_GROUP = "distribution_observability.group_distribution_manager"
VERB = "distribution_triage"
CRON = "distribution_ai_triage.ir_cron_distribution_triage_classify"
STATES = [
    ("pending", "To Classify"),
    ("needs_review", "Needs Review"),
    ("routed", "Routed"),
    ("reviewed", "Reviewed"),
    ("closed", "Closed"),
]
REVIEWABLE = ("needs_review", "routed")
# Errors of a provider that count against its circuit breaker: it is down or talks nonsense.
BREAKER_REASONS = ("timeout", "connection", "bad_json", "empty", "unknown_label", "bad_confidence")
TEXT_FOR_CLASSIFIER = 8000


class DistributionTriageMessage(models.Model):
    """An inbound message to triage: an e-mail from the mail gateway, or a record someone asked to triage.
    It stores what the classifier needs and what it suggested; people accept or correct the suggestion,
    and their corrections teach the embeddings classifier. Nothing here changes an order, a price,
    stock or money."""

    _name = "distribution.triage.message"
    _description = "Triage Message"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "received_at desc, id desc"
    _mail_post_access = "read"

    name = fields.Char("Subject", required=True, default="/")
    email_from = fields.Char("From")
    partner_id = fields.Many2one("res.partner", "Sender", index="btree_not_null")
    commercial_partner_id = fields.Many2one("res.partner", "Customer / Vendor", index="btree_not_null")
    partner_match = fields.Selection(
        [("email", "By e-mail address"), ("domain", "By e-mail domain"), ("record", "From the record")],
        help="How the sender was recognised.",
    )
    body_text = fields.Text("Message", help="The new text of the message: HTML converted, history and signature cut.")
    received_at = fields.Datetime(default=fields.Datetime.now, required=True, index=True)
    attachment_count = fields.Integer("Attachments")
    language = fields.Char(help="The language of the text, when it could be told (ISO 639-1).")
    source = fields.Selection(
        [("email", "E-mail"), ("exception", "Exception"), ("record", "Record")],
        required=True,
        default="email",
    )
    res_model = fields.Char("Source Model", index="btree_not_null")
    res_id = fields.Many2oneReference("Source ID", model_field="res_model")
    state = fields.Selection(
        STATES, required=True, default="pending", tracking=True, index=True, group_expand="_group_expand_state"
    )
    label_id = fields.Many2one("distribution.triage.label", tracking=True, index="btree_not_null")
    suggested_label_id = fields.Many2one("distribution.triage.label", index="btree_not_null")
    confidence = fields.Float(help="How sure the classifier that answered was, from 0 to 1.")
    confidence_pct = fields.Integer("Confidence (%)", compute="_compute_confidence_pct")
    rationale = fields.Text(help="Why the classifier suggested the label.")
    provider_id = fields.Many2one("distribution.ai.provider", "Answered By", ondelete="set null")
    provider_kind = fields.Selection(
        [
            ("openai_chat", "Chat (OpenAI-compatible)"),
            ("openai_embeddings", "Embeddings (nearest examples)"),
            ("http_json", "HTTP JSON"),
            ("rules", "Rules"),
        ],
        "Classifier",
        help="The kind of classifier whose answer decided (the rules when every other failed).",
    )
    fallback_used = fields.Boolean(help="The providers before the one that answered failed or were unavailable.")
    second_label_id = fields.Many2one("distribution.triage.label", "Second Opinion")
    decision_reason = fields.Selection(
        [(code, code.replace("_", " ").capitalize()) for code in (*policy.REASONS, "no_labels", "error")],
        "Decision",
        index=True,
        help="Why the message was routed by itself, or why it waits for a person.",
    )
    evidence_example_ids = fields.Many2many(
        "distribution.triage.example", string="Nearest Examples", help="The labelled messages that decided it."
    )
    classified_at = fields.Datetime(index="btree_not_null")
    classification_ms = fields.Integer("Classification (ms)")
    attempts = fields.Integer(default=0)
    user_id = fields.Many2one("res.users", "Owner", tracking=True, index="btree_not_null")
    group_id = fields.Many2one("res.groups", "Team")
    sale_order_ids = fields.Many2many("sale.order", string="Sales Orders")
    purchase_order_ids = fields.Many2many("purchase.order", string="Purchase Orders")
    invoice_ids = fields.Many2many("account.move", string="Invoices")
    picking_ids = fields.Many2many("stock.picking", string="Transfers")
    document_count = fields.Integer(compute="_compute_document_count")
    exception_id = fields.Many2one("distribution.exception", ondelete="set null")
    correction_label_id = fields.Many2one(
        "distribution.triage.label", "Correct To", help="Pick the right label, then click Correct."
    )
    review_outcome = fields.Selection([("accepted", "Accepted"), ("corrected", "Corrected")], index=True)
    reviewed_by_id = fields.Many2one("res.users")
    reviewed_at = fields.Datetime(index="btree_not_null")
    call_ids = fields.One2many("distribution.ai.call", "message_id", "Classifier Calls")
    reply_order_id = fields.Many2one("sale.order", compute="_compute_reply_facts", string="Order Replied About")
    reply_status = fields.Char(compute="_compute_reply_facts")
    reply_promised_date = fields.Date(compute="_compute_reply_facts", string="Promised Date")
    reply_tracking = fields.Char(compute="_compute_reply_facts", string="Shipment")
    can_draft_reply = fields.Boolean(compute="_compute_reply_facts")
    color = fields.Integer(compute="_compute_color")
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)

    # -- computes ---------------------------------------------------------------------------------
    @api.model
    def _group_expand_state(self, states, domain):
        # The kanban shows the flow in its order, empty steps included.
        return [value for value, _label in STATES]

    @api.depends("confidence")
    def _compute_confidence_pct(self):
        for message in self:
            message.confidence_pct = round((message.confidence or 0.0) * 100)

    def _compute_document_count(self):
        for message in self:
            message.document_count = (
                len(message.sale_order_ids)
                + len(message.purchase_order_ids)
                + len(message.invoice_ids)
                + len(message.picking_ids)
            )

    @api.depends("state", "decision_reason")
    def _compute_color(self):
        for message in self:
            message.color = {"needs_review": 3, "routed": 10, "reviewed": 4, "closed": 0}.get(message.state, 0)

    @api.depends("sale_order_ids", "label_id")
    def _compute_reply_facts(self):
        for message in self:
            order = message.sale_order_ids[:1]
            message.reply_order_id = order
            message.can_draft_reply = bool(order and message.label_id.reply_template_id)
            if not order:
                message.reply_status = message.reply_promised_date = message.reply_tracking = False
                continue
            message.reply_status = message._order_status_text(order)
            message.reply_promised_date = message._customer_day(order, order.commitment_date or order.expected_date)
            pickings = order.picking_ids.filtered(lambda p: p.picking_type_code == "outgoing" and p.state != "cancel")
            done = pickings.filtered(lambda p: p.state == "done")
            picking = (done or pickings)[:1]
            tracking = picking.carrier_tracking_ref if picking and "carrier_tracking_ref" in picking else False
            message.reply_tracking = tracking or (picking.name if picking else False)

    def _customer_day(self, order, moment):
        """The day of ``moment`` (a UTC datetime) as the customer reads it: in the time zone of the order's
        customer, else of the writer of the e-mail, else of the user drafting the reply."""
        if not moment:
            return False
        tz = (
            order.partner_id.tz
            or order.partner_id.commercial_partner_id.tz
            or self.partner_id.tz
            or self.env.context.get("tz")
            or self.env.user.tz
        )
        return days.local_day(moment, tz)

    def _order_status_text(self, order):
        """The order's state in the words of a reply: confirmed, partly shipped, shipped, invoiced..."""
        if order.state == "cancel":
            return self.env._("cancelled")
        if order.state in ("draft", "sent"):
            return self.env._("awaiting confirmation")
        pickings = order.picking_ids.filtered(lambda p: p.picking_type_code == "outgoing" and p.state != "cancel")
        if pickings and all(p.state == "done" for p in pickings):
            return self.env._("shipped")
        if any(p.state == "done" for p in pickings):
            return self.env._("partly shipped")
        if any(p.state == "assigned" for p in pickings):
            return self.env._("ready to ship")
        return self.env._("confirmed, being prepared")

    # -- guards -----------------------------------------------------------------------------------
    @api.model
    def _guarded_fields(self):
        """Fields that say what the triage decided and what people reviewed: written only inside the model's
        own verbs (classify, accept, correct, close), so that the agreement KPI and the review queue cannot
        be forged over JSON-RPC. A user edits the owner, the team, the subject and the correction choice."""
        return (
            "state",
            "label_id",
            "suggested_label_id",
            "confidence",
            "rationale",
            "provider_id",
            "provider_kind",
            "fallback_used",
            "second_label_id",
            "decision_reason",
            "evidence_example_ids",
            "classified_at",
            "classification_ms",
            "attempts",
            "review_outcome",
            "reviewed_by_id",
            "reviewed_at",
            "exception_id",
            "source",
            "res_model",
            "res_id",
            "company_id",
            "body_text",
            "email_from",
            "partner_id",
            "commercial_partner_id",
            "partner_match",
            "received_at",
        )

    def _check_guarded(self, vals):
        if self.env.su or verbs.inside(VERB, self):
            return
        refused = sorted(set(vals) & set(self._guarded_fields()))
        if refused:
            raise AccessError(
                self.env._(
                    "These fields of a triage message are set by the triage itself: %s. "
                    "Use Accept, Correct or Close.",
                    ", ".join(refused),
                )
            )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not (self.env.su or verbs.inside(VERB, self.browse())):
                refused = sorted(set(vals) & (set(self._guarded_fields()) - {"body_text", "email_from", "partner_id"}))
                if refused:
                    raise AccessError(
                        self.env._(
                            "These fields of a triage message are set by the triage itself: %s.", ", ".join(refused)
                        )
                    )
        messages = super().create(vals_list)
        if any(message.state == "pending" for message in messages):
            self._trigger_classification()
        return messages

    def write(self, vals):
        self._check_guarded(vals)
        return super().write(vals)

    def _write_as_system(self, vals):
        with verbs.server_verb(VERB, self):
            return self.write(vals)

    @api.model
    def _triage_create(self, vals_list):
        """Create triage messages with what the triage itself sets (the gateway, the demo, an import)."""
        with verbs.server_verb(VERB, self.browse()):
            return self.create(vals_list)

    @api.model
    def _trigger_classification(self):
        cron = self.env.ref(CRON, raise_if_not_found=False)
        if cron and cron.active:
            # sudo: queueing the classification is part of receiving a message, whoever receives it.
            cron.sudo()._trigger()

    # -- mail gateway -------------------------------------------------------------------------------
    @api.model
    def message_new(self, msg_dict, custom_values=None):
        """A new e-mail from the gateway: store it and queue it; it is classified by the scheduled action, so
        a slow or dead classifier never slows mail intake."""
        values = dict(custom_values or {})
        values.update(self._values_from_mail(msg_dict, values.get("company_id")))
        with verbs.server_verb(VERB, self.browse()):
            return super().message_new(msg_dict, custom_values=values)

    def message_update(self, msg_dict, update_vals=None):
        """A reply on the thread stays on the same record; its owner hears of it as a follower. A closed
        message opens again for its owner."""
        result = super().message_update(msg_dict, update_vals=update_vals)
        closed = self.filtered(lambda message: message.state == "closed")
        if closed:
            closed._write_as_system({"state": "reviewed"})
        return result

    @api.model
    def _values_from_mail(self, msg_dict, company_id=None):
        """What a triage message keeps of an incoming e-mail (msg_dict of mail.thread.message_parse)."""
        body = msg_dict.get("body") or ""
        text = mailtext.clean_body(body, is_html=True)
        company = self.env["res.company"].browse(company_id) if company_id else self.env.company
        partner, commercial, match = self._match_partner(msg_dict.get("email_from") or "", company)
        received = msg_dict.get("date")
        return {
            "name": (msg_dict.get("subject") or "").strip()[:250] or self.env._("(no subject)"),
            "email_from": msg_dict.get("email_from") or False,
            "body_text": text,
            "received_at": fields.Datetime.to_datetime(received) if received else fields.Datetime.now(),
            "attachment_count": len(msg_dict.get("attachments") or []),
            "language": mailtext.detect_language(text) or False,
            "partner_id": partner.id,
            "commercial_partner_id": commercial.id,
            "partner_match": match,
            "company_id": company.id,
            "state": "pending",
            "source": "email",
        }

    @api.model
    def _match_partner(self, email_from, company):
        """(contact, commercial partner, how) of a sender: by e-mail address first, then by the domain of
        the commercial partners' addresses (never a public mail domain, never when two companies share it)."""
        Partner = self.env["res.partner"].sudo()  # sudo: matching a sender is part of receiving the mail
        empty = Partner.browse()
        formatted = email_split_and_format(email_from)
        normalized = email_normalize(formatted[0]) if formatted else False
        if not normalized:
            return empty, empty, False
        company_domain = [("company_id", "in", (False, company.id))]
        contact = Partner.search([("email_normalized", "=", normalized), *company_domain], order="id", limit=1)
        if contact:
            return contact, contact.commercial_partner_id, "email"
        domain = references.email_domain(normalized)
        if not domain or domain in references.PUBLIC_DOMAINS:
            return empty, empty, False
        same_domain = Partner.search(
            # The sender's domain is compared whole: its "_" or "%" are characters, not wildcards.
            [("email_normalized", "=ilike", f"%@{like_literal(domain)}"), *company_domain],
            limit=50,
        ).commercial_partner_id
        if len(same_domain) == 1:
            return empty, same_domain, "domain"
        return empty, empty, False

    # -- classification -------------------------------------------------------------------------------
    @api.model
    def _cron_classify(self, batch_size=50, company_id=None):
        """Classify the messages waiting, oldest first, a batch at a time (of one company when
        ``company_id`` is given). The batch is locked with FOR UPDATE SKIP LOCKED: two workers never
        classify one message, and a batch another worker holds is skipped rather than waited for."""
        company = SQL(" AND company_id = %s", company_id) if company_id else SQL()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM distribution_triage_message WHERE state = 'pending'%s"
                " ORDER BY received_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
                company,
                batch_size,
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        messages = self.browse(ids)
        if messages:
            messages._classify()
        remaining = 0
        if ids:
            domain = [("state", "=", "pending"), ("id", "not in", ids)]
            remaining = self.search_count(domain + ([("company_id", "=", company_id)] if company_id else []), limit=1)
        self.env["ir.cron"]._notify_progress(done=len(ids), remaining=remaining)
        return len(ids)

    def _classifier_text(self):
        self.ensure_one()
        return f"{self.name or ''}\n\n{self.body_text or ''}".strip()[:TEXT_FOR_CLASSIFIER]

    def _redacted_text(self):
        """The text sent to the classifiers and kept in the call log: no address, phone, IBAN, card number
        nor the sender's and customer's names; document references stay."""
        self.ensure_one()
        names = []
        for partner in (self.partner_id, self.commercial_partner_id):
            if partner and partner.name:
                names.append(partner.name)
                names += [part for part in partner.name.split() if len(part) > 2]
        sender = email_split_and_format(self.email_from or "")
        if sender and "<" in sender[0]:
            display = sender[0].split("<")[0].strip().strip('"')
            if display:
                names.append(display)
                names += [part for part in display.split() if len(part) > 2]
        region = (self.company_id.country_id.code or "US").upper()
        names = sorted(set(names), key=len, reverse=True)
        return redaction.redact(self._classifier_text(), names=names, region=region).text

    def _classify(self):
        """Ask the company's providers in order, the rules last, and decide. Never leaves a message
        unclassified: the rules always answer."""
        for company in self.company_id:
            self.filtered(lambda message, company=company: message.company_id == company)._classify_company(company)

    def _classify_company(self, company):
        started = time.perf_counter()
        Label = self.env["distribution.triage.label"]
        labels = Label._labels_for(company)
        if not labels:
            for message in self:
                with self.env["distribution.workflow.run"].track("ai_triage", message) as run:
                    run.reason = "no_labels"
                    message._write_as_system(
                        {
                            "state": "needs_review",
                            "decision_reason": "no_labels",
                            "classified_at": fields.Datetime.now(),
                        }
                    )
            return
        texts = {message.id: message._redacted_text() for message in self}
        by_code = {label.code: label for label in labels}
        sensitive = {label.code for label in labels if label.sensitive}
        rules = labels._rules_map()
        # The rules answer every message (no network): the last word when every provider fails, and one
        # more opinion otherwise.
        rules_answers, mentioned = {}, {}
        for message in self:
            rule_start = time.perf_counter()
            suggestion = classify.rules_classify(texts[message.id], rules)
            rules_answers[message.id] = (suggestion, None, round((time.perf_counter() - rule_start) * 1000))
            # What the rules saw strongly without choosing it (a tie): a sensitive label there needs a person.
            scores = classify.rules_scores(texts[message.id], rules)
            best = max(scores.values(), default=0.0)
            mentioned[message.id] = {code for code, score in scores.items() if score >= best / 2}
        answers = {message.id: [] for message in self}  # (suggestion, provider, latency) in chain order
        failed = dict.fromkeys(self.ids, False)

        def combined(message_id):
            chain = [*answers[message_id], rules_answers[message_id]]
            return chain, policy.combine(
                [(a[0].label, a[0].confidence) for a in chain], sensitive, mentioned=mentioned[message_id]
            )

        def settled(message_id):
            _chain, result = combined(message_id)
            label = by_code.get(result.label)
            return bool(label) and not result.contested and result.confidence >= label.threshold

        send_external = company.distribution_triage_send_external
        # sudo: the providers are configured by administrators; every message is classified with them.
        providers = (
            self.env["distribution.ai.provider"]
            .sudo()
            .search([("company_id", "=", company.id), ("kind", "!=", classify.RULES)])
        )
        calls_today = providers._calls_today()
        for provider in providers:
            waiting = self.filtered(lambda message: not answers[message.id] or not settled(message.id))
            if not waiting:
                break
            if not send_external and not provider._is_local():
                continue  # configuration, not an outage: no fallback flag
            allowed, _reason = provider._breaker_acquire()
            if not allowed or not classify.budget_allows(calls_today.get(provider.id, 0), provider.daily_budget):
                for message in waiting:
                    failed[message.id] = True
                continue
            results = provider._classify_texts([texts[m.id] for m in waiting], labels, company)
            calls_today[provider.id] = calls_today.get(provider.id, 0) + (
                1 if provider.kind == classify.EMBEDDINGS else len(waiting)
            )
            provider._log_calls(
                [
                    {
                        "message_id": message.id,
                        "text": texts[message.id],
                        "answer": answer,
                        "fallback": failed[message.id],
                        "policy": "second_opinion" if answers[message.id] else "triage",
                        "company_id": company.id,
                    }
                    for message, answer in zip(waiting, results, strict=True)
                ]
            )
            broken = [
                answer
                for answer in results
                if answer.error and (answer.error.reason in BREAKER_REASONS or answer.error.reason.startswith("http_5"))
            ]
            provider._breaker_report(len(broken) < len(results), broken[0].error if broken else None)
            for message, answer in zip(waiting, results, strict=True):
                if answer.suggestion:
                    answers[message.id].append((answer.suggestion, provider, answer.latency_ms))
                else:
                    failed[message.id] = True
        Run = self.env["distribution.workflow.run"]
        for message in self:
            try:
                # One message that cannot be decided (a broken template, a document gone) never holds up the
                # batch: it waits for a person, and its failed run says why.
                with self.env.cr.savepoint():
                    chain, result = combined(message.id)
                    label = by_code.get(result.label) or by_code.get(classify.FALLBACK_LABEL) or labels[:1]
                    winners = [chain[index] for index in result.supporters]
                    suggestion, provider, _latency = winners[0]
                    fallback = failed[message.id] and all(winner[1] is None for winner in winners)
                    others = [a for a in chain if a[0].label != result.label and a[0].confidence > 0]
                    second_label = by_code.get(max(others, key=lambda a: a[0].confidence)[0].label) if others else Label
                    evidence_ids = [
                        ident for winner in winners for ident in winner[0].evidence if isinstance(ident, int)
                    ]
                    with Run.track("ai_triage", message) as run:
                        owner, team = message._owner_for(label)
                        decision = policy.decide(
                            result.confidence,
                            label.threshold,
                            auto_route=label.auto_route,
                            has_owner=bool(owner or team),
                            disagreement=result.contested,
                            fallback_used=fallback,
                        )
                        if message.source == "exception":
                            decision = policy.Decision(
                                False, decision.reason
                            )  # an exception is suggested on, not routed
                        run.reason = decision.reason
                        run.message = self.env._(
                            "%(label)s, confidence %(confidence)s, by %(provider)s",
                            label=label.code,
                            confidence=round(result.confidence, 2),
                            provider=", ".join(w[1].name if w[1] else classify.RULES for w in winners),
                        )
                        message._write_as_system(
                            {
                                "suggested_label_id": label.id,
                                "label_id": label.id,
                                "confidence": result.confidence,
                                "rationale": " | ".join(w[0].rationale for w in winners if w[0].rationale)[:2000]
                                or False,
                                "provider_id": provider.id if provider else False,
                                "provider_kind": provider.kind if provider else classify.RULES,
                                "fallback_used": fallback,
                                "second_label_id": second_label.id if second_label and second_label != label else False,
                                "decision_reason": decision.reason,
                                "evidence_example_ids": [
                                    (6, 0, self.env["distribution.triage.example"].browse(evidence_ids).exists().ids)
                                ],
                                "classified_at": fields.Datetime.now(),
                                "classification_ms": sum(a[2] for a in chain),
                                "attempts": message.attempts + 1,
                                # An exception's triage only suggests (on the exception): it waits in no queue.
                                "state": "closed"
                                if message.source == "exception"
                                else ("routed" if decision.route else "needs_review"),
                            }
                        )
                        # sudo: the call log is written by the system; it says what the triage did with each answer.
                        message.sudo().call_ids.filtered(
                            lambda call: not call.decision_reason
                        ).decision_reason = decision.reason
                        if message.source == "exception":
                            message._suggest_on_exception(label)
                        else:
                            # Linked whatever the decision: the reviewer needs the orders a waiting message names.
                            message._link_documents()
                            if decision.route:
                                message._route(label, owner, team)
            except Exception as exc:  # any error of one message: the others go on
                _logger.warning("triage of message %s failed: %s", message.id, exc, exc_info=True)
                message._write_as_system(
                    {
                        "state": "needs_review",
                        "decision_reason": "error",
                        "classified_at": fields.Datetime.now(),
                        "attempts": message.attempts + 1,
                    }
                )
        _logger.debug("triaged %s messages in %.0f ms", len(self), (time.perf_counter() - started) * 1000)

    def _owner_for(self, label):
        """(owner, team) a message of ``label`` goes to: the label's owner or team; else, unless the label
        is routed to its owner only, the salesperson of the customer."""
        self.ensure_one()
        owner, team = label.user_id, label.group_id
        if not owner and not team and not label.owner_only:
            owner = self.commercial_partner_id.user_id
        return owner, team

    # -- routing ---------------------------------------------------------------------------------------
    def _route(self, label, owner=None, team=None):
        """Give the message to its owner: owner and team set, an activity scheduled, the documents it names
        linked (the sender's own only), an exception raised when the label maps to a category."""
        self.ensure_one()
        if owner is None:
            owner, team = self._owner_for(label)
        self._write_as_system({"label_id": label.id})
        self.write({"user_id": owner.id, "group_id": team.id})
        if owner:
            self.message_subscribe(partner_ids=owner.partner_id.ids)
            self.activity_schedule(
                act_type_xmlid=False if label.activity_type_id else "mail.mail_activity_data_todo",
                activity_type_id=label.activity_type_id.id or False,
                date_deadline=fields.Date.context_today(self) + timedelta(days=max(label.activity_deadline_days, 0)),
                user_id=owner.id,
                summary=self.env._("%(label)s: %(subject)s", label=label.name, subject=self.name),
            )
        self._link_documents()
        if label.exception_category and not self.exception_id:
            exception = self.env["distribution.exception"]._raise_for(
                self,
                source_key=f"triage:{label.code}",
                category=label.exception_category,
                message=self.env._(
                    "%(label)s from %(sender)s: %(subject)s",
                    label=label.name,
                    sender=self.commercial_partner_id.name or self.email_from or "?",
                    subject=self.name,
                ),
                severity=label.exception_severity or "medium",
                reason_code=f"triage_{label.code}",
            )
            if owner and not exception.user_id:
                exception.write({"user_id": owner.id})  # the message's owner works its exception
            self._write_as_system({"exception_id": exception.id})

    def _link_documents(self):
        """Link the sales and purchase orders, invoices and transfers the text names, among those of the
        sender's commercial partner in the message's company only: never another customer's document."""
        self.ensure_one()
        partner = self.commercial_partner_id
        tokens = references.candidates(self._classifier_text())
        if not partner or not tokens:
            return
        env = self.sudo().env  # sudo: looking up the sender's own documents, bounded by partner and company
        common = [("partner_id", "child_of", partner.id), ("company_id", "=", self.company_id.id)]
        orders = env["sale.order"].search(
            [*common, "|", ("name", "in", tokens), ("client_order_ref", "in", tokens)], limit=20
        )
        purchases = env["purchase.order"].search(
            [*common, "|", ("name", "in", tokens), ("partner_ref", "in", tokens)], limit=20
        )
        invoices = env["account.move"].search(
            [
                *common,
                ("move_type", "in", ("out_invoice", "out_refund", "in_invoice", "in_refund")),
                "|",
                ("name", "in", tokens),
                ("ref", "in", tokens),
            ],
            limit=20,
        )
        pickings = env["stock.picking"].search([*common, ("name", "in", tokens)], limit=20)
        self.sudo().write(
            {
                "sale_order_ids": [(4, record.id) for record in orders],
                "purchase_order_ids": [(4, record.id) for record in purchases],
                "invoice_ids": [(4, record.id) for record in invoices],
                "picking_ids": [(4, record.id) for record in pickings],
            }
        )

    def _suggest_on_exception(self, label):
        """For an exception: suggest a severity and an owner on it (a person decides)."""
        exception = self.env["distribution.exception"].browse(self.res_id).exists() if self.res_model else None
        if exception:
            exception._distribution_triage_suggest(self, label)

    # -- review ------------------------------------------------------------------------------------------
    def _check_reviewer(self):
        # The buttons' groups= only hide them: each verb checks on the server who calls it.
        if not self.env.user.has_group(USER_GROUP):
            raise AccessError(self.env._("Only Distribution users review triage suggestions."))
        self.check_access("write")

    def action_accept(self):
        """Accept the suggestion: the message is routed to the suggested label's owner (when it was waiting)
        and counts as agreed in the agreement rate."""
        self._check_reviewer()
        for message in self:
            if message.state not in REVIEWABLE or not message.suggested_label_id:
                raise UserError(self.env._("%s has no suggestion waiting for review.", message.name))
            was_routed = message.state == "routed"
            message._write_as_system(
                {
                    "state": "reviewed",
                    "review_outcome": "accepted",
                    "reviewed_by_id": self.env.user.id,
                    "reviewed_at": fields.Datetime.now(),
                    "label_id": message.suggested_label_id.id,
                    "correction_label_id": False,
                }
            )
            if not was_routed:
                message.sudo()._route(message.suggested_label_id)  # sudo: routing acts for the desk
            message.message_post(
                body=self.env._("Suggestion %s accepted.", message.suggested_label_id.name),
                subtype_xmlid="mail.mt_note",
            )
        return True

    def action_correct(self, label_id=None):
        """Correct the label to ``label_id`` (or the 'Correct To' field): the message is routed to that
        label's owner, and its text becomes an example the embeddings classifier learns from."""
        self._check_reviewer()
        for message in self:
            label = self.env["distribution.triage.label"].browse(label_id) if label_id else message.correction_label_id
            if not label.exists():
                raise UserError(self.env._("Choose the right label in 'Correct To' first."))
            if label not in self.env["distribution.triage.label"]._labels_for(message.company_id):
                raise UserError(self.env._("The label %s is not one of this company's labels.", label.display_name))
            if message.state == "pending":
                raise UserError(self.env._("%s has not been classified yet.", message.name))
            if label == message.suggested_label_id:
                message.action_accept()
                continue
            message._write_as_system(
                {
                    "state": "reviewed",
                    "review_outcome": "corrected",
                    "reviewed_by_id": self.env.user.id,
                    "reviewed_at": fields.Datetime.now(),
                    "label_id": label.id,
                    "correction_label_id": False,
                }
            )
            # sudo: the example set is the classifier's; the correction is recorded with who made it.
            self.env["distribution.triage.example"].sudo().create(
                {
                    "label_id": label.id,
                    "text": message._redacted_text(),
                    "source": "correction",
                    "message_id": message.id,
                    "user_id": self.env.user.id,
                    "company_id": message.company_id.id,
                }
            )
            message.activity_unlink(["mail.mail_activity_data_todo"])
            message.sudo()._route(label)  # sudo: routing acts for the desk
            message.message_post(
                body=Markup(
                    self.env._(
                        "Label corrected from %(old)s to %(new)s.", old=message.suggested_label_id.name, new=label.name
                    )
                ),
                subtype_xmlid="mail.mt_note",
            )
        return True

    def action_close(self):
        """Done with the message (a person's verb: nothing closes by itself)."""
        self._check_reviewer()
        for message in self:
            message._write_as_system({"state": "closed"})
        return True

    def action_classify_again(self):
        """Queue the messages for classification again (their review is kept in the history)."""
        self._check_reviewer()
        for message in self:
            if message.review_outcome:
                raise UserError(self.env._("%s was reviewed by a person: its label stays.", message.name))
            message._write_as_system({"state": "pending"})
        self._trigger_classification()
        return True

    def action_draft_reply(self):
        """Open the composer with a reply drafted from the linked order's real state: a person sends it."""
        self.ensure_one()
        self._check_reviewer()
        template = self.label_id.reply_template_id
        if not template or not self.reply_order_id:
            raise UserError(
                self.env._(
                    "A reply is drafted for a message linked to a sales order, with a label that has a reply template."
                )
            )
        return {
            "type": "ir.actions.act_window",
            "res_model": "mail.compose.message",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_model": self._name,
                "default_res_ids": self.ids,
                "default_template_id": template.id,
                "default_composition_mode": "comment",
                "default_subtype_xmlid": "mail.mt_comment",
            },
        }

    def action_open_documents(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Sales orders of %s", self.name),
            "res_model": "sale.order",
            "view_mode": "list,form",
            "domain": [("id", "in", self.sale_order_ids.ids)],
        }

    # -- triage of any record ------------------------------------------------------------------------------
    @api.model
    def _triage_records(self, records):
        """Queue a triage of each record's last message from outside (the 'Triage' server action): a
        triage message pointing at the record, classified like an e-mail."""
        Mail = self.env["mail.message"]
        last_of = {}
        if not hasattr(records, "_distribution_triage_text"):
            # The last message of every record, in one grouped query (not a search per record).
            newest = Mail._read_group(
                [
                    ("model", "=", records._name),
                    ("res_id", "in", records.ids),
                    ("message_type", "in", ("email", "comment")),
                    ("body", "!=", False),
                ],
                ["res_id"],
                ["id:max"],
            )
            last_of = {res_id: Mail.browse(last_id) for res_id, last_id in newest}
        vals_list = []
        for record in records:
            last = last_of.get(record.id, Mail)
            if hasattr(record, "_distribution_triage_text"):
                text = record._distribution_triage_text()  # a record that says best what it is about
            else:
                text = mailtext.clean_body(last.body or "", is_html=True) if last else ""
            partner = record.partner_id if "partner_id" in record._fields else self.env["res.partner"]
            vals_list.append(
                {
                    "name": last.subject or record.display_name,
                    "body_text": text or record.display_name,
                    "email_from": last.email_from or False,
                    "partner_id": (last.author_id or partner).id,
                    "commercial_partner_id": (last.author_id or partner).commercial_partner_id.id,
                    "partner_match": "record",
                    "source": "exception" if record._name == "distribution.exception" else "record",
                    "res_model": record._name,
                    "res_id": record.id,
                    "language": mailtext.detect_language(text) or False,
                    "company_id": (
                        record.company_id if "company_id" in record._fields and record.company_id else self.env.company
                    ).id,
                }
            )
        records.check_access("read")  # the asker reads what they ask to triage
        # sudo: the triage queue is the system's; a Distribution User asks for a triage, the system records it.
        Message = self.sudo()
        with verbs.server_verb(VERB, Message.browse()):
            return Message.create(vals_list).with_env(self.env)

    def action_open_source(self):
        self.ensure_one()
        if not self.res_model or not self.res_id:
            return False
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
        }
