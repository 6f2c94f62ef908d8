import base64
import csv
import io
import json
import logging
import os

from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import AccessError
from odoo.tools import SQL
from odoo.tools import config

from ..services import audit

_logger = logging.getLogger(__name__)

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
    ("config_created", "Configuration created"),
    ("config_changed", "Configuration changed"),
    ("config_deleted", "Configuration deleted"),
    ("membership_changed", "Approver membership changed"),
    ("manager_decided", "Decided by a manager (way out)"),
]
# The server verb that appends to a chain: the only way into the table (a context key could be forged).
APPEND_VERB = "distribution_audit_append"
# The event that anchors a chain's head outside the database.
EVENT_HEAD = "audit.head"
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
    "key_id",
]


class DistributionAuditEntry(models.Model):
    """An append-only, hash-chained record of a governed action: who did what, when, on which record,
    with what data. One chain per company: each entry holds the previous entry's hash and
    ``hash = HMAC-SHA256(key, prev_hash + data)`` over its canonical JSON, which covers every column; the
    key comes from the server configuration, never from the database (see ``services/audit.py`` and
    ``_audit_keyring``), so that rewriting the table cannot recompute the chain. Nobody writes or deletes
    an entry through the ORM; "Verify integrity" walks the chain and names the first entry that no longer
    matches (an edit made directly in the database included), and compares it with a head anchored
    outside the database (the ``audit.head`` event, the head file)."""

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
    key_id = fields.Char(readonly=True, help="The id of the key that signed the entry (empty: unkeyed).")

    _sql_constraints = [
        ("chain_position_unique", "UNIQUE(company_id, sequence)", "One entry per position of a company's chain."),
    ]

    # -- append-only ------------------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        # Only _append, a server verb, writes the chain: no caller can set the mark over JSON-RPC.
        if not verbs.inside(APPEND_VERB, self):
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
        return self._verification_notification(results)

    @api.model
    def _verification_notification(self, results):
        """The notification telling verification ``results``: the breaks, or the entries that hold, and
        whether the chain is keyed."""
        broken = [result for result in results if result["reason"]]
        checked = sum(result["checked"] for result in results)
        if broken:
            message = "\n".join(self._break_message(result) for result in broken)
            return self._notification(self.env._("Audit trail broken"), message, "danger", sticky=True)
        message = self.env._("%(count)s entries verified, chain intact.", count=checked)
        current_id, _keys = self._audit_keyring()
        if not current_id:
            message += " " + self.env._(
                "The chain is unkeyed: no audit key is configured (distribution_audit_key in the server "
                "configuration or DISTRIBUTION_AUDIT_KEY), so someone with database access could recompute it."
            )
            return self._notification(self.env._("Audit trail verified, unkeyed"), message, "warning", sticky=True)
        unsigned = sum(result["unsigned"] for result in results)
        if unsigned:
            message += " " + self.env._(
                "%(count)s entries at the start of the chain are not signed with a key: written before a key "
                "was configured, or rewritten by someone without the key. Compare the chain with an anchored head.",
                count=unsigned,
            )
            return self._notification(self.env._("Audit trail verified, partly unkeyed"), message, "warning")
        return self._notification(self.env._("Audit trail verified"), message, "success")

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
            self.key_id or "",
        ]

    @api.model
    def _notification(self, title, message, kind, sticky=False):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": title, "message": message, "type": kind, "sticky": sticky},
        }

    # -- keys ----------------------------------------------------------------------------------------
    @api.model
    def _audit_keyring(self):
        """``(current_id, {id: secret})``: the keys of the chain, from the server configuration
        (``distribution_audit_keys``, ``distribution_audit_key_id``, ``distribution_audit_key``) or the
        environment (``DISTRIBUTION_AUDIT_KEYS``, ``DISTRIBUTION_AUDIT_KEY_ID``, ``DISTRIBUTION_AUDIT_KEY``).
        Never the database: whoever can edit the table must not be able to sign."""
        return audit.parse_keys(
            config.get("distribution_audit_keys") or os.environ.get("DISTRIBUTION_AUDIT_KEYS"),
            config.get("distribution_audit_key_id") or os.environ.get("DISTRIBUTION_AUDIT_KEY_ID"),
            config.get("distribution_audit_key") or os.environ.get("DISTRIBUTION_AUDIT_KEY"),
        )

    # -- appending ---------------------------------------------------------------------------------
    @api.model
    def _append(self, action, record, details, company=None):
        """Append an entry to the company's chain: ``action`` done by the current user on ``record``
        (a recordset of one, or None), with ``details`` (JSON-serialisable), signed with the current key.

        The company's head row is locked (``FOR NO KEY UPDATE``) and read from it: two concurrent appends
        of one company take turns, and the second one, whose snapshot predates the first one's commit,
        fails with a serialization failure that Odoo retries in a new transaction, never with a
        duplicate position."""
        company = company or (
            record.company_id
            if record is not None and "company_id" in record._fields and record.company_id
            else self.env.company
        )
        # Details are stored as JSON and rebuilt from it when the chain is verified: they are normalised
        # first (dates as strings, keys as strings), so that the rebuilt text is the stored one.
        details = json.loads(audit.canonical_json(details))
        sequence, prev_hash = self._lock_head(company)
        key_id, keys = self._audit_keyring()
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
            "key_id": key_id or False,
        }
        vals["data"] = self._canonical(vals, details)
        vals["hash"] = audit.chain_hash(prev_hash, vals["data"], keys.get(key_id) if key_id else None)
        # sudo: every user's governed action is logged, whatever their rights on the trail (read-only
        # for auditors); the server verb is the only way in.
        with verbs.server_verb(APPEND_VERB, self.browse()):
            entry = self.sudo().create(vals)
        # Raw SQL: the head moves with the chain, on the row locked above, without writing the company
        # through the ORM (no access check on the company, no write date, no tracking).
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
    def _lock_head(self, company):
        """Lock the head of ``company``'s chain until the transaction ends and answer the next entry's
        ``(sequence, prev_hash)``. A head moved by a transaction committed after this one began raises
        a serialization failure (REPEATABLE READ), which Odoo's RPC layer and the scheduler retry."""
        # Raw SQL: a row lock has no ORM equivalent. NO KEY UPDATE, not UPDATE: rows that merely
        # reference the company (every order, the entry itself) take KEY SHARE locks and must not wait.
        self.env.cr.execute(
            SQL(
                """SELECT coalesce(distribution_audit_head_sequence, 0), distribution_audit_head_hash
                     FROM res_company WHERE id = %s FOR NO KEY UPDATE""",
                company.id,
            ),
            # A serialization failure here is expected under concurrency and retried: not a bad query.
            log_exceptions=False,
        )
        head_sequence, head_hash = self.env.cr.fetchone()
        # Raw SQL: the newest entry, read under the lock; it is the head, except for a chain begun before
        # the company recorded its head.
        self.env.cr.execute(
            SQL(
                """SELECT sequence, hash FROM distribution_audit_entry
                    WHERE company_id = %s ORDER BY sequence DESC LIMIT 1""",
                company.id,
            )
        )
        last = self.env.cr.fetchone()
        if head_sequence and (not last or last[0] <= head_sequence):
            # The head is authoritative: entries deleted at the tail are not silently re-used.
            return head_sequence + 1, head_hash
        return (last[0] + 1, last[1]) if last else (1, audit.GENESIS)

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
        walk = {"row": None, "missing": None, "count": 0, "unsigned": 0}
        key_id, keys = self._audit_keyring()
        found = audit.first_break(self._chain_entries(company, walk), keys)
        result = {
            "company": company,
            "checked": walk["count"],
            "sequence": None,
            "entry": self,
            "reason": None,
            "keyed": bool(key_id),
            "unsigned": walk["unsigned"],
            "head": {"sequence": walk["count"], "hash": walk["row"]["hash"] if walk["row"] else audit.GENESIS},
        }
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
        result["unsigned"] = min(walk["unsigned"], index)
        if walk["missing"] is not None:
            result.update(sequence=walk["missing"], reason="missing_entry")
        else:
            row = walk["row"]
            result.update(sequence=row["sequence"], entry=self.browse(row["id"]), reason=reason)
        return result

    @api.model
    def _verify_anchor(self, head):
        """Verify a chain against a head anchored outside the database (a parsed ``audit.head`` line):
        the chain's own verification, then the anchored position must still hold the anchored hash.
        Answers a verification result like ``_verify_chain``'s."""
        # sudo: the anchored company is checked whatever the auditor's rights on companies; the chain
        # itself is read below with the record rules of the auditor.
        company = self.env["res.company"].sudo().browse(head["company_id"]).exists()
        if not company or company not in self.env.user.company_ids:
            raise AccessError(self.env._("The anchored head names a company you do not audit."))
        result = self._verify_chain(company)
        _key_id, keys = self._audit_keyring()
        if audit.head_signature_valid(head, keys) is False:
            return dict(result, sequence=head["sequence"], entry=self, reason="anchor_forged")
        if result["reason"]:
            return result
        # Raw SQL: what the table holds at the anchored position, whatever the ORM cache says.
        self.env.cr.execute(
            SQL(
                "SELECT id, hash FROM distribution_audit_entry WHERE company_id = %s AND sequence = %s",
                company.id,
                head["sequence"],
            )
        )
        row = self.env.cr.fetchone()
        if not row:
            return dict(result, sequence=head["sequence"], entry=self, reason="anchor_missing")
        if row[1] != head["hash"]:
            return dict(result, sequence=head["sequence"], entry=self.browse(row[0]), reason="anchor_mismatch")
        return result

    # -- anchoring ---------------------------------------------------------------------------------
    @api.model
    def _signed_head(self, company):
        """The head of ``company``'s chain as a signed line (see ``services.audit.sign_head``)."""
        # sudo: the head is read by the system for the anchor, whatever the user's rights on companies.
        company = company.sudo()
        key_id, keys = self._audit_keyring()
        head = {
            "company_id": company.id,
            "company": company.name,
            "sequence": company.distribution_audit_head_sequence,
            "hash": company.distribution_audit_head_hash,
            "anchored_at": fields.Datetime.to_string(fields.Datetime.now()),
            "key_id": key_id,
        }
        return audit.sign_head(head, keys.get(key_id) if key_id else None)

    @api.model
    def _cron_anchor_heads(self):
        """Anchor the head of every company's chain outside the database: an ``audit.head`` event through
        the outbox (the receiver keeps it) and one signed line per company appended to the head file
        (``distribution_audit_head_file`` in the server configuration, or DISTRIBUTION_AUDIT_HEAD_FILE).
        "Verify against an anchored head" takes such a line back. Answers the lines written."""
        # sudo: anchoring is the system's work, whatever user the scheduled action runs as.
        companies = self.env["res.company"].sudo().search([("distribution_audit_head_sequence", ">", 0)])
        companies.invalidate_recordset(["distribution_audit_head_sequence", "distribution_audit_head_hash"])
        lines = []
        Outbox = self.env["distribution.outbound.event"].sudo()
        for company in companies:
            line = self._signed_head(company)
            lines.append(line)
            # The company of the event is the chain's: the event goes to that company's endpoints.
            Outbox.with_company(company)._emit(EVENT_HEAD, company, json.loads(line))
        path = config.get("distribution_audit_head_file") or os.environ.get("DISTRIBUTION_AUDIT_HEAD_FILE")
        if path and lines:
            try:
                with open(path, "a", encoding="utf-8") as head_file:
                    head_file.write("".join(f"{line}\n" for line in lines))
            except OSError as error:
                # The event went out all the same; the operator is told through the log.
                _logger.warning("Audit trail: the head file %s cannot be written: %s", path, error)
        self.env["ir.cron"]._notify_progress(done=len(lines), remaining=0)
        return lines

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
                              data, prev_hash, hash, key_id
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
                    yield {"prev_hash": None, "data": None, "rebuilt": None, "hash": None, "key_id": None}
                    return
                yield {
                    "data": row["data"],
                    "rebuilt": self._rebuild(company, row),
                    "prev_hash": row["prev_hash"],
                    "hash": row["hash"],
                    "key_id": row["key_id"] or None,
                }
                walk["count"] = expected
                walk["unsigned"] += 0 if row["key_id"] else 1
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
            "unsigned_entry": self.env._(
                "it is not signed with a key although entries before it are (rewritten by someone without the key)"
            ),
            "unknown_key": self.env._(
                "it is signed with a key that is not configured (keep every key that signed entries in "
                "distribution_audit_keys)"
            ),
            "anchor_mismatch": self.env._("it does not match the head anchored outside the database (rewritten)"),
            "anchor_missing": self.env._(
                "the chain stops before the head anchored outside the database (its newest entries were deleted)"
            ),
            "anchor_forged": self.env._("the anchored head given is not signed by a configured key"),
        }
        return self.env._(
            "%(company)s: entry %(sequence)s is broken: %(reason)s. %(count)s entries before it hold.",
            company=result["company"].name,
            sequence=result["sequence"],
            reason=reasons[result["reason"]],
            count=result["checked"],
        )
