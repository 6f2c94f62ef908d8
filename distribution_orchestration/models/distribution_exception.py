from collections import defaultdict
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import days
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.osv import expression

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
    ("supply_risk", "Supply at risk"),
    ("channel_order_invalid", "Channel order invalid"),
    ("channel_order_changed", "Channel order changed"),
    ("integration", "Integration"),
    ("other", "Other"),
]
# The states in which an exception is done with; every other state is open (another addon may add open
# states with selection_add, such as one waiting for an approval). Use _open_states() for the open ones.
CLOSED_STATES = ("resolved", "dismissed")
USER_GROUP = "distribution_observability.group_distribution_user"
MANAGER_GROUP = "distribution_observability.group_distribution_manager"
# The server verb inside which an exception's guarded fields are written (see _distribution_guarded_fields).
VERB = "distribution_exception"
# What an automation rule's server action adds to the context, record by record (see _in_batch_env).
AUTOMATION_CONTEXT_KEYS = ("active_model", "active_ids", "active_id", "domain_post")
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
        # Open is "not closed", so that the open states other addons add are covered.
        self.env.cr.execute("""
            CREATE UNIQUE INDEX IF NOT EXISTS distribution_exception_one_open_idx
                ON distribution_exception (source_key, res_model, res_id)
             WHERE state NOT IN ('resolved', 'dismissed')
        """)

    @api.model
    def _open_states(self):
        """Hook: the states of an exception that still needs a person (every state but the closed ones)."""
        return tuple(value for value, _label in self._fields["state"].selection if value not in CLOSED_STATES)

    @api.model
    def _distribution_guarded_fields(self):
        """Hook: the fields that say what the exception is and where it stands. They are written only inside
        the model's own verbs (raise, start, resolve, dismiss, reopen...), which check who acts; a user edits
        the owner, the team, the deadline, the severity and the resolution note. Another addon adds its own
        (an approval link)."""
        guarded = (
            "name",
            "category",
            "kind",
            "state",
            "message",
            "reason_code",
            "source_key",
            "rule_id",
            "res_model",
            "res_id",
            "sale_order_id",
            "partner_id",
            "values",
            "blocking",
            "resolved_by_id",
            "resolved_at",
            "company_id",
        )
        return dict.fromkeys(guarded, VERB)

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
            exception.is_open = exception.state not in CLOSED_STATES

    def _search_is_open(self, operator, value):
        positive = (operator == "=") == bool(value)
        return [("state", "not in" if positive else "in", CLOSED_STATES)]

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
                exception.state not in CLOSED_STATES and bool(exception.deadline) and exception.deadline < now
            )

    def _search_is_overdue(self, operator, value):
        domain = [("state", "not in", CLOSED_STATES), ("deadline", "<", fields.Datetime.now())]
        return domain if (operator == "=") == bool(value) else ["!", *domain]

    @api.model_create_multi
    def create(self, vals_list):
        # Exceptions are raised by the system (_raise_for), never typed in: what holds an order is its rule.
        if not verbs.inside(VERB, self):
            raise AccessError(
                self.env._("Exceptions are raised by their rules and integrations; they cannot be created by hand.")
            )
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("distribution.exception") or "/"
        exceptions = super().create(vals_list)
        self.env["distribution.outbound.event"]._emit_many(
            "exception.created", [(exception, exception._event_data()) for exception in exceptions]
        )
        return exceptions

    def write(self, vals):
        refused = verbs.refused_fields(self, vals, self._distribution_guarded_fields()) if self else []
        if refused:
            raise AccessError(
                self.env._(
                    "%(fields)s of an exception change through its buttons (Start, Resolve, Dismiss) or its rule, "
                    "not by writing them.",
                    fields=", ".join(self._fields[name].string for name in refused),
                )
            )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_open(self):
        # An open exception may hold an order or wait for a decision: it is closed (and the closing logged),
        # not deleted.
        if any(exception.is_open for exception in self):
            raise UserError(self.env._("An open exception cannot be deleted: resolve or dismiss it."))

    def _write_as_system(self, vals):
        """Write guarded fields: for the model's own verbs only, once they checked who acts."""
        with verbs.server_verb(VERB, self):
            return self.write(vals)

    def _event_data(self):
        """What the outbound exception events say."""
        self.ensure_one()
        # sudo: the event names the document for its receivers, whoever acts on the exception (a credit
        # controller may not read every order).
        exception = self.sudo()
        document = exception._document()
        return {
            "reference": exception.name,
            "category": exception.category,
            "kind": exception.kind,
            "severity": exception.severity,
            "state": exception.state,
            "message": exception.message,
            "reason_code": exception.reason_code,
            "document": {
                "model": exception.res_model,
                "id": exception.res_id,
                "name": document.display_name if document is not None else None,
            },
            "owner": exception.user_id.name or None,
            "deadline": exception.deadline and fields.Datetime.to_string(exception.deadline),
            "resolution_note": exception.resolution_note or None,
        }

    def _document(self):
        """The document of the exception (what record_ref shows), or None; read without the reference
        field, whose every assignment lists the models (a search of ir.model per exception)."""
        self.ensure_one()
        if self.res_model in self.env and self.res_id:
            return self.env[self.res_model].browse(self.res_id)
        return None

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
        return self._raise_many(
            [
                {
                    "record": record,
                    "source_key": source_key,
                    "category": category,
                    "message": message,
                    "kind": kind,
                    "severity": severity,
                    "reason_code": reason_code,
                    "rule": rule,
                    "values": values,
                    "blocking": blocking,
                }
            ]
        )

    @api.model
    def _raise_many(self, items):
        """``_raise_for`` of many records at once (a monitor's batch): ``items`` are dicts of its arguments
        (record, source_key, category, message and the optional ones). One search finds the open exceptions
        of them all, each updated; one create makes the missing ones, so that the automation rules on
        creation run once for the batch. Answers the exceptions, in the order of the items."""
        # sudo: exceptions are raised by the system on behalf of whoever triggered the check (a
        # salesperson confirming an order has no right on the exception queue).
        Exception_ = self.sudo()
        if not items:
            return Exception_
        ids_of = defaultdict(set)  # (source key, model): record ids
        for item in items:
            ids_of[(item["source_key"], item["record"]._name)].add(item["record"].id)
        domain = expression.OR(
            [
                [("source_key", "=", source_key), ("res_model", "=", model), ("res_id", "in", list(ids))]
                for (source_key, model), ids in ids_of.items()
            ]
        )
        existing = Exception_.search(expression.AND([domain, [("state", "not in", CLOSED_STATES)]]))
        found = {(exception.source_key, exception.res_model, exception.res_id): exception for exception in existing}
        to_create = {}  # key: vals, in the order of the items
        for item in items:
            record = item["record"]
            key = (item["source_key"], record._name, record.id)
            category = item["category"]
            vals = {
                "message": item["message"],
                "values": item.get("values") or {},
                "reason_code": item.get("reason_code") or category,
                "blocking": item.get("blocking", False),
            }
            if key in found:
                found[key]._write_as_system(vals)
                continue
            company = record.company_id if "company_id" in record and record.company_id else self.env.company
            if record._name == "res.partner":  # an exception on a customer or a vendor names it
                partner = record.commercial_partner_id
            else:
                partner = record.partner_id.commercial_partner_id if "partner_id" in record else self.env["res.partner"]
            rule = item.get("rule")
            to_create[key] = dict(
                vals,
                source_key=item["source_key"],
                category=category,
                kind=item.get("kind") or "business",
                severity=item.get("severity") or "medium",
                rule_id=rule.id if rule else False,
                res_model=record._name,
                res_id=record.id,
                sale_order_id=record.id if record._name == "sale.order" else False,
                partner_id=partner.id,
                company_id=company.id,
            )
        if to_create:
            with verbs.server_verb(VERB, Exception_):
                created = Exception_.create(list(to_create.values()))
            found.update(zip(to_create, created, strict=True))
        return Exception_.union(
            *(found[(item["source_key"], item["record"]._name, item["record"].id)] for item in items)
        )

    @api.model
    def _resolve_for(self, records, source_keys, note):
        """Resolve the open exceptions of these sources on these records (of one model): their condition
        cleared. One search for all of them."""
        if not records:
            return self.sudo()
        # sudo: see _raise_many.
        open_ones = self.sudo().search(
            [
                ("source_key", "in", list(source_keys)),
                ("res_model", "=", records._name),
                ("res_id", "in", records.ids),
                ("state", "not in", CLOSED_STATES),
            ]
        )
        open_ones._mark_resolved(note, auto=True)
        return open_ones

    def _mark_resolved(self, note, auto=False):
        """Verb: the exceptions are resolved with ``note`` (by the current user, or by the system when
        ``auto``); documents waiting on them may go on. For the server's own code: who may resolve is
        checked by the callers (action_resolve for people)."""
        self._close("resolved", {exception: note for exception in self}, auto=auto)

    def _close(self, state, notes, auto=False, settle=True):
        """Close the exceptions in ``state`` (resolved or dismissed), each with its own note from
        ``notes`` ({exception: note}), emit ``exception.resolved`` and, when ``settle``, let the documents
        waiting on them go on (a forced release releases them itself)."""
        if not self:
            return
        now = fields.Datetime.now()
        for exception in self:
            exception._write_as_system(
                {
                    "state": state,
                    "resolution_note": notes.get(exception) or exception.resolution_note,
                    "resolved_at": now,
                    "resolved_by_id": False if auto else self.env.user.id,
                }
            )
            exception.activity_ids.action_feedback(feedback=exception.resolution_note or state)
            self.env["distribution.outbound.event"]._emit("exception.resolved", exception, exception._event_data())
        if settle:
            self._on_resolved()

    def _set_waiting_approval(self):
        """Verb (hook for an approvals addon): the exceptions wait for a decision; emits
        ``exception.updated``."""
        self._move_to("waiting_approval", None)

    def _reopen(self, note=None):
        """Verb: the exceptions go back to work (in progress), with ``note`` when given (a rejection's
        comment); emits ``exception.updated``."""
        self._move_to("in_progress", note)

    def _move_to(self, state, note):
        for exception in self.filtered("is_open"):
            vals = {"state": state}
            if note:
                vals["resolution_note"] = note
            exception._write_as_system(vals)
            self.env["distribution.outbound.event"]._emit("exception.updated", exception, exception._event_data())

    def _on_resolved(self):
        """Hook: documents waiting on these exceptions may go on (held orders confirm themselves)."""
        orders = self.filtered(lambda e: e.res_model == "sale.order").sale_order_id
        if orders:
            orders._distribution_exceptions_cleared()

    # -- routing -------------------------------------------------------------------------------
    def _in_batch_env(self):
        """These exceptions without the keys an automation rule's server action adds to the context of each
        record (active_id...): the exceptions of one batch share one environment. The mail tracking of each
        write keeps its environment alive until the commit, and every new environment is compared with all the
        live ones: one per record makes a batch quadratic."""
        context = {key: value for key, value in self.env.context.items() if key not in AUTOMATION_CONTEXT_KEYS}
        return self.with_env(self.env(context=context))

    def _assign_and_notify(self):
        """Owner, team and deadline from the routing table; an activity for the owner. Called by the
        shipped automation rule 'exception created'."""
        Route = self.env["distribution.exception.route"]
        routes = {}  # (category, company): route, found once for a batch
        for exception in self._in_batch_env():
            key = (exception.category, exception.company_id)
            if key not in routes:
                routes[key] = Route._find(*key)
            route = routes[key]
            sla_hours = route.sla_hours if route and route.sla_hours else DEFAULT_SLA_HOURS.get(exception.category, 24)
            vals = {"deadline": (exception.create_date or fields.Datetime.now()) + timedelta(hours=sla_hours)}
            if route and not exception.user_id:
                vals["user_id"] = route._pick_user(exception).id
                vals["group_id"] = route.group_id.id
            exception.write(vals)
            if exception.user_id:
                exception.activity_schedule(
                    "mail.mail_activity_data_todo",
                    # The deadline's day as the owner reads it (their time zone), not the UTC date.
                    date_deadline=days.local_day(exception.deadline, exception.user_id.tz),
                    user_id=exception.user_id.id,
                    summary=self.env._(
                        "%(ref)s: %(category)s", ref=exception.name, category=dict(CATEGORIES)[exception.category]
                    ),
                    note=exception.message,
                )

    def _notify_vendor_buyer(self):
        """An activity for the buyer of the vendor an exception is about (a lead time drift), unless the
        buyer already owns it. Called by the shipped automation rule 'vendor lead time drift'."""
        for exception in self._in_batch_env().filtered(lambda e: e.res_model == "res.partner"):
            # sudo: the buyer is read on the vendor whoever raised the exception (a scheduled action).
            buyer = self.env["res.partner"].sudo().browse(exception.res_id).commercial_partner_id.buyer_id
            if buyer and buyer != exception.user_id:
                exception.activity_schedule(
                    "mail.mail_activity_data_todo",
                    date_deadline=days.local_day(exception.deadline or fields.Datetime.now(), buyer.tz),
                    user_id=buyer.id,
                    summary=self.env._("%s: vendor lead time", exception.name),
                    note=exception.message,
                )

    # -- actions -------------------------------------------------------------------------------
    def _check_group(self, group, message):
        # The buttons' groups= only hide them: every verb checks on the server who calls it.
        if not self.env.user.has_group(group):
            raise AccessError(message)
        self.check_access("write")

    def _check_closable_by_hand(self):
        """Hook: refuse to close by hand an exception that only another verb settles (an approval)."""
        closed = self.filtered(lambda e: not e.is_open)
        if closed:
            raise UserError(self.env._("%s is closed already.", ", ".join(closed.mapped("name"))))

    def action_start(self):
        """Button: a Distribution User takes the exception in hand."""
        self._check_group(USER_GROUP, self.env._("Only a Distribution User may work an exception."))
        self.filtered(lambda e: e.state == "new")._move_to("in_progress", None)

    def action_resolve(self):
        """Button: a Distribution User resolves by hand; each exception's resolution note says what was done."""
        self._check_group(USER_GROUP, self.env._("Only a Distribution User may resolve an exception."))
        for exception in self:
            if not exception.resolution_note:
                raise UserError(self.env._("Write a resolution note on %s first: what was done?", exception.name))
        self._check_closable_by_hand()
        self._close("resolved", {exception: exception.resolution_note for exception in self})
        self._on_closed_by_hand("resolved")

    def action_dismiss(self):
        """Button: a Distribution Manager dismisses (the condition stands, but nothing is to be done); the
        resolution note says why."""
        self._check_group(MANAGER_GROUP, self.env._("Only a Distribution Manager may dismiss an exception."))
        for exception in self:
            if not exception.resolution_note:
                raise UserError(self.env._("Write why %s is dismissed in the resolution note first.", exception.name))
        self._check_closable_by_hand()
        self._close("dismissed", {exception: exception.resolution_note for exception in self})
        self._on_closed_by_hand("dismissed")

    def _on_closed_by_hand(self, state):
        """Hook: the exceptions were closed by a person (resolved or dismissed); an audit trail records it."""

    def action_open_document(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": self.res_model,
            "res_id": self.res_id,
            "view_mode": "form",
            "views": [(False, "form")],
        }
