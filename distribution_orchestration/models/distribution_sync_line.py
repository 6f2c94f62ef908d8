import csv
import io

from odoo import api
from odoo import fields
from odoo import models
from odoo import tools
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..services import sync

SYNC_STATES = [
    ("queued", "Queued"),
    ("sent", "Sent"),
    ("acked", "Acknowledged"),
    ("failed", "Failed"),
]
RECONCILE_REASONS = [
    ("changed", "Changed since acknowledged"),
    ("unacknowledged", "Latest version not acknowledged"),
    ("deleted", "Deleted since sent"),
]
CSV_FIELDS = (
    "document_model",
    "document_id",
    "document_name",
    "endpoint",
    "event_type",
    "event_id",
    "version_hash",
    "version_at",
    "sent_at",
    "acked_at",
    "state",
    "receiver_reference",
    "attempts",
    "company",
)


class DistributionSyncLine(models.Model):
    """One event sent to a system of record (an endpoint marked *System of record sync*): which document,
    which version of it (a hash of what the event said), sent when, acknowledged when, and the receiver's
    own reference read from its answer.

    Lines are written by the outbox only (as the system: nobody has the right to create, change or delete
    one), when the event is emitted and at each delivery attempt, so that finance reads what was really
    sent and answered. The reconciliation lists the documents changed since their last acknowledged sync.
    """

    _name = "distribution.sync.line"
    _description = "System of Record Sync Line"
    _order = "id desc"
    _rec_name = "document_name"

    event_id = fields.Many2one("distribution.outbound.event", "Outbound Event", readonly=True, ondelete="set null")
    event_uuid = fields.Char("Event ID", readonly=True, index=True)
    event_type = fields.Char("Type", readonly=True, index=True)
    endpoint_id = fields.Many2one(
        "distribution.outbound.endpoint", required=True, readonly=True, index=True, ondelete="cascade"
    )
    res_model = fields.Char("Document Model", readonly=True, index=True)
    res_id = fields.Many2oneReference("Document ID", model_field="res_model", readonly=True)
    document_name = fields.Char("Document", readonly=True, help="The document's name when the event was emitted.")
    record_ref = fields.Reference(
        selection="_selection_record_ref", string="Open Document", compute="_compute_record_ref"
    )
    version_hash = fields.Char(readonly=True, index=True, help="SHA-256 of what the event said about the document.")
    version_short = fields.Char("Version", compute="_compute_version_short")
    version_at = fields.Datetime(
        "Version Of", readonly=True, help="When the event was emitted: the document as it was then."
    )
    sent_at = fields.Datetime("First Sent", readonly=True)
    last_attempt_at = fields.Datetime("Last Attempt", readonly=True)
    acked_at = fields.Datetime("Acknowledged", readonly=True, index=True)
    attempts = fields.Integer(readonly=True)
    last_status_code = fields.Integer("Last HTTP Status", readonly=True, aggregator=False)
    receiver_ref = fields.Char("Receiver Reference", readonly=True, index="btree_not_null")
    state = fields.Selection(SYNC_STATES, required=True, default="queued", readonly=True, index=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    reconcile_reason = fields.Selection(
        RECONCILE_REASONS,
        "To Reconcile",
        compute="_compute_reconcile_reason",
        search="_search_reconcile_reason",
        help="Set on the latest line of a document whose receiver does not hold its current version.",
    )
    document_changed_at = fields.Datetime("Document Changed", compute="_compute_reconcile_reason")

    def init(self):
        # The latest line of each document and endpoint (the reconciliation's anti-join).
        tools.create_index(
            self._cr, "distribution_sync_line_document_idx", self._table, ["endpoint_id", "res_model", "res_id", "id"]
        )

    @api.model
    def _selection_record_ref(self):
        return self.env["distribution.outbound.event"]._selection_record_ref()

    @api.depends("version_hash")
    def _compute_version_short(self):
        for line in self:
            line.version_short = (line.version_hash or "")[:12]

    @api.depends("res_model", "res_id")
    def _compute_record_ref(self):
        for line in self:
            valid = line.res_model in self.env and line.res_id
            line.record_ref = f"{line.res_model},{line.res_id}" if valid else False

    # -- writing (the outbox only) -------------------------------------------------------------------
    @api.model
    def _sync_log_emitted(self, events):
        """One queued line per event of ``events`` whose endpoint is a system of record."""
        events = events.filtered(lambda event: event.endpoint_id.sync_of_record)
        if not events:
            return self.browse()
        names = {}
        for model, ids in self._group_documents(events).items():
            # sudo: the name of the document the event is about, whoever's action emitted it (a side effect must
            # not fail on a record rule); the line is read by the Distribution users of the event's company.
            documents = self.env[model].sudo().browse(ids).exists()
            names.update({(model, record.id): record.display_name for record in documents})
        # sudo: the log is written by the system only, whatever the rights of the user whose action emitted.
        return (
            self.sudo()
            .create(
                [
                    {
                        "event_id": event.id,
                        "event_uuid": event.event_id,
                        "event_type": event.event_type,
                        "endpoint_id": event.endpoint_id.id,
                        "res_model": event.res_model,
                        "res_id": event.res_id,
                        "document_name": names.get((event.res_model, event.res_id)) or event.event_type,
                        "version_hash": sync.version_hash(event.payload),
                        "version_at": event.create_date or fields.Datetime.now(),
                        "company_id": event.company_id.id,
                    }
                    for event in events
                ]
            )
            .with_env(self.env)
        )

    @api.model
    def _group_documents(self, records):
        documents = {}
        for record in records:
            if record.res_model in self.env and record.res_id:
                documents.setdefault(record.res_model, set()).add(record.res_id)
        return documents

    def _sync_log_attempt(self, event, answer=None):
        """Record the outcome of a delivery attempt of ``event`` on its line (self)."""
        endpoint = event.endpoint_id
        vals = {
            "attempts": event.attempts,
            "last_attempt_at": event.last_attempt_at,
            "last_status_code": event.last_status_code,
        }
        for line in self:
            line_vals = dict(vals, sent_at=line.sent_at or event.last_attempt_at)
            if event.state == "delivered":
                line_vals.update(state="acked", acked_at=event.delivered_at)
                reference = sync.extract_reference(answer, endpoint.sync_reference_path)
                if reference:
                    line_vals["receiver_ref"] = reference
            else:
                line_vals["state"] = "failed" if event.state == "dead" else "sent"
            # sudo: see _sync_log_emitted.
            line.sudo().write(line_vals)

    def _sync_log_requeued(self):
        # sudo: see _sync_log_emitted.
        self.sudo().write({"state": "queued"})

    # -- reconciliation ------------------------------------------------------------------------------
    @api.model
    def _reconciliation(self, lines=None):
        """{line id: (reason, document write date)} of the latest line of each document and endpoint whose
        receiver does not hold the document's current version: not acknowledged, changed after the version
        sent, or deleted since. One query per document model, limited to ``lines`` when given."""
        self.flush_model()
        self.env["distribution.outbound.event"].flush_model()
        restrict = SQL("AND line.id IN %s", tuple(lines.ids)) if lines is not None else SQL()
        if lines is not None and not lines:
            return {}
        self.env.cr.execute(
            SQL("SELECT DISTINCT res_model FROM %s WHERE res_model IS NOT NULL", SQL.identifier(self._table))
        )
        models_ = [row[0] for row in self.env.cr.fetchall() if row[0] in self.env]
        found = {}
        for model in models_:
            Model = self.env[model]
            if Model._abstract or not Model._auto:
                continue
            Model.flush_model(["write_date"])
            # Raw SQL: the latest line per document and endpoint (an anti-join) compared with the document's own
            # write date, for any document model; the ORM has neither.
            self.env.cr.execute(
                SQL(
                    """
                    SELECT line.id, line.state, line.version_at, doc.id, doc.write_date
                      FROM distribution_sync_line line
                      LEFT JOIN %(table)s doc ON doc.id = line.res_id
                     WHERE line.res_model = %(model)s %(restrict)s
                       AND NOT EXISTS (
                            SELECT 1 FROM distribution_sync_line later
                             WHERE later.endpoint_id = line.endpoint_id
                               AND later.res_model = line.res_model
                               AND later.res_id = line.res_id
                               AND later.id > line.id)
                       AND (doc.id IS NULL OR line.state != 'acked' OR doc.write_date > line.version_at)
                    """,
                    table=SQL.identifier(Model._table),
                    model=model,
                    restrict=restrict,
                )
            )
            for line_id, state, _version_at, doc_id, write_date in self.env.cr.fetchall():
                if doc_id is None:
                    reason = "deleted"
                elif state != "acked":
                    reason = "unacknowledged"
                else:
                    reason = "changed"
                found[line_id] = (reason, write_date)
        return found

    def _compute_reconcile_reason(self):
        found = self._reconciliation(self) if self.ids else {}
        for line in self:
            reason, changed_at = found.get(line.id, (False, False))
            line.reconcile_reason = reason
            line.document_changed_at = changed_at

    @api.model
    def _search_reconcile_reason(self, operator, value):
        found = self._reconciliation()
        if operator in ("=", "!=") and not value:
            ids = list(found)
            return [("id", "not in" if operator == "=" else "in", ids)]
        wanted = {value} if isinstance(value, str) else set(value or ())
        if operator in ("=", "in"):
            return [("id", "in", [line_id for line_id, (reason, _at) in found.items() if reason in wanted])]
        if operator in ("!=", "not in"):
            return [("id", "not in", [line_id for line_id, (reason, _at) in found.items() if reason in wanted])]
        raise UserError(self.env._("The reconciliation cannot be filtered with %(operator)s.", operator=operator))

    # -- export --------------------------------------------------------------------------------------
    def _csv_rows(self):
        labels = dict(self._fields["state"]._description_selection(self.env))
        for line in self:
            # sudo: the endpoint's name only, as the list shows it (endpoints are manager-only configuration).
            endpoint_name = line.endpoint_id.sudo().name
            yield (
                line.res_model or "",
                line.res_id or "",
                line.document_name or "",
                endpoint_name,
                line.event_type or "",
                line.event_uuid or "",
                line.version_hash or "",
                fields.Datetime.to_string(line.version_at) or "",
                fields.Datetime.to_string(line.sent_at) or "",
                fields.Datetime.to_string(line.acked_at) or "",
                labels.get(line.state, line.state),
                line.receiver_ref or "",
                line.attempts,
                line.company_id.name,
            )

    def _csv_content(self):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(CSV_FIELDS)
        for row in self._csv_rows():
            writer.writerow([_csv_safe(value) for value in row])
        return buffer.getvalue()

    def action_export_csv(self):
        """Download the selected lines (or, from the list, every line of the current filter) as CSV: one row per
        event sent, with the version hash and both timestamps, for the receiver's own reconciliation."""
        if not self:
            raise UserError(self.env._("Select the sync lines to export."))
        content = self.sorted("id")._csv_content()
        name = f"sync-log-{fields.Datetime.now():%Y%m%d-%H%M%S}.csv"
        attachment = self.env["ir.attachment"].create(
            {
                "name": name,
                "raw": content.encode("utf-8-sig"),
                "mimetype": "text/csv",
                # Linked to no record: only the user who exported it (and administrators) may download it.
                "public": False,
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "download",
        }


def _csv_safe(value):
    """A cell a spreadsheet shows as text: no formula from a document name (=, +, -, @ lead a formula).

    >>> _csv_safe("=HYPERLINK()"), _csv_safe("SO001"), _csv_safe(3)
    ("'=HYPERLINK()", 'SO001', 3)
    """
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
