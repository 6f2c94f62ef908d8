import base64
import csv
import io
import json

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
    ("exception_closed", "Exception closed by hand"),
    ("rule_created", "Rule created"),
    ("rule_changed", "Rule changed"),
    ("rule_deleted", "Rule deleted"),
]
# Advisory lock namespace of the chains (one lock per company, held until the transaction ends).
_LOCK_NAMESPACE = 740_101
# Entries read per query when a chain is verified or exported: memory stays bounded whatever its length.
_BATCH = 2000
# The columns of the CSV export, in order: every stored column, so that the chain can be recomputed
# offline (hash = SHA-256(prev_hash + data), prev_hash = the previous row's hash).
CSV_COLUMNS = [
    "id",
    "company_id",
    "company",
    "sequence",
    "logged_at",
    "actor_id",
    "actor",
    "action",
    "res_model",
    "res_id",
    "record_name",
    "data",
    "prev_hash",
    "hash",
]


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
    actor_id = fields.Many2one("res.users", readonly=True)
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
    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.context.get("distribution_audit_append"):
            raise AccessError(self.env._("Audit entries are written by the system only."))
        return super().create(vals_list)

    # Append-only: no write reaches the table, whoever asks (superuser included).
    def write(self, vals):  # pylint: disable=method-required-super
        raise AccessError(self.env._("Audit entries cannot be changed."))

    @api.ondelete(at_uninstall=False)
    def _unlink_never(self):
        """No deletion through the ORM, superuser included (uninstalling the module drops the table)."""
        raise AccessError(self.env._("Audit entries cannot be deleted."))

    # -- actions -----------------------------------------------------------------------------------
    def action_verify_integrity(self):
        """Verify the chain of every company of the current user and tell the result: the first broken
        entry of each broken chain (position, company, why), or how many entries hold."""
        self.check_access("read")
        companies = self.env.user.company_ids.sorted("id")
        results = [self._verify_chain(company) for company in companies]
        broken = [result for result in results if result["reason"]]
        checked = sum(result["checked"] for result in results)
        if broken:
            message = "\n".join(self._break_message(result) for result in broken)
            return self._notification(self.env._("Audit trail broken"), message, "danger", sticky=True)
        return self._notification(
            self.env._("Audit trail verified"),
            self.env._("%(count)s entries verified, chain intact.", count=checked),
            "success",
        )

    def action_export_csv(self):
        """Download the selected entries (all entries of the current company when none is selected) as
        CSV, in chain order, with every column: an auditor recomputes each hash as SHA-256(prev_hash +
        data) and checks that prev_hash is the previous row's hash."""
        self.check_access("read")
        if self:
            domain = [("id", "in", self.ids)]
            company_label = "-".join(str(company_id) for company_id in sorted(set(self.company_id.ids)))
        else:
            domain = [("company_id", "=", self.env.company.id)]
            company_label = str(self.env.company.id)
        entries = self.search(domain, order="company_id, sequence")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for start in range(0, len(entries), _BATCH):
            batch = entries[start : start + _BATCH]
            for entry in batch:
                writer.writerow(entry._csv_row())
            # Drop what was read: a long chain does not pile up in the cache.
            batch.invalidate_recordset()
        now = fields.Datetime.now()
        # Created as the user (no sudo): an attachment without a record is readable by its creator only.
        attachment = self.env["ir.attachment"].create(
            {
                "name": f"audit-trail-company-{company_label}-{now.strftime('%Y%m%d-%H%M%S')}.csv",
                "res_model": self._name,
                "mimetype": "text/csv",
                "datas": base64.b64encode(buffer.getvalue().encode("utf-8")),
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "self",
        }

    def _csv_row(self):
        self.ensure_one()
        return [
            self.id,
            self.company_id.id,
            self.company_id.name,
            self.sequence,
            fields.Datetime.to_string(self.logged_at),
            self.actor_id.id or "",
            self.actor_id.login or "",
            self.action,
            self.res_model or "",
            self.res_id or "",
            self.record_name or "",
            self.data or "",
            self.prev_hash or "",
            self.hash or "",
        ]

    @api.model
    def _notification(self, title, message, kind, sticky=False):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": title, "message": message, "type": kind, "sticky": sticky},
        }

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
        # Details are stored as JSON and rebuilt from it when the chain is verified: they are normalised
        # first (dates as strings, keys as strings), so that the rebuilt text is the stored one.
        details = json.loads(audit.canonical_json(details))
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
        entry = self.sudo().with_context(distribution_audit_append=True).create(vals)
        # Raw SQL: the head moves with the chain, under the same lock, without writing the company through
        # the ORM (no access check on the company, no write date, no tracking).
        self.env.cr.execute(
            SQL(
                """UPDATE res_company SET distribution_audit_head_sequence = %s, distribution_audit_head_hash = %s
                    WHERE id = %s""",
                sequence,
                vals["hash"],
                company.id,
            )
        )
        company.invalidate_recordset(["distribution_audit_head_sequence", "distribution_audit_head_hash"])
        return entry

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

    # -- verifying ---------------------------------------------------------------------------------
    @api.model
    def _verify_chain(self, company):
        """Walk ``company``'s chain in sequence order and answer a dict: ``checked`` (entries that hold,
        before the first break), and for the first broken entry ``sequence``, ``entry`` (the record; empty
        when it was deleted) and ``reason``: ``missing_entry`` (a position of the chain has no entry: a
        row was deleted), ``broken_link`` (its previous hash is not the previous entry's hash: entries
        removed, reordered or forged), ``data_mismatch`` (its columns no longer match its data) or
        ``hash_mismatch`` (its data no longer matches its hash), or ``tail_missing`` (the chain holds but stops
        before the head recorded on the company: its newest entries were deleted); ``reason`` is None for an
        intact chain.

        The rows are read straight from the table, in batches (bounded memory), so that what is checked
        is what the database holds, whatever the ORM cache says."""
        self.flush_model()
        walk = {"row": None, "missing": None, "count": 0}
        found = audit.first_break(self._chain_entries(company, walk))
        result = {"company": company, "checked": walk["count"], "sequence": None, "entry": self, "reason": None}
        if found is None:
            # The chain holds on its own: it must also reach the head recorded on the company (0: a chain
            # started before the head was recorded).
            # sudo: the head is read for the check, whatever the auditor's rights on companies.
            head = company.sudo()
            head.invalidate_recordset(["distribution_audit_head_sequence", "distribution_audit_head_hash"])
            last_hash = walk["row"]["hash"] if walk["row"] else None
            if head.distribution_audit_head_sequence and (
                walk["count"] != head.distribution_audit_head_sequence or last_hash != head.distribution_audit_head_hash
            ):
                result.update(sequence=walk["count"] + 1, reason="tail_missing")
            return result
        index, reason = found
        result["checked"] = index
        if walk["missing"] is not None:
            result.update(sequence=walk["missing"], reason="missing_entry")
        else:
            row = walk["row"]
            result.update(sequence=row["sequence"], entry=self.browse(row["id"]), reason=reason)
        return result

    @api.model
    def _chain_entries(self, company, walk):
        """The entries of ``company``'s chain as ``services.audit.first_break`` reads them, fetched in
        batches; a gap in the positions yields an entry that cannot link (and stops the walk). ``walk``
        keeps the last row read and the number of entries yielded."""
        after = 0
        while True:
            # Raw SQL: the chain is checked against what the table holds, read in keyset batches (the
            # ORM would go through its cache and load the whole chain).
            self.env.cr.execute(
                SQL(
                    """SELECT id, sequence, logged_at, actor_id, action, res_model, res_id, record_name,
                              data, prev_hash, hash
                         FROM distribution_audit_entry
                        WHERE company_id = %s AND sequence > %s
                     ORDER BY sequence
                        LIMIT %s""",
                    company.id,
                    after,
                    _BATCH,
                )
            )
            rows = self.env.cr.dictfetchall()
            if not rows:
                return
            for row in rows:
                walk["row"] = row
                expected = walk["count"] + 1
                if row["sequence"] != expected:
                    walk["missing"] = expected
                    yield {"prev_hash": None, "data": None, "rebuilt": None, "hash": None}
                    return
                yield {
                    "data": row["data"],
                    "rebuilt": self._rebuild(company, row),
                    "prev_hash": row["prev_hash"],
                    "hash": row["hash"],
                }
                walk["count"] = expected
            after = rows[-1]["sequence"]

    @api.model
    def _rebuild(self, company, row):
        """The canonical JSON an entry's columns give, with the details recorded in its data (None when
        its data is not an entry's JSON)."""
        try:
            details = json.loads(row["data"])["details"]
        except (TypeError, ValueError, KeyError):
            return None
        return self._canonical(dict(row, company_id=company.id), details)

    @api.model
    def _break_message(self, result):
        """A sentence naming the first broken entry of a verification ``result``."""
        reasons = {
            "missing_entry": self.env._("the entry is missing (deleted from the database)"),
            "tail_missing": self.env._(
                "the chain stops before its recorded head (its newest entries were deleted or replaced)"
            ),
            "broken_link": self.env._(
                "its previous hash is not the hash of the entry before it (entries removed, reordered or forged)"
            ),
            "data_mismatch": self.env._("its columns no longer match its recorded data (edited in the database)"),
            "hash_mismatch": self.env._("its data no longer matches its hash (edited in the database)"),
        }
        return self.env._(
            "%(company)s: entry %(sequence)s is broken: %(reason)s. %(count)s entries before it hold.",
            company=result["company"].name,
            sequence=result["sequence"],
            reason=reasons[result["reason"]],
            count=result["checked"],
        )
