from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.tools import SQL

SILENT_CARRIER_PARAM = "distribution_orchestration.carrier_silence_hours"
DEFAULT_SILENT_CARRIER_HOURS = 24
STUCK_MINUTES = 15


class DistributionIntegrationReconciliation(models.AbstractModel):
    """Finds what the events missed: deliveries in transit that no carrier event mentioned for too
    long, outbox events left in 'sending' by a crashed worker, inbox events stuck in processing.
    Run by a scheduled action; every step is idempotent and takes its rows with SKIP LOCKED."""

    _name = "distribution.integration.reconciliation"
    _description = "Integration Reconciliation"

    @api.model
    def _silence_hours(self):
        # sudo: a system setting read by the scheduled job.
        value = self.env["ir.config_parameter"].sudo().get_param(SILENT_CARRIER_PARAM, DEFAULT_SILENT_CARRIER_HOURS)
        try:
            return max(float(value), 1.0)
        except ValueError:
            return DEFAULT_SILENT_CARRIER_HOURS

    @api.model
    def _locked_ids(self, table, where, *params):
        """Ids of rows matching ``where``, locked for this transaction, skipping rows another worker holds."""
        # Raw SQL: row locks with SKIP LOCKED are not available through the ORM.
        self.env.cr.execute(
            SQL("SELECT id FROM %s WHERE %s FOR NO KEY UPDATE SKIP LOCKED", SQL.identifier(table), SQL(where, *params))
        )
        return [row[0] for row in self.env.cr.fetchall()]

    @api.model
    def _requeue_stuck_outbox(self, now):
        Event = self.env["distribution.outbound.event"]
        Event.flush_model()
        # The outbox's own lease (15 minutes unless the system parameter shortens it), the one its claim uses.
        lease = timedelta(seconds=Event._outbox_lease_seconds())
        ids = self._locked_ids(Event._table, "state = 'sending' AND sending_started_at < %s", now - lease)
        events = Event.browse(ids)
        events.write({"state": "pending", "sending_started_at": False, "next_attempt_at": now})
        return events

    @api.model
    def _requeue_stuck_inbox(self, now):
        """Inbox events a worker claimed ('processing', committed by the claim) and never finished: it died.
        A live worker finishes a batch well within STUCK_MINUTES."""
        Event = self.env["distribution.inbound.event"]
        Event.flush_model()
        ids = self._locked_ids(
            Event._table, "state = 'processing' AND write_date < %s", now - timedelta(minutes=STUCK_MINUTES)
        )
        events = Event.browse(ids)
        events.write({"state": "received", "next_attempt_at": now})
        return events

    @api.model
    def _flag_silent_carriers(self, now):
        """Deliveries in transit with no carrier event for N hours: one exception each (idempotent:
        one open exception per delivery), resolved by the next carrier event."""
        Picking = self.env["stock.picking"]
        silent = Picking.search(
            [
                ("picking_type_code", "=", "outgoing"),
                ("state", "not in", ("done", "cancel")),
                ("distribution_carrier_status", "=", "in_transit"),
                ("distribution_carrier_event_at", "<", now - timedelta(hours=self._silence_hours())),
            ]
        )
        Exception_ = self.env["distribution.exception"]
        for picking in silent:
            Exception_._raise_for(
                picking,
                "carrier_silent",
                "late_transfer",
                self.env._(
                    "No carrier event for %(ref)s since %(when)s: ask the carrier where the delivery is.",
                    ref=picking.name,
                    when=picking.distribution_carrier_event_at,
                ),
                kind="business",
                severity="medium",
                reason_code="carrier_silent",
                values={"last_event_at": str(picking.distribution_carrier_event_at)},
            )
        return silent

    @api.model
    def _cron_reconcile(self):
        """Re-queue what crashed workers left behind and flag what carriers stopped reporting."""
        now = fields.Datetime.now()
        with self.env["distribution.workflow.run"].track("reconciliation") as run:
            outbox = self._requeue_stuck_outbox(now)
            inbox = self._requeue_stuck_inbox(now)
            silent = self._flag_silent_carriers(now)
            # The append-only log of refused webhook requests is kept for a month (the endpoint's figures).
            self.env["distribution.inbound.rejection"]._purge(now)
            run.message = self.env._(
                "%(outbox)s outbox events re-queued, %(inbox)s inbox events re-queued, "
                "%(silent)s deliveries without carrier news",
                outbox=len(outbox),
                inbox=len(inbox),
                silent=len(silent),
            )
        if outbox:
            self.env.ref("distribution_orchestration.ir_cron_distribution_outbox_deliver")._trigger()
        if inbox:
            self.env.ref("distribution_orchestration.ir_cron_distribution_inbox_process")._trigger()
        return {"outbox": outbox, "inbox": inbox, "silent": silent}
