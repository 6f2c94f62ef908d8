from markupsafe import Markup

from odoo import api
from odoo import fields
from odoo import models

from ..services import dispatch

URGENT_SCORE_PARAM = "distribution_orchestration.urgent_score"
URGENT_PRIORITY = "1"


class StockPicking(models.Model):
    """Outgoing deliveries carry a dispatch score; the most urgent get the urgent priority (the star).

    Priority policy: the scoring only **raises** a priority, never lowers one, and raises it once per
    picking. A star may have been set by a person, or by an earlier scoring that a supervisor relies on;
    a delivery whose score falls back below the threshold keeps its star until someone removes it. And a
    star a person removed after the scoring set it stays removed: the scoring does not set it again.
    Each raise is recorded: ``dispatch_priority_raised`` on the picking, a note in its chatter and the
    pickings in the message of the ``dispatch_scoring`` run.
    """

    _name = "stock.picking"
    _inherit = ["stock.picking", "distribution.dispatch.mixin"]

    # The score reads the order's figures through this field, not through sale_id: a dependency on
    # sale_id.* makes the ORM read the order's picking_ids (the inverse of sale_id) whenever those figures
    # change, e.g. at confirmation (date_order, hence currency_rate) before the deliveries exist; picking_ids
    # then stayed cached in creation order, and Odoo's code reading it later saw another order than without
    # this addon. A field without an inverse one2many is followed back with a search, which caches nothing.
    dispatch_order_id = fields.Many2one(
        "sale.order",
        "Scored Sales Order",
        related="sale_id",
        store=True,
        index="btree_not_null",
        help="The sales order whose promise and value the dispatch score reads: the transfer's sales order.",
    )
    dispatch_priority_raised = fields.Boolean(
        "Starred by Dispatch Score",
        readonly=True,
        copy=False,
        help="The urgent priority was set by the dispatch scoring, its score having reached the urgent threshold.",
    )

    def _dispatch_depends(self):
        return [
            *super()._dispatch_depends(),
            "state",
            "picking_type_id",
            "scheduled_date",
            "partner_id",
            "dispatch_order_id.commitment_date",
            "dispatch_order_id.amount_total",
            "dispatch_order_id.currency_rate",
        ]

    @api.model
    def _dispatch_open_domain(self):
        return [("picking_type_code", "=", "outgoing"), ("state", "not in", ("done", "cancel"))]

    def _get_dispatch_inputs(self, now):
        """Outgoing and not done: SLA tier of the commercial partner, the promise to the customer
        (_distribution_promise_date), value = the sale order's total in company currency."""
        inputs = dict.fromkeys(self.ids)
        for picking in self:
            if picking.picking_type_code != "outgoing" or picking.state in ("done", "cancel"):
                continue
            order = picking.sale_id
            tier = picking.partner_id.commercial_partner_id.distribution_sla_tier_id
            value = order.amount_total / order.currency_rate if order and order.currency_rate else 0.0
            inputs[picking.id] = {
                "sla_target_hours": tier.target_hours if tier else None,
                "hours_to_promise": dispatch.hours_between(now, picking._distribution_promise_date()),
                "order_value": value,
                "tier_weight": tier.weight if tier else 1.0,
            }
        return inputs

    @api.model
    def _cron_recompute_dispatch_scores(self):
        """Also star the deliveries that the ORM scored urgent since the last run (a new delivery, a date
        moved earlier): fresh, so not rescored by the stale pass, but not starred yet."""
        scored = super()._cron_recompute_dispatch_scores()
        pending = self.search(
            [
                *self._dispatch_open_domain(),
                ("dispatch_score", ">=", self._dispatch_urgent_score()),
                ("priority", "!=", URGENT_PRIORITY),
                ("dispatch_priority_raised", "=", False),
                ("id", "not in", scored.ids),
            ],
            limit=self._dispatch_batch_size,
        )._dispatch_claim()
        pending._recompute_dispatch_score()
        return scored | pending

    def _dispatch_urgent_score(self):
        param = self.env["ir.config_parameter"].sudo().get_param(URGENT_SCORE_PARAM)
        try:
            return float(param) if param else dispatch.DEFAULT_URGENT_SCORE
        except ValueError:
            return dispatch.DEFAULT_URGENT_SCORE

    def _dispatch_after_scoring(self, run):
        """Star the open outgoing pickings whose score reached the urgent threshold (only raise, once)."""
        super()._dispatch_after_scoring(run)
        threshold = self._dispatch_urgent_score()
        to_raise = self.filtered(
            lambda p: p.picking_type_code == "outgoing"
            and p.state not in ("done", "cancel")
            and p.priority != URGENT_PRIORITY
            and not p.dispatch_priority_raised
            and dispatch.is_urgent(p.dispatch_score, threshold)
        )
        if not to_raise:
            return
        to_raise.write({"priority": URGENT_PRIORITY, "dispatch_priority_raised": True})
        to_raise._message_log_batch(
            {
                picking.id: Markup("%s")
                % self.env._(
                    "Priority raised to urgent: dispatch score %(score).2f reached the threshold %(threshold).2f.",
                    score=picking.dispatch_score,
                    threshold=threshold,
                )
                for picking in to_raise
            }
        )
        run.message = self.env._(
            "%(count)s records scored, %(raised)s raised to urgent: %(names)s",
            count=len(self),
            raised=len(to_raise),
            names=", ".join(to_raise.mapped("name"))[:1000],
        )

    # -- carrier status (signed inbound webhooks, handler carrier_status) ----------------------
    # Own fields: carrier_tracking_ref belongs to the `delivery` module, which is not a dependency.
    distribution_tracking_ref = fields.Char(
        "Carrier Tracking Number",
        copy=False,
        index="btree_not_null",
        help="The carrier's tracking number; inbound carrier events find the delivery by it.",
    )
    distribution_carrier_status = fields.Selection(
        [("in_transit", "In transit"), ("delivered", "Delivered"), ("delayed", "Delayed"), ("exception", "Exception")],
        "Carrier Status",
        readonly=True,
        copy=False,
    )
    distribution_carrier_eta = fields.Datetime("Carrier ETA", readonly=True, copy=False)
    distribution_carrier_event_at = fields.Datetime("Last Carrier Event", readonly=True, copy=False)

    def _distribution_promise_date(self):
        """What the customer was promised for this delivery: the order's promise
        (sale.order._distribution_promise_date), else the transfer's deadline, else its scheduled date."""
        self.ensure_one()
        if self.sale_id:
            return self.sale_id._distribution_promise_date()
        return self.date_deadline or self.scheduled_date

    def _distribution_record_carrier_event(self, status, eta, event_at, tracking_ref=None):
        """Record a carrier event (status, ETA, time); an ETA beyond the promise
        (_distribution_promise_date) raises ``late_transfer``, and so does a carrier exception or delay
        that gives no ETA (nobody can tell the customer when); an ETA back within the promise or a
        delivery resolves it. An event older than the last one recorded changes nothing. Never validates
        the picking: only the warehouse does. Returns the exception raised, if any."""
        self.ensure_one()
        Exception_ = self.env["distribution.exception"]
        if self.distribution_carrier_event_at and event_at and event_at < self.distribution_carrier_event_at:
            return Exception_
        vals = {"distribution_carrier_status": status, "distribution_carrier_event_at": event_at}
        if eta or status == "delivered":
            vals["distribution_carrier_eta"] = eta or event_at
        if tracking_ref and not self.distribution_tracking_ref:
            vals["distribution_tracking_ref"] = tracking_ref
        self.write(vals)
        promise = self._distribution_promise_date()
        if status in ("exception", "delayed") and not eta:
            return Exception_._raise_for(
                self,
                "carrier_late",
                "late_transfer",
                self.env._(
                    "The carrier reports %(status)s on %(picking)s with no new delivery date. Ask the carrier "
                    "when it will arrive and warn the customer (promised %(promise)s).",
                    status=dict(self._fields["distribution_carrier_status"]._description_selection(self.env))[status],
                    picking=self.name,
                    promise=promise or "-",
                ),
                severity="high" if status == "exception" else "medium",
                reason_code=f"carrier_{status}",
                values={
                    "eta": None,
                    "promise": str(promise) if promise else None,
                    "status": status,
                    "tracking_ref": tracking_ref,
                },
            )
        eta = self.distribution_carrier_eta
        if status != "delivered" and eta and promise and eta > promise:
            return Exception_._raise_for(
                self,
                "carrier_late",
                "late_transfer",
                self.env._(
                    "The carrier expects %(picking)s on %(eta)s, after the promised %(promise)s (status: "
                    "%(status)s). Warn the customer or arrange a faster shipment.",
                    picking=self.name,
                    eta=eta,
                    promise=promise,
                    status=status,
                ),
                severity="high",
                reason_code="carrier_eta_late",
                values={"eta": str(eta), "promise": str(promise), "status": status, "tracking_ref": tracking_ref},
            )
        Exception_._resolve_for(self, ["carrier_late"], self.env._("The carrier's ETA is back within the promise."))
        return Exception_

    def write(self, vals):
        """Tell the outside world when the priority of a delivery changes (picking.priority_changed)."""
        if "priority" not in vals:
            return super().write(vals)
        before = {picking.id: picking.priority for picking in self}
        result = super().write(vals)
        changed = self.filtered(lambda p: p.picking_type_code == "outgoing" and p.priority != before[p.id])
        if changed:
            self.env["distribution.outbound.event"]._emit_many(
                "picking.priority_changed",
                [
                    (
                        picking,
                        {
                            "picking": picking.name,
                            "order": picking.sale_id.name or None,
                            "customer": picking.partner_id.commercial_partner_id.display_name,
                            "priority": picking.priority,
                            "previous_priority": before[picking.id],
                            "dispatch_score": picking.dispatch_score,
                            "by_dispatch_scoring": bool(picking.dispatch_priority_raised),
                            "scheduled_date": picking.scheduled_date
                            and fields.Datetime.to_string(picking.scheduled_date),
                        },
                    )
                    for picking in changed
                ],
            )
        return result
