import re
import secrets

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

MANAGER_GROUP = "distribution_observability.group_distribution_manager"
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
HANDLERS = [
    ("carrier_status", "Carrier status"),
    ("supplier_update", "Supplier update"),
    ("exception_report", "Exception report"),
    ("channel_order", "Customer channel order"),
]


class DistributionInboundEndpoint(models.Model):
    """Where a partner system posts signed events: ``POST /distribution/webhook/<code>``. Each endpoint
    has its own secret (HMAC-SHA256 key) and one handler that gives the events their meaning."""

    _name = "distribution.inbound.endpoint"
    _description = "Inbound Webhook Endpoint"
    _order = "name, id"

    name = fields.Char(required=True)
    code = fields.Char(required=True, copy=False, help="The last part of the webhook URL (letters, digits, - and _).")
    secret = fields.Char(
        required=True,
        copy=False,
        groups=MANAGER_GROUP,
        default=lambda self: secrets.token_urlsafe(32),
        help="The shared HMAC-SHA256 key the sender signs each request with. Never logged.",
    )
    handler = fields.Selection(HANDLERS, required=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)
    url = fields.Char("Webhook URL", compute="_compute_url")
    event_ids = fields.One2many("distribution.inbound.event", "endpoint_id", "Received Events")
    event_count = fields.Integer("Events", compute="_compute_event_counts")
    pending_count = fields.Integer("Unprocessed", compute="_compute_event_counts")
    exception_count = fields.Integer("In Exception", compute="_compute_event_counts")
    # Counted from the append-only rejection log (last 30 days), never stored on the endpoint row: a flood
    # of forged requests would make it a hot row.
    rejection_ids = fields.One2many("distribution.inbound.rejection", "endpoint_id", "Rejections")
    rejected_count = fields.Integer(
        "Rejected",
        compute="_compute_rejections",
        help="Requests refused in the last 30 days: bad signature, stale timestamp, " "too big, invalid body.",
    )
    last_rejected_at = fields.Datetime(compute="_compute_rejections")
    last_rejection_reason = fields.Char(compute="_compute_rejections")

    _sql_constraints = [
        ("code_unique", "unique(code)", "The code of an inbound endpoint is its URL: it must be unique."),
    ]

    @api.constrains("code")
    def _check_code(self):
        for endpoint in self:
            if not CODE_PATTERN.match(endpoint.code or ""):
                raise ValidationError(
                    self.env._("The code %s may only hold letters, digits, '-' and '_' (at most 64).", endpoint.code)
                )

    @api.depends("code")
    def _compute_url(self):
        base = self.get_base_url()
        for endpoint in self:
            endpoint.url = f"{base}/distribution/webhook/{endpoint.code}" if endpoint.code else False

    def _compute_event_counts(self):
        counts = {
            (endpoint.id, state): count
            for endpoint, state, count in self.env["distribution.inbound.event"]._read_group(
                [("endpoint_id", "in", self.ids)], ["endpoint_id", "state"], ["__count"]
            )
        }
        for endpoint in self:
            by_state = {state: count for (endpoint_id, state), count in counts.items() if endpoint_id == endpoint.id}
            endpoint.event_count = sum(by_state.values())
            endpoint.pending_count = by_state.get("received", 0) + by_state.get("failed", 0)
            endpoint.exception_count = by_state.get("exception", 0)

    def _compute_rejections(self):
        Rejection = self.env["distribution.inbound.rejection"]
        stats = {}
        if self.ids:
            Rejection.flush_model()
            # Raw SQL: count and latest row per endpoint in one statement (a window and DISTINCT ON). The log
            # is manager-only; these figures summarise it to whoever reads the endpoint (a manager, by the ACL).
            self.env.cr.execute(
                SQL(
                    """SELECT DISTINCT ON (endpoint_id) endpoint_id, count(*) OVER (PARTITION BY endpoint_id),
                          rejected_at, reason
                     FROM %s WHERE endpoint_id IN %s
                 ORDER BY endpoint_id, rejected_at DESC, id DESC""",
                    SQL.identifier(Rejection._table),
                    tuple(self.ids),
                )
            )
            stats = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        for endpoint in self:
            count, last, reason = stats.get(endpoint.id, (0, False, False))
            endpoint.rejected_count = count
            endpoint.last_rejected_at = last
            endpoint.last_rejection_reason = reason

    def action_view_events(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_orchestration.distribution_inbound_event_action"
        )
        action["domain"] = [("endpoint_id", "=", self.id)]
        action["context"] = {"default_endpoint_id": self.id}
        return action

    def action_regenerate_secret(self):
        """A new secret: the sender must be given it before its next request."""
        self.write({"secret": secrets.token_urlsafe(32)})

    # -- request side (the controller) ---------------------------------------------------------
    @api.model
    def _inbox_endpoint(self, code):
        """The active endpoint of a code, its secret and handler read in one query."""
        if not code or not CODE_PATTERN.match(code):
            return self.browse()
        return self.search_fetch([("code", "=", code)], ["secret", "handler", "company_id"], limit=1)

    def _count_rejection(self, reason, status=None):
        """Count a refused request: one row appended to the rejection log (no update of the endpoint)."""
        self.ensure_one()
        if status is None:
            head = (reason or "").split(" ", 1)[0]
            status = int(head) if head.isdigit() else 0
        self.env["distribution.inbound.rejection"]._append(self, status, reason)
        self.invalidate_recordset(["rejected_count", "last_rejected_at", "last_rejection_reason"])
