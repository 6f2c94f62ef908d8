from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..services import audit

ACTIONS = [
    ("requested", "Requested"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
    ("auto_approved", "Auto-approved"),
    ("escalated", "Escalated"),
    ("cancelled", "Cancelled"),
    ("forced_release", "Forced release"),
    ("rule_created", "Rule created"),
    ("rule_changed", "Rule changed"),
    ("rule_deleted", "Rule deleted"),
]
# Advisory lock namespace of the chains (one lock per company, held until the transaction ends).
_LOCK_NAMESPACE = 740_101


class DistributionAuditEntry(models.Model):
    """An append-only, hash-chained record of a governed action: who did what, when, on which record,
    with what data. One chain per company: each entry holds the previous entry's hash and
    ``hash = SHA-256(prev_hash + data)`` over its canonical JSON, which covers every column. Nobody
    writes or deletes an entry through the ORM; "Verify integrity" walks the chain and names the first
    entry that no longer matches (an edit made directly in the database included)."""

    _name = "distribution.audit.entry"
    _description = "Distribution Audit Entry"
    _order = "company_id, sequence desc"
    _rec_name = "sequence"

    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    sequence = fields.Integer(required=True, readonly=True, help="Position in the company's chain, from 1.")
    logged_at = fields.Datetime("Time", required=True, readonly=True)
    actor_id = fields.Many2one("res.users", "Actor", readonly=True)
    action = fields.Selection(ACTIONS, required=True, readonly=True, index=True)
    res_model = fields.Char("Model", readonly=True, index=True)
    res_id = fields.Integer("Record ID", readonly=True)
    record_name = fields.Char("Record", readonly=True)
    data = fields.Text(readonly=True, help="Canonical JSON of the entry: what the hash covers.")
    prev_hash = fields.Char("Previous Hash", readonly=True)
    hash = fields.Char(readonly=True, index=True)

    _sql_constraints = [
        ("chain_position_unique", "UNIQUE(company_id, sequence)", "One entry per position of a company's chain."),
    ]

    # -- append-only ------------------------------------------------------------------------------
    def write(self, vals):
        raise AccessError(self.env._("Audit entries cannot be changed."))

    def unlink(self):
        raise AccessError(self.env._("Audit entries cannot be deleted."))

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.context.get("distribution_audit_append"):
            raise AccessError(self.env._("Audit entries are written by the system only."))
        return super().create(vals_list)

    # -- appending ---------------------------------------------------------------------------------
    @api.model
    def _append(self, action, record, details, company=None):
        """Append an entry to the company's chain: ``action`` done by the current user on ``record``
        (a recordset of one, or None), with ``details`` (JSON-serialisable). Concurrent appends of one
        company wait on each other (a transaction-level advisory lock), so the chain never forks."""
        company = company or (
            record.company_id
            if record is not None and "company_id" in record._fields and record.company_id
            else self.env.company
        )
        # Raw SQL: an advisory lock serialises the appends of one company until the transaction ends.
        self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(%s, %s)", _LOCK_NAMESPACE, company.id))
        self.env.cr.execute(
            SQL(
                """SELECT sequence, hash FROM distribution_audit_entry
                    WHERE company_id = %s ORDER BY sequence DESC LIMIT 1""",
                company.id,
            )
        )
        last = self.env.cr.fetchone()
        sequence, prev_hash = (last[0] + 1, last[1]) if last else (1, audit.GENESIS)
        vals = {
            "company_id": company.id,
            "sequence": sequence,
            "logged_at": fields.Datetime.now(),
            "actor_id": self.env.user.id,
            "action": action,
            "res_model": record._name if record is not None else False,
            "res_id": record.id if record is not None else 0,
            "record_name": record.display_name if record is not None else False,
            "prev_hash": prev_hash,
        }
        vals["data"] = self._canonical(vals, details)
        vals["hash"] = audit.chain_hash(prev_hash, vals["data"])
        # sudo: every user's governed action is logged, whatever their rights on the trail (read-only
        # for auditors); the context flag is the only way in.
        return self.sudo().with_context(distribution_audit_append=True).create(vals)

    @api.model
    def _canonical(self, vals, details):
        """The canonical JSON of an entry: its columns and its details."""
        logged_at = vals["logged_at"]
        return audit.canonical_json(
            {
                "company_id": vals["company_id"],
                "sequence": vals["sequence"],
                "logged_at": fields.Datetime.to_string(logged_at) if not isinstance(logged_at, str) else logged_at,
                "actor_id": vals["actor_id"] or None,
                "action": vals["action"],
                "res_model": vals["res_model"] or None,
                "res_id": vals["res_id"] or None,
                "record_name": vals["record_name"] or None,
                "details": details,
            }
        )
