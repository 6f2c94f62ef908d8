from datetime import timedelta

from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import AccessError
from odoo.exceptions import UserError

from ..services import approval
from .distribution_approval_rule import REQUEST_TYPES

ACTIVITY_TYPE = "distribution_approvals.mail_activity_type_distribution_approval"
MANAGER_GROUP = "distribution_observability.group_distribution_manager"
STATES = [
    ("draft", "Draft"),
    ("pending", "Pending"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("cancelled", "Cancelled"),
]


class DistributionApprovalRequest(models.Model):
    """A request for approval of something done on a document (a discount on an order, an emergency
    purchase, a vendor's new bank account): the rule that governs it, the context at request time, its
    tiers and the decisions taken. Approval and rejection call back the document
    (``_distribution_approval_approved`` / ``_distribution_approval_rejected``)."""

    _name = "distribution.approval.request"
    _description = "Approval Request"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    # Approvers and requesters only read requests (decisions go through _decide): they comment all the same.
    _mail_post_access = "read"

    name = fields.Char("Reference", required=True, readonly=True, copy=False, default="/")
    request_type = fields.Selection(REQUEST_TYPES, required=True, readonly=True, index=True)
    rule_id = fields.Many2one("distribution.approval.rule", readonly=True, ondelete="restrict", index="btree_not_null")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    amount = fields.Monetary(readonly=True, currency_field="currency_id", help="In the company currency.")
    res_model = fields.Char("Document Model", required=True, readonly=True, index=True)
    res_id = fields.Many2oneReference("Document ID", model_field="res_model", required=True, readonly=True)
    res_name = fields.Char("Document", readonly=True, help="The document's name at request time.")
    record_ref = fields.Reference(selection="_selection_record_ref", string="Source", compute="_compute_record_ref")
    requested_by_id = fields.Many2one("res.users", required=True, readonly=True, index=True)
    reason = fields.Text(readonly=True, help="Why approval is needed, in plain words.")
    payload = fields.Json(readonly=True, help="What applies when approved (e.g. the new bank account).")
    # The customer's financial figures: read through context_html, which shows them to the approvers and
    # the Distribution Managers only, never to the requester (raw reads are the administrator's).
    context_snapshot = fields.Json(
        "Context", readonly=True, groups="base.group_system", help="The figures the approvers see, at request time."
    )
    context_html = fields.Html("Context at Request Time", compute="_compute_context_html", sanitize=True)
    context_visible = fields.Boolean(compute="_compute_context_html")
    state = fields.Selection(STATES, required=True, default="draft", readonly=True, tracking=True, index=True)
    auto_approved = fields.Boolean(readonly=True)
    tier_ids = fields.One2many("distribution.approval.request.tier", "request_id", "Tiers", readonly=True)
    current_tier_id = fields.Many2one("distribution.approval.request.tier", readonly=True)
    current_approver_ids = fields.Many2many(related="current_tier_id.approver_ids", string="Current Approvers")
    decision_ids = fields.One2many("distribution.approval.decision", "request_id", "Decisions", readonly=True)
    decided_at = fields.Datetime(readonly=True)
    decision_comment = fields.Text(readonly=True)
    cycle_hours = fields.Float(
        "Cycle Time (h)", readonly=True, aggregator="avg", help="From the request to the final decision."
    )
    can_decide = fields.Boolean(compute="_compute_can_decide")
    can_manager_decide = fields.Boolean(
        compute="_compute_can_decide", help="Stuck (its tier cannot reach its quorum): a Distribution Manager decides."
    )
    tier_progress = fields.Char(compute="_compute_tier_progress")

    @api.model
    def _selection_record_ref(self):
        return [(model.model, model.name) for model in self.env["ir.model"].sudo().search([])]

    @api.depends("res_model", "res_id")
    def _compute_record_ref(self):
        for request in self:
            valid = request.res_model in self.env and request.res_id
            request.record_ref = f"{request.res_model},{request.res_id}" if valid else False

    @api.depends_context("uid")
    @api.depends("context_snapshot", "requested_by_id", "tier_ids.approver_ids")
    def _compute_context_html(self):
        user = self.env.user
        for request in self:
            visible = request._may_read_context(user)
            request.context_visible = visible
            request.context_html = (
                request._context_html_for(user)
                if visible
                else Markup('<p class="text-muted o_distribution_context_hidden">%s</p>')
                % self.env._("The context figures are shown to the approvers and the Distribution Managers.")
            )

    @api.depends_context("uid")
    @api.depends("state", "current_tier_id.approver_ids", "requested_by_id")
    def _compute_can_decide(self):
        for request in self:
            request.can_decide = request.state == "pending" and not request._refusal(self.env.user)
            request.can_manager_decide = not request._manager_refusal(self.env.user)

    def _may_read_context(self, user):
        """Whether ``user`` reads the context figures (the customer's receivables, revenue and payment
        delay): the approvers of the request's tiers, those who decided it and the Distribution Managers;
        never the requester, whatever their groups."""
        self.ensure_one()
        if not self.id or user == self.requested_by_id:
            return False
        # sudo: who the approvers are decides what is shown; the reader may not read every tier.
        request = self.sudo()
        return (
            user in request.tier_ids.approver_ids
            or user in request.decision_ids.user_id
            or user.has_group(MANAGER_GROUP)
        )

    def _context_html_for(self, user):
        """The context figures as a table, for ``user`` (checked by the caller: an approver's
        activity note, or ``_may_read_context``)."""
        self.ensure_one()
        # sudo: the raw snapshot is readable by the administrator only; it is shown through here.
        snapshot = self.sudo().context_snapshot or {}
        rows = Markup("").join(
            Markup("<tr><th>%s</th><td>%s</td></tr>") % (item.get("label"), item.get("display"))
            for item in snapshot.get("items", [])
        )
        return Markup('<table class="table table-sm o_distribution_context">%s</table>') % rows

    def _context_items(self):
        """The context figures ``{key: item}`` the current user may read (empty when they may not)."""
        self.ensure_one()
        if not self._may_read_context(self.env.user):
            return {}
        # sudo: see _context_html_for.
        return {item["key"]: item for item in (self.sudo().context_snapshot or {}).get("items", [])}

    @api.depends("tier_ids.state")
    def _compute_tier_progress(self):
        for request in self:
            done = len(request.tier_ids.filtered(lambda t: t.state == "approved"))
            request.tier_progress = f"{done}/{len(request.tier_ids)}" if request.tier_ids else ""

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("distribution.approval.request") or "/"
        return super().create(vals_list)

    # -- requesting --------------------------------------------------------------------------------
    @api.model
    def _request(self, record, request_type, amount=0.0, reason=None, payload=None, facts=None, requester=None):
        """Ask for approval of ``request_type`` on ``record`` (``amount`` in the company currency): the
        matrix picks the rule, the context is snapshotted, the first tier's approvers get an activity.
        Under the rule's auto-approve threshold the request is approved at once (the document is called
        back before this returns). Without a matching rule, one approval of a Distribution Approver is
        needed. Answers the request."""
        record.ensure_one()
        requester = requester or self.env.user
        company = record.company_id if "company_id" in record._fields and record.company_id else self.env.company
        Run = self.env["distribution.workflow.run"]
        with Run.track("approval_request", record) as run:
            # sudo: the matrix is manager configuration; it is read for whoever triggers a request.
            rule = self.env["distribution.approval.rule"].sudo()._select(request_type, record, amount, company, facts)
            # sudo: requests are written by the system on behalf of whoever triggered them (a salesperson
            # confirming an order has no right to create approval requests, only to read their own).
            request = self.sudo().create(
                {
                    "request_type": request_type,
                    "rule_id": rule.id,
                    "company_id": company.id,
                    "amount": amount,
                    "res_model": record._name,
                    "res_id": record.id,
                    "res_name": record.display_name,
                    "requested_by_id": requester.id,
                    "reason": reason,
                    "payload": payload,
                    "context_snapshot": self._snapshot(record),
                }
            )
            request._audit("requested", {"rule": rule.name or None, "reason": reason})
            if rule and approval.auto_approved(amount, rule.auto_approve_below):
                run.reason = "auto_approved"
                request._finish(
                    "approved", self.env._("Under the auto-approval threshold of rule %s.", rule.name), auto=True
                )
            else:
                run.reason = "pending"
                request._start(rule)
                request._emit("approval.requested")
        return request.with_env(self.env)

    def _start(self, rule):
        """Create the request's tiers from its rule (or the fallback tier) and open the first."""
        self.ensure_one()
        if rule.tier_ids:
            vals_list = [
                {
                    "request_id": self.id,
                    "tier_id": tier.id,
                    "sequence": index,
                    "name": tier.name,
                    "min_approvals": tier.min_approvals,
                    "sla_hours": tier.sla_hours,
                }
                for index, tier in enumerate(rule.tier_ids, start=1)
            ]
        else:
            vals_list = [
                {
                    "request_id": self.id,
                    "sequence": 1,
                    "name": self.env._("Distribution Approver"),
                    "min_approvals": 1,
                    "sla_hours": 8.0,
                }
            ]
        tiers = self.env["distribution.approval.request.tier"].sudo().create(vals_list)
        self.write({"state": "pending"})
        tiers[:1]._activate()

    @api.model
    def _snapshot(self, record):
        """The figures approvers need, taken now: the document's own (``_distribution_approval_context``
        when the model defines it) then the customer's or vendor's."""
        items = []
        if hasattr(record, "_distribution_approval_context"):
            items += record._distribution_approval_context()
        partner = record.partner_id.commercial_partner_id if "partner_id" in record._fields else None
        if partner:
            items += self._partner_context(partner, record)
        return {"taken_at": fields.Datetime.to_string(fields.Datetime.now()), "items": items}

    @api.model
    def _partner_context(self, partner, record):
        """Open receivables, revenue of the last 12 months and average payment delay of a partner."""
        company = record.company_id if "company_id" in record._fields and record.company_id else self.env.company
        currency = company.currency_id
        # sudo: accounting figures a salesperson may not read are shown to approvers as totals only.
        partner_sudo = partner.sudo().with_company(company)
        since = fields.Date.today() - timedelta(days=365)
        Move = self.env["account.move"].sudo()
        revenue = sum(
            amount
            for (amount,) in Move._read_group(
                [
                    ("commercial_partner_id", "=", partner.id),
                    ("company_id", "=", company.id),
                    ("move_type", "in", ("out_invoice", "out_refund")),
                    ("state", "=", "posted"),
                    ("invoice_date", ">=", since),
                ],
                [],
                ["amount_untaxed_signed:sum"],
            )
            if amount
        )
        # Raw SQL: days between each paid invoice's due date and its last payment need a join on the
        # partial reconciliations that the ORM would do invoice by invoice.
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT avg(paid.last_payment - m.invoice_date_due)::float, count(*)
              FROM account_move m
              JOIN (SELECT l.move_id, max(p.max_date) AS last_payment
                      FROM account_move_line l
                      JOIN account_partial_reconcile p ON p.debit_move_id = l.id
                     WHERE l.display_type = 'payment_term'
                  GROUP BY l.move_id) paid ON paid.move_id = m.id
             WHERE m.commercial_partner_id = %s AND m.company_id = %s AND m.move_type = 'out_invoice'
               AND m.state = 'posted' AND m.invoice_date >= %s
            """,
            (partner.id, company.id, since),
        )
        delay, paid_count = self.env.cr.fetchone()
        fmt = lambda amount: currency.format(amount)  # noqa: E731
        return [
            {
                "key": "partner",
                "label": self.env._("Partner"),
                "value": partner.display_name,
                "display": partner.display_name,
            },
            {
                "key": "open_receivables",
                "label": self.env._("Open receivables"),
                "value": partner_sudo.credit,
                "display": fmt(partner_sudo.credit),
            },
            {
                "key": "revenue_12m",
                "label": self.env._("Revenue, last 12 months"),
                "value": revenue,
                "display": fmt(revenue),
            },
            {
                "key": "avg_payment_delay_days",
                "label": self.env._("Average payment delay"),
                "value": round(delay, 1) if delay is not None else None,
                "display": self.env._("%(days)s days (%(n)s paid invoices)", days=round(delay, 1), n=paid_count)
                if delay is not None
                else self.env._("no paid invoice in 12 months"),
            },
        ]

    # -- deciding ----------------------------------------------------------------------------------
    def _refusal(self, user):
        """Why ``user`` may not decide this request now (a reason code), or None."""
        self.ensure_one()
        tier = self.current_tier_id
        if self.state != "pending" or not tier:
            return "not_pending"
        decisions = self.sudo().decision_ids
        return approval.refusal(
            user.id,
            self.requested_by_id.id,
            set(tier.sudo().approver_ids.ids),
            set(decisions.filtered(lambda d: d.request_tier_id == tier).user_id.ids),
            set(decisions.filtered(lambda d: d.request_tier_id != tier and d.decision == "approve").user_id.ids),
            # sudo: the matrix is manager configuration; an approver named in a tier may hold no
            # Distribution role and still decide.
            bool(self.rule_id.sudo().four_eyes),
        )

    def _refusal_message(self, code):
        return {
            "not_pending": self.env._("%s is not waiting for a decision.", self.name),
            "self_approval": self.env._("You requested %s: someone else must decide it.", self.name),
            "not_approver": self.env._("You are not an approver of the current tier of %s.", self.name),
            "already_decided": self.env._("You have already decided this tier of %s.", self.name),
            "four_eyes": self.env._(
                "You approved another tier of %s: four-eyes asks for someone else on this one.", self.name
            ),
        }.get(code) or self.env._("You may not decide %s.", self.name)

    def _is_stuck(self):
        """Whether the current tier can no longer reach its quorum: the approvals it has plus those its
        approvers who have not decided yet could give are fewer than it needs, and no escalation level is
        left to add anyone."""
        self.ensure_one()
        # sudo: tiers and decisions are read whatever the reader's rights (the answer is a yes or no).
        tier = self.sudo().current_tier_id
        if self.state != "pending" or not tier:
            return False
        decisions = tier.decision_ids
        approvals = len(decisions.filtered(lambda d: d.decision == "approve"))
        undecided = tier.approver_ids - decisions.user_id - self.requested_by_id
        if self.sudo().rule_id.four_eyes:
            # With four-eyes, who approved another tier cannot approve this one.
            others = self.sudo().decision_ids.filtered(lambda d: d.request_tier_id != tier and d.decision == "approve")
            undecided -= others.user_id
        return approvals + len(undecided) < max(1, tier.min_approvals) and not tier.next_escalation_at

    def _manager_refusal(self, user):
        """Why ``user`` may not decide this stuck request as a Distribution Manager (a code), or None."""
        self.ensure_one()
        if not user.has_group(MANAGER_GROUP):
            return "not_manager"
        if user == self.requested_by_id:
            return "self_approval"
        if not self._is_stuck():
            return "not_stuck"
        return None

    def _manager_decide(self, decision, reason):
        """The way out of a stuck request: a Distribution Manager (never the requester) approves or
        rejects it as a whole, saying why; the decision, who took it and why enter the audit trail. Only a
        request whose current tier can no longer reach its quorum is decided this way: the matrix decides
        the others."""
        self.ensure_one()
        if decision not in ("approve", "reject"):
            raise UserError(self.env._("Unknown decision %s.", decision))
        code = self._manager_refusal(self.env.user)
        if code == "not_stuck":
            raise UserError(
                self.env._(
                    "%s can still be decided by its approvers: a manager decides only a stuck request.", self.name
                )
            )
        if code == "self_approval":
            raise AccessError(self._refusal_message(code))
        if code:
            raise AccessError(self.env._("Only a Distribution Manager decides a stuck request (%s).", self.name))
        reason = (reason or "").strip()
        if not reason:
            raise UserError(self.env._("Say why you decide %s in place of its approvers.", self.name))
        tier = self.current_tier_id
        # sudo: the manager decides through this verb, which checked their right to; nobody writes
        # decisions directly.
        self.env["distribution.approval.decision"].sudo().create(
            {
                "request_id": self.id,
                "request_tier_id": tier.id,
                "user_id": self.env.user.id,
                "decision": decision,
                "comment": reason,
                "manager_override": True,
            }
        )
        self.message_post(
            body=self.env._(
                "%(user)s (Distribution Manager) %(decision)s %(request)s in place of tier %(tier)s, which could "
                "not reach its quorum: %(reason)s",
                user=self.env.user.name,
                decision=self.env._("approved") if decision == "approve" else self.env._("rejected"),
                request=self.name,
                tier=tier.name,
                reason=reason,
            ),
            subtype_xmlid="mail.mt_note",
        )
        self._audit(
            "manager_decided",
            {"decision": decision, "reason": reason, "tier": tier.name, "tier_sequence": tier.sequence},
        )
        state = "approved" if decision == "approve" else "rejected"
        tier.sudo().write({"state": state, "decided_at": fields.Datetime.now()})
        self._finish(state, reason)

    def _decide(self, decision, comment=None, request_tier=None, via=None):
        """The current user approves or rejects the current tier. ``request_tier`` (from a link) must
        still be the current tier. A rejection needs a comment. Quorum reached: the next tier opens (its
        approvers are asked: ``approval.requested``), or the request is approved. ``via``: where the decision
        came from when not from Odoo itself (``{"channel": "slack via n8n", "endpoint": ..., "inbound_event":
        ...}``), recorded with it in the audit trail."""
        self.ensure_one()
        if decision not in ("approve", "reject"):
            raise UserError(self.env._("Unknown decision %s.", decision))
        if request_tier is not None and request_tier != self.current_tier_id:
            raise UserError(self.env._("This tier of %s has already been decided.", self.name))
        code = self._refusal(self.env.user)
        if code:
            if code == "not_pending":
                raise UserError(self._refusal_message(code))
            raise AccessError(self._refusal_message(code))
        if decision == "reject" and not (comment or "").strip():
            raise UserError(self.env._("Say why %s is rejected: a comment is required.", self.name))
        tier = self.current_tier_id
        # sudo: approvers decide through this method, which checks their right to; they cannot write
        # requests, tiers or decisions directly.
        self.env["distribution.approval.decision"].sudo().create(
            {
                "request_id": self.id,
                "request_tier_id": tier.id,
                "user_id": self.env.user.id,
                "decision": decision,
                "comment": comment,
            }
        )
        label = self.env._("Approved") if decision == "approve" else self.env._("Rejected")
        feedback = f"{label}: {comment}" if comment else label
        mine = self.activity_ids.filtered(
            lambda a: a.activity_type_id == self._activity_type() and a.user_id == self.env.user
        )
        if mine:
            mine.action_feedback(feedback=feedback)
        else:
            self.message_post(body=feedback, subtype_xmlid="mail.mt_note")
        self._audit(
            "approved" if decision == "approve" else "rejected",
            dict(via or {}, tier=tier.name, tier_sequence=tier.sequence, comment=comment),
        )
        if decision == "reject":
            tier.sudo().write({"state": "rejected", "decided_at": fields.Datetime.now()})
            self._finish("rejected", comment)
            return
        if approval.quorum_reached(
            len(tier.sudo().decision_ids.filtered(lambda d: d.decision == "approve")), tier.min_approvals
        ):
            tier.sudo().write({"state": "approved", "decided_at": fields.Datetime.now()})
            self._clear_activities()
            following = self.tier_ids.filtered(lambda t: t.state == "waiting").sorted("sequence")[:1]
            if following:
                # sudo: opening the next tier is the system's work (the approver may not read the document).
                following.sudo()._activate()
                self._emit("approval.requested")
            else:
                self._finish("approved", comment)

    def _finish(self, state, comment, auto=False):
        """Close the request as approved or rejected (or cancelled) and call its document back."""
        self.ensure_one()
        now = fields.Datetime.now()
        self.sudo().write(
            {
                "state": state,
                "decided_at": now,
                "decision_comment": comment,
                "auto_approved": auto,
                "current_tier_id": False,
                "cycle_hours": round((now - self.create_date).total_seconds() / 3600.0, 4),
            }
        )
        self.tier_ids.filtered(lambda t: t.state in ("waiting", "pending")).sudo().write({"state": "cancelled"})
        self._clear_activities()
        if auto:
            self._audit("auto_approved", {"comment": comment})
        if state == "cancelled":
            self._audit("cancelled", {"comment": comment})
        self._emit(
            {"approved": "approval.approved", "rejected": "approval.rejected", "cancelled": "approval.cancelled"}[state]
        )
        record = self._source()
        hook = {
            "approved": "_distribution_approval_approved",
            "rejected": "_distribution_approval_rejected",
            "cancelled": "_distribution_approval_cancelled",
        }[state]
        if record and hasattr(record, hook):
            # sudo: the decision is the authority to go on (the approver may have no right on the document);
            # the chatter and the audit trail say who decided.
            getattr(record.sudo(), hook)(self)

    def _clear_activities(self):
        """Remove the approval activities still open: their tier needs no more decisions."""
        # sudo: the approver who completes a tier removes the other approvers' activities.
        self.sudo().activity_ids.filtered(lambda a: a.activity_type_id == self._activity_type()).unlink()

    def _source(self):
        self.ensure_one()
        if self.res_model not in self.env:
            return None
        record = self.env[self.res_model].browse(self.res_id).exists()
        return record or None

    @api.model
    def _activity_type(self):
        return self.env.ref(ACTIVITY_TYPE)

    def _audit(self, action, data):
        for request in self:
            self.env["distribution.audit.entry"]._append(
                action,
                request,
                dict(
                    data,
                    request=request.name,
                    request_type=request.request_type,
                    amount=request.amount,
                    currency=request.currency_id.name,
                    document={"model": request.res_model, "id": request.res_id, "name": request.res_name},
                    requested_by=request.requested_by_id.login,
                ),
                company=request.company_id,
            )

    def _emit(self, event_type):
        Outbox = self.env["distribution.outbound.event"]
        for request in self:
            data = request._event_data()
            if event_type == "approval.requested":
                data["decision_links"] = request._decision_links()
            Outbox._emit(event_type, request, data)

    def _decision_links(self):
        """Per approver of the current tier, what a collaboration tool needs to let them decide: the one-click
        link (``url``) and its token (``token``), bound to the request, the tier and that approver, for the
        inbound handler ``approval_decision`` (which takes the approver's ``login`` as its ``actor``). A token
        alone decides nothing: the link asks for the approver's own session, the inbox for the endpoint's
        signature and the actor the token was issued to. Never logged."""
        self.ensure_one()
        # sudo: the approvers are read whatever the rights of the user whose action asks for the approval.
        tier = self.current_tier_id.sudo()
        return [tier._decision_link(user) for user in tier.approver_ids]

    def _event_data(self):
        self.ensure_one()
        return {
            "request": self.name,
            "type": self.request_type,
            "state": self.state,
            "amount": self.amount,
            "currency": self.currency_id.name,
            "document": {"model": self.res_model, "id": self.res_id, "name": self.res_name},
            "requested_by": self.requested_by_id.name,
            "reason": self.reason or None,
            "tier": self.current_tier_id.name or None,
            "approvers": self.current_tier_id.sudo().approver_ids.mapped("name"),
            "decision_comment": self.decision_comment or None,
        }

    # -- buttons -----------------------------------------------------------------------------------
    def action_approve(self):
        return self._decision_wizard("approve")

    def action_reject(self):
        return self._decision_wizard("reject")

    def _decision_wizard(self, decision):
        self.ensure_one()
        code = self._refusal(self.env.user)
        if code:
            raise UserError(self._refusal_message(code))
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Approve") if decision == "approve" else self.env._("Reject"),
            "res_model": "distribution.approval.decision.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_request_id": self.id, "default_decision": decision},
        }

    def action_manager_decide(self):
        """Button for Distribution Managers on a stuck request: decide it with a reason (wizard)."""
        self.ensure_one()
        code = self._manager_refusal(self.env.user)
        if code:
            raise UserError(
                self.env._("%s is not a stuck request you may decide as a Distribution Manager.", self.name)
            )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Decide as Distribution Manager"),
            "res_model": "distribution.approval.decision.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_request_id": self.id, "default_decision": "approve", "default_manager": True},
        }

    def action_cancel(self):
        """The requester or a Distribution Manager withdraws a pending request."""
        for request in self:
            if request.state not in ("draft", "pending"):
                raise UserError(self.env._("%s is already decided.", request.name))
            if request.requested_by_id != self.env.user and not self.env.user.has_group(MANAGER_GROUP):
                raise AccessError(
                    self.env._("Only the requester or a Distribution Manager may cancel %s.", request.name)
                )
            request._finish("cancelled", self.env._("Cancelled by %s.", self.env.user.name))
        return True

    def action_open_source(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
            "views": [(False, "form")],
        }
