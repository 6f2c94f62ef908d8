from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.tools import SQL

RETENTION_DAYS = 30


class DistributionInboundRejection(models.Model):
    """One refused webhook request (bad signature, stale timestamp, too big, invalid body): an
    append-only row, so that a flood of forged requests never updates one hot endpoint row (concurrent
    updates of one row end in serialization failures, retried, then 500s). The endpoint's rejection
    figures and the alert rules count these rows; the reconciliation deletes those older than 30 days."""

    _name = "distribution.inbound.rejection"
    _description = "Inbound Webhook Rejection"
    _order = "rejected_at desc, id desc"
    _log_access = False  # written by raw INSERT on the request path; rejected_at dates it

    endpoint_id = fields.Many2one(
        "distribution.inbound.endpoint", required=True, index=True, ondelete="cascade", readonly=True
    )
    rejected_at = fields.Datetime(required=True, readonly=True, index=True)
    status = fields.Integer("HTTP Status", readonly=True, aggregator=False)
    reason = fields.Char(readonly=True)
    company_id = fields.Many2one(related="endpoint_id.company_id", store=True)

    @api.model
    def _append(self, endpoint, status, reason):
        """Store one rejection. Raw SQL: one INSERT on the request path, no read, no ORM bookkeeping."""
        self.env.cr.execute(
            SQL(
                "INSERT INTO %s (endpoint_id, rejected_at, status, reason, company_id)"
                " VALUES (%s, now() at time zone 'UTC', %s, %s, %s)",
                SQL.identifier(self._table),
                endpoint.id,
                status,
                (reason or "")[:200],
                endpoint.company_id.id,
            )
        )

    @api.model
    def _count_since(self, since, endpoints=None):
        """Rejections since ``since`` per endpoint id (of ``endpoints``, or all): what an alert rule on
        "inbound rejections spiking" reads."""
        domain = [("rejected_at", ">=", since)]
        if endpoints is not None:
            domain.append(("endpoint_id", "in", endpoints.ids))
        return {endpoint.id: count for endpoint, count in self._read_group(domain, ["endpoint_id"], ["__count"])}

    @api.model
    def _purge(self, now, days=RETENTION_DAYS):
        """Delete the rejections older than ``days``. Raw SQL: one bounded DELETE, nothing to cascade."""
        self.env.cr.execute(
            SQL("DELETE FROM %s WHERE rejected_at < %s", SQL.identifier(self._table), now - timedelta(days=days))
        )
        return self.env.cr.rowcount
