from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import UserError

CATEGORIES = [
    ("credit", "Credit"),
    ("stock_shortage", "Stock shortage"),
    ("pricing", "Pricing"),
    ("margin", "Margin"),
    ("discount", "Discount"),
    ("date_infeasible", "Date infeasible"),
    ("rush", "Rush shipment"),
    ("late_transfer", "Late transfer"),
    ("low_stock", "Low stock"),
    ("aging_stock", "Aging stock"),
    ("lot_issue", "Lot issue"),
    ("lead_time_drift", "Lead time drift"),
    ("integration", "Integration"),
    ("other", "Other"),
]
OPEN_STATES = ("new", "in_progress", "waiting_approval")
# Hours to resolve, by category, when no routing line says otherwise.
DEFAULT_SLA_HOURS = {"credit": 8, "stock_shortage": 4, "rush": 2, "date_infeasible": 8, "integration": 4}


class DistributionException(models.Model):
    """Something that needs a person: an order on hold, a late transfer, a failed integration.
    One open exception per rule (or source key) and document; it resolves itself when its
    condition clears."""

    _name = "distribution.exception"
    _description = "Distribution Exception"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "severity_rank desc, deadline, id"

    name = fields.Char("Reference", required=True, readonly=True, copy=False, default="/")
    category = fields.Selection(CATEGORIES, required=True, default="other", tracking=True)
    kind = fields.Selection([("business", "Business"), ("technical", "Technical")], required=True, default="business")
    severity = fields.Selection(
        [("low", "Low"), ("medium", "Medium"), ("high", "High"), ("critical", "Critical")],
        required=True,
        default="medium",
        tracking=True,
    )
    severity_rank = fields.Integer(compute="_compute_severity_rank", store=True)
    state = fields.Selection(
        [
            ("new", "New"),
            ("in_progress", "In Progress"),
            ("waiting_approval", "Waiting Approval"),
            ("resolved", "Resolved"),
            ("dismissed", "Dismissed"),
        ],
        required=True,
        default="new",
        tracking=True,
        index=True,
    )
    is_open = fields.Boolean(compute="_compute_is_open", search="_search_is_open")
    message = fields.Text(help="What is wrong, in plain words, and what to do.")
    reason_code = fields.Char(index=True)
    source_key = fields.Char(
        required=True,
        index=True,
        help="What raised it: 'rule:<id>' for a validation rule, or a code (e.g. 'carrier_late').",
    )
    rule_id = fields.Many2one("distribution.validation.rule", ondelete="set null", index="btree_not_null")
    res_model = fields.Char("Document Model", required=True, index=True)
    res_id = fields.Many2oneReference("Document ID", model_field="res_model", required=True)
    record_ref = fields.Reference(selection="_selection_record_ref", string="Document", compute="_compute_record_ref")
    sale_order_id = fields.Many2one("sale.order", index="btree_not_null", ondelete="cascade")
    partner_id = fields.Many2one("res.partner", index="btree_not_null")
    user_id = fields.Many2one("res.users", "Owner", tracking=True, index="btree_not_null")
    group_id = fields.Many2one("res.groups", "Team", help="Group whose members work this exception.")
    deadline = fields.Datetime(tracking=True)
    age_hours = fields.Float("Age (h)", compute="_compute_age_hours")
    is_overdue = fields.Boolean(compute="_compute_is_overdue", search="_search_is_overdue")
    values = fields.Json(help="The values the rule saw.")
    blocking = fields.Boolean(
        help="Holds its document: an order on hold waits until every blocking exception is closed."
    )
    resolution_note = fields.Text()
    resolved_by_id = fields.Many2one("res.users", readonly=True)
    resolved_at = fields.Datetime(readonly=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)

    def init(self):
        # At most one open exception per source and document, even with several workers raising it.
        self.env.cr.execute("""
            CREATE UNIQUE INDEX IF NOT EXISTS distribution_exception_one_open_idx
                ON distribution_exception (source_key, res_model, res_id)
             WHERE state IN ('new', 'in_progress', 'waiting_approval')
        """)

    @api.model
    def _selection_record_ref(self):
        return [(model.model, model.name) for model in self.env["ir.model"].sudo().search([])]

    @api.depends("res_model", "res_id")
    def _compute_record_ref(self):
        for exception in self:
            valid = exception.res_model in self.env and exception.res_id
            exception.record_ref = f"{exception.res_model},{exception.res_id}" if valid else False

    @api.depends("severity")
    def _compute_severity_rank(self):
        ranks = {"low": 0, "medium": 1, "high": 2, "critical": 3}
        for exception in self:
            exception.severity_rank = ranks.get(exception.severity, 0)

    @api.depends("state")
    def _compute_is_open(self):
        for exception in self:
            exception.is_open = exception.state in OPEN_STATES

    def _search_is_open(self, operator, value):
        positive = (operator == "=") == bool(value)
        return [("state", "in" if positive else "not in", OPEN_STATES)]

    @api.depends_context("uid")
    def _compute_age_hours(self):
        now = fields.Datetime.now()
        for exception in self:
            end = exception.resolved_at or now
            exception.age_hours = round((end - (exception.create_date or now)).total_seconds() / 3600.0, 1)

    def _compute_is_overdue(self):
        now = fields.Datetime.now()
        for exception in self:
            exception.is_overdue = (
                exception.state in OPEN_STATES and bool(exception.deadline) and exception.deadline < now
            )

    def _search_is_overdue(self, operator, value):
        domain = [("state", "in", OPEN_STATES), ("deadline", "<", fields.Datetime.now())]
        return domain if (operator == "=") == bool(value) else ["!", *domain]

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("distribution.exception") or "/"
        exceptions = super().create(vals_list)
        for exception in exceptions:
            self.env["distribution.outbound.event"]._emit("exception.created", exception, exception._event_data())
        return exceptions

    def _event_data(self):
        """What the outbound exception events say."""
        self.ensure_one()
        return {
            "reference": self.name,
            "category": self.category,
            "kind": self.kind,
            "severity": self.severity,
            "state": self.state,
            "message": self.message,
            "reason_code": self.reason_code,
            "document": {"model": self.res_model, "id": self.res_id,
                         "name": self.record_ref.display_name if self.record_ref else None},
            "owner": self.user_id.name or None,
            "deadline": self.deadline and fields.Datetime.to_string(self.deadline),
            "resolution_note": self.resolution_note or None,
        }

    # -- raising and resolving -----------------------------------------------------------------
    @api.model
    def _raise_for(
        self,
        record,
        source_key,
        category,
        message,
        kind="business",
        severity="medium",
        reason_code=None,
        rule=None,
        values=None,
        blocking=False,
    ):
        """The open exception of this source on this record, created when there is none, updated
        (message, values) when there is. Safe to call on every pass: it never duplicates."""
        # sudo: exceptions are raised by the system on behalf of whoever triggered the check (a
        # salesperson confirming an order has no right on the exception queue).
        Exception_ = self.sudo()
        existing = Exception_.search(
            [
                ("source_key", "=", source_key),
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
                ("state", "in", OPEN_STATES),
            ],
            limit=1,
        )
        vals = {
            "message": message,
            "values": values or {},
            "reason_code": reason_code or category,
            "blocking": blocking,
        }
        if existing:
            existing.write(vals)
            return existing
        company = record.company_id if "company_id" in record and record.company_id else self.env.company
        partner = record.partner_id.commercial_partner_id if "partner_id" in record else self.env["res.partner"]
        return Exception_.create(
            dict(
                vals,
                source_key=source_key,
                category=category,
                kind=kind,
                severity=severity,
                rule_id=rule.id if rule else False,
                res_model=record._name,
                res_id=record.id,
                sale_order_id=record.id if record._name == "sale.order" else False,
                partner_id=partner.id,
                company_id=company.id,
            )
        )

    @api.model
    def _resolve_for(self, record, source_keys, note):
        """Resolve the open exceptions of these sources on this record: their condition cleared."""
        # sudo: see _raise_for.
        open_ones = self.sudo().search(
            [
                ("source_key", "in", list(source_keys)),
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
                ("state", "in", OPEN_STATES),
            ]
        )
        open_ones._mark_resolved(note, auto=True)
        return open_ones

    def _mark_resolved(self, note, auto=False):
        if not self:
            return
        self.write(
            {
                "state": "resolved",
                "resolution_note": note,
                "resolved_at": fields.Datetime.now(),
                "resolved_by_id": False if auto else self.env.user.id,
            }
        )
        self.activity_ids.action_feedback(feedback=note)
        for exception in self:
            self.env["distribution.outbound.event"]._emit("exception.resolved", exception, exception._event_data())
        self._on_resolved()

    def _on_resolved(self):
        """Hook: documents waiting on these exceptions may go on (held orders confirm themselves)."""
        orders = self.filtered(lambda e: e.res_model == "sale.order").sale_order_id
        if orders:
            orders._distribution_exceptions_cleared()

    # -- routing -------------------------------------------------------------------------------
    def _assign_and_notify(self):
        """Owner, team and deadline from the routing table; an activity for the owner. Called by the
        shipped automation rule 'exception created'."""
        Route = self.env["distribution.exception.route"]
        for exception in self:
            route = Route._find(exception.category, exception.company_id)
            sla_hours = route.sla_hours if route and route.sla_hours else DEFAULT_SLA_HOURS.get(exception.category, 24)
            vals = {"deadline": (exception.create_date or fields.Datetime.now()) + timedelta(hours=sla_hours)}
            if route and not exception.user_id:
                vals["user_id"] = route._pick_user(exception).id
                vals["group_id"] = route.group_id.id
            exception.write(vals)
            if exception.user_id:
                exception.activity_schedule(
                    "mail.mail_activity_data_todo",
                    date_deadline=fields.Date.to_date(exception.deadline),
                    user_id=exception.user_id.id,
                    summary=self.env._(
                        "%(ref)s: %(category)s", ref=exception.name, category=dict(CATEGORIES)[exception.category]
                    ),
                    note=exception.message,
                )

    # -- actions -------------------------------------------------------------------------------
    def action_start(self):
        self.filtered(lambda e: e.state == "new").write({"state": "in_progress"})

    def action_resolve(self):
        """Resolve by hand: a resolution note says what was done."""
        for exception in self:
            if not exception.resolution_note:
                raise UserError(self.env._("Write a resolution note on %s first: what was done?", exception.name))
        self._mark_resolved(self[:1].resolution_note)

    def action_dismiss(self):
        for exception in self:
            if not exception.resolution_note:
                raise UserError(self.env._("Write why %s is dismissed in the resolution note first.", exception.name))
        self.write({"state": "dismissed", "resolved_at": fields.Datetime.now(), "resolved_by_id": self.env.user.id})
        self.activity_ids.action_feedback(feedback=self.env._("Dismissed"))
        for exception in self:
            self.env["distribution.outbound.event"]._emit("exception.resolved", exception, exception._event_data())
        self._on_resolved()

    def action_open_document(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
            "views": [(False, "form")],
        }
