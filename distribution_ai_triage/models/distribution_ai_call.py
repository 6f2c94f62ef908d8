import logging
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models

from .distribution_ai_provider import KINDS

_logger = logging.getLogger(__name__)
RETENTION_PARAM = "distribution_observability.run_retention_days"
DEFAULT_RETENTION_DAYS = 90


class DistributionAiCall(models.Model):
    """One question to a classifier (or to a chat provider wording a vendor's risk summary) and its answer:
    what was sent (redacted, as a hash and an excerpt), what came back, how long it took, and what the triage
    did with it. Read by Distribution Managers."""

    _name = "distribution.ai.call"
    _description = "AI Classifier Call"
    _order = "id desc"
    _rec_name = "provider_id"

    provider_id = fields.Many2one("distribution.ai.provider", ondelete="set null", index=True)
    kind = fields.Selection(KINDS, required=True)
    model = fields.Char()
    message_id = fields.Many2one("distribution.triage.message", ondelete="set null", index="btree_not_null")
    lead_time_id = fields.Many2one(
        "distribution.vendor.lead.time",
        "Supplier Lead Time",
        ondelete="set null",
        index="btree_not_null",
        help="The vendor whose risk summary this call worded.",
    )
    input_hash = fields.Char("Input SHA-256", help="Of the redacted text sent.")
    input_excerpt = fields.Text(help="The start of the redacted text sent.")
    output = fields.Json(help="The parsed answer: label, confidence, rationale.")
    label = fields.Char()
    confidence = fields.Float()
    latency_ms = fields.Integer("Latency (ms)")
    tokens = fields.Integer(help="Tokens, when the server reports them.")
    error = fields.Char()
    error_reason = fields.Char(index="btree_not_null")
    fallback = fields.Boolean(help="A provider before this one failed: this one answered in its place.")
    policy = fields.Selection(
        [
            ("triage", "Triage"),
            ("second_opinion", "Second opinion"),
            ("risk_summary", "Risk summary wording"),
            ("test", "Connection test"),
        ],
        required=True,
        default="triage",
    )
    decision_reason = fields.Char(help="What the triage did with the message this call answered.")
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)

    def init(self):
        self.env.cr.execute(
            "CREATE INDEX IF NOT EXISTS distribution_ai_call_company_date_idx "
            "ON distribution_ai_call (company_id, create_date)"
        )

    @api.model
    def _cron_purge(self, batch_size=10000):
        """Delete calls older than the run log's retention (distribution_observability.run_retention_days)."""
        try:
            days = int(self.env["ir.config_parameter"].sudo().get_param(RETENTION_PARAM, DEFAULT_RETENTION_DAYS))
        except ValueError:
            days = DEFAULT_RETENTION_DAYS
        if days <= 0:
            return
        old = self.sudo().search([("create_date", "<", fields.Datetime.now() - timedelta(days=days))], limit=batch_size)
        old.unlink()
        remaining = len(old) == batch_size
        self.env["ir.cron"]._notify_progress(done=len(old), remaining=1 if remaining else 0)
