import ast
import base64
import csv
import io
import json
from unittest.mock import patch

from odoo import Command
from odoo.addons.distribution_observability.tests.rpc import JsonRpcMixin
from odoo.exceptions import ValidationError
from odoo.tests import HttpCase
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..services import sync
from .test_outbox import EVENT_LOGGER
from .test_outbox import MANAGER
from .test_outbox import SECRET
from .test_outbox import USER
from .test_outbox import OutboxCase


class SyncCase(OutboxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.endpoint.write({"event_types": "order.held, invoice.posted"})
        cls.ledger = cls.Endpoint.create(
            {
                "name": "Ledger",
                "url": cls.receiver.url.replace("/hooks/distribution", "/ledger"),
                "secret": SECRET,
                "event_types": "order.held, order.released, invoice.posted",
                "sync_of_record": True,
                "sync_reference_path": "$.data.entry.number",
                "max_attempts": 5,
            }
        )
        cls.Line = cls.env["distribution.sync.line"]

    def _ledger_event(self, events):
        return events.filtered(lambda event: event.endpoint_id == self.ledger)

    def _ack(self, event, number):
        self.receiver.answer(event.event_id, (200, {}, json.dumps({"data": {"entry": {"number": number}}}), 0))

    def _age_everything(self, hours=1):
        """What a later transaction sees: the lines and the documents were written an hour ago (a test runs in
        one transaction, whose time does not move)."""
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE distribution_sync_line SET version_at = version_at - make_interval(hours => %s)", [hours]
        )
        self.env.cr.execute("UPDATE res_partner SET write_date = write_date - make_interval(hours => %s)", [hours])
        self.env.invalidate_all()


@tagged("post_install", "-at_install")
class TestSyncLog(SyncCase):
    """Every event an endpoint marked 'system of record sync' receives is a traceable line: document, version
    hash, sent and acknowledged times, the receiver's reference; the reconciliation lists what changed since."""

    def test_an_acknowledged_line_and_an_unacknowledged_one(self):
        paid, refused = self.partners[:2]
        acked_events = self._emit(paid, data={"order": "S1", "amount": 10.0})
        open_events = self._emit(refused, data={"order": "S2", "amount": 20.0})
        acked_event, open_event = self._ledger_event(acked_events), self._ledger_event(open_events)
        # One line per event of the system of record, none for the other endpoint.
        lines = self.Line.search([("event_id", "in", (acked_events | open_events).ids)])
        self.assertEqual(lines.endpoint_id, self.ledger)
        self.assertEqual(len(lines), 2)
        self.assertEqual(set(lines.mapped("state")), {"queued"})
        self._ack(acked_event, "GL-2026-0042")
        self.receiver.answer(open_event.event_id, 503)
        with mute_logger(EVENT_LOGGER):
            self._deliver()

        acked = acked_event.sync_line_ids
        self.assertEqual(
            (acked.state, acked.receiver_ref, acked.document_name, acked.attempts, acked.last_status_code),
            ("acked", "GL-2026-0042", paid.display_name, 1, 200),
        )
        self.assertEqual(acked.acked_at, acked_event.delivered_at)
        self.assertTrue(acked.sent_at and acked.sent_at <= acked.acked_at)
        self.assertEqual((acked.res_model, acked.res_id, acked.record_ref), (paid._name, paid.id, paid))
        self.assertEqual(acked.version_hash, sync.version_hash(acked_event.payload))

        unacked = open_event.sync_line_ids
        self.assertEqual((unacked.state, unacked.last_status_code, unacked.attempts), ("sent", 503, 1))
        self.assertFalse(unacked.acked_at)
        self.assertFalse(unacked.receiver_ref)
        self.assertTrue(unacked.sent_at)

        # The receiver answers at the retry: the line is acknowledged then, its first send kept.
        first_sent = unacked.sent_at
        self._make_due(open_event)
        self._ack(open_event, "GL-2026-0043")
        self._deliver()
        self.assertEqual((unacked.state, unacked.receiver_ref, unacked.attempts), ("acked", "GL-2026-0043", 2))
        self.assertEqual(unacked.sent_at, first_sent)

    def test_the_version_is_the_documents_content_not_the_envelope(self):
        partner = self.partners[0]
        first = self._ledger_event(self._emit(partner, data={"order": "S1", "amount": 10.0})).sync_line_ids
        same = self._ledger_event(self._emit(partner, data={"amount": 10.0, "order": "S1"})).sync_line_ids
        changed = self._ledger_event(self._emit(partner, data={"order": "S1", "amount": 11.0})).sync_line_ids
        self.assertEqual(first.version_hash, same.version_hash)
        self.assertNotEqual(first.event_uuid, same.event_uuid)
        self.assertNotEqual(first.version_hash, changed.version_hash)
        self.assertEqual(len(first.version_hash), 64)

    def test_a_dead_event_is_a_failed_line_and_a_replay_queues_it_again(self):
        self.ledger.max_attempts = 1
        event = self._ledger_event(self._emit(self.partners[0]))
        self.receiver.answer(event.event_id, 500)
        with mute_logger(EVENT_LOGGER):
            self._deliver()
        self.assertEqual((event.state, event.sync_line_ids.state), ("dead", "failed"))
        event.action_replay()
        self.assertEqual(event.sync_line_ids.state, "queued")
        self._ack(event, "GL-9")
        self._deliver()
        self.assertEqual((event.sync_line_ids.state, event.sync_line_ids.receiver_ref), ("acked", "GL-9"))

    def test_an_answer_without_the_reference_acknowledges_without_one(self):
        event = self._ledger_event(self._emit(self.partners[0]))
        self.receiver.answer(event.event_id, (202, {}, "accepted", 0))
        self._deliver()
        self.assertEqual((event.sync_line_ids.state, event.sync_line_ids.receiver_ref), ("acked", False))

    def test_a_reference_path_that_cannot_be_read_is_refused_with_the_way_to_write_it(self):
        with self.assertRaisesRegex(ValidationError, r"data\.entries\[0\]\.id"):
            self.ledger.sync_reference_path = "data..id"

    def test_reconciliation_lists_the_documents_changed_since_their_last_acknowledged_sync(self):
        unchanged, changed, unacked, deleted = self.env["res.partner"].create(
            [{"name": f"Reconciled {name}"} for name in ("unchanged", "changed", "unacked", "deleted")]
        )
        events = {
            partner: self._ledger_event(self._emit(partner)) for partner in (unchanged, changed, unacked, deleted)
        }
        for partner, event in events.items():
            if partner == unacked:
                self.receiver.answer(event.event_id, 503)
            else:
                self._ack(event, f"GL-{partner.id}")
        with mute_logger(EVENT_LOGGER):
            self._deliver()
        self._age_everything()
        changed.write({"phone": "+32 2 555 01 01"})
        deleted.unlink()

        listed = self.Line.search([("reconcile_reason", "!=", False), ("endpoint_id", "=", self.ledger.id)])
        reasons = {line.event_id: line.reconcile_reason for line in listed}
        self.assertEqual(
            reasons,
            {events[changed]: "changed", events[unacked]: "unacknowledged", events[deleted]: "deleted"},
        )
        line = events[changed].sync_line_ids
        self.assertEqual(line.document_changed_at, changed.write_date)
        self.assertGreater(line.document_changed_at, line.version_at)
        self.assertFalse(events[unchanged].sync_line_ids.reconcile_reason)
        # Filtering by reason, and the reconciliation action's own domain.
        self.assertEqual(
            self.Line.search([("reconcile_reason", "=", "changed"), ("endpoint_id", "=", self.ledger.id)]),
            line,
        )
        action = self.env.ref("distribution_orchestration.distribution_sync_reconciliation_action")
        domain = ast.literal_eval(action.domain)
        self.assertIn(line, self.Line.search(domain))
        self.assertNotIn(events[unchanged].sync_line_ids, self.Line.search(domain))

        # A new version sent and acknowledged takes the document off the report.
        resent = self._ledger_event(self._emit(changed, data={"partner": changed.name, "phone": changed.phone}))
        self._ack(resent, "GL-new")
        self._deliver()
        self.assertFalse(self.Line.search([("reconcile_reason", "!=", False), ("res_id", "=", changed.id)]))
        self.assertEqual(resent.sync_line_ids.receiver_ref, "GL-new")

    def test_filters_by_document_endpoint_date_and_state_and_the_csv_export(self):
        partner = self.env["res.partner"].create({"name": '=HYPERLINK("http://x")'})
        other = self.partners[1]
        acked = self._ledger_event(self._emit(partner))
        unacked = self._ledger_event(self._emit(other))
        self._ack(acked, "GL-1")
        self.receiver.answer(unacked.event_id, 503)
        with mute_logger(EVENT_LOGGER):
            self._deliver()
        mine = [("endpoint_id", "=", self.ledger.id)]
        self.assertEqual(self.Line.search([*mine, ("document_name", "ilike", "HYPERLINK")]), acked.sync_line_ids)
        self.assertEqual(self.Line.search([*mine, ("state", "=", "acked")]), acked.sync_line_ids)
        self.assertEqual(self.Line.search([*mine, ("state", "in", ("queued", "sent"))]), unacked.sync_line_ids)
        today = acked.sync_line_ids.version_at.date()
        self.assertEqual(len(self.Line.search([*mine, ("version_at", ">=", today)])), 2)
        self.assertFalse(self.Line.search([*mine, ("version_at", "<", today)]))
        self.assertFalse(self.Line.search([("endpoint_id", "=", self.endpoint.id)]))

        lines = self.Line.search(mine)
        action = lines.action_export_csv()
        self.assertEqual(action["type"], "ir.actions.act_url")
        attachment_id = int(action["url"].split("/web/content/")[1].split("?")[0])
        attachment = self.env["ir.attachment"].browse(attachment_id)
        rows = list(csv.DictReader(io.StringIO(base64.b64decode(attachment.datas).decode("utf-8-sig"))))
        by_event = {row["event_id"]: row for row in rows}
        self.assertEqual(set(by_event), {acked.event_id, unacked.event_id})
        row = by_event[acked.event_id]
        self.assertEqual(
            (row["document_model"], row["document_id"], row["receiver_reference"], row["endpoint"]),
            ("res.partner", str(partner.id), "GL-1", "Ledger"),
        )
        self.assertEqual(row["version_hash"], acked.sync_line_ids.version_hash)
        self.assertTrue(row["acked_at"] and row["sent_at"])
        self.assertEqual(by_event[unacked.event_id]["acked_at"], "")
        # A document name cannot become a spreadsheet formula.
        self.assertTrue(row["document_name"].startswith("'="))

    def test_posted_invoices_are_sent_to_the_ledger_with_what_it_books(self):
        product = self.env["product.product"].create(
            {"name": "Sync pallet", "default_code": "SYNC-PAL", "list_price": 50}
        )
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.partners[2].id,
                "invoice_line_ids": [Command.create({"product_id": product.id, "quantity": 3, "price_unit": 40.0})],
            }
        )
        invoice.action_post()
        event = self.Event.search([("res_model", "=", "account.move"), ("res_id", "=", invoice.id)]).filtered(
            lambda e: e.endpoint_id == self.ledger
        )
        self.assertEqual(event.event_type, "invoice.posted")
        data = json.loads(event.payload)["data"]
        self.assertEqual((data["number"], data["move_type"]), (invoice.name, "out_invoice"))
        self.assertEqual(data["amount_total"], invoice.amount_total)
        self.assertEqual(
            [(line["sku"], line["quantity"], line["price_unit"]) for line in data["lines"]], [("SYNC-PAL", 3.0, 40.0)]
        )
        self.assertEqual(event.sync_line_ids.document_name, invoice.display_name)
        self._ack(event, "JE-77")
        self._deliver()
        self.assertEqual(event.sync_line_ids.receiver_ref, "JE-77")


@tagged("post_install", "-at_install")
class TestAttackSyncLog(JsonRpcMixin, HttpCase):
    """The sync log is what finance trusts: nobody writes it but the outbox, whatever the context."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, "sync_user", groups=USER)
        cls.manager = new_test_user(cls.env, "sync_manager", groups=MANAGER)
        Endpoint = cls.env["distribution.outbound.endpoint"]
        cls.startClassPatcher(patch.object(type(Endpoint), "_outbound_allow_private", return_value=True))
        cls.ledger = Endpoint.create(
            {"name": "Ledger", "url": "http://127.0.0.1:9/ledger", "sync_of_record": True, "event_types": "order.held"}
        )
        partner = cls.env["res.partner"].create({"name": "Synced customer"})
        cls.event = cls.env["distribution.outbound.event"]._emit("order.held", partner, {"order": "S1"})
        cls.line = cls.event.sync_line_ids

    def test_nobody_creates_changes_or_deletes_a_line_with_any_context(self):
        self.assertEqual(self.line.state, "queued")
        forged = {"active_test": False, "distribution_outbox_no_commit": True, "install_mode": True}
        for user in (self.user, self.manager):
            self.rpc_login(user)
            rows, error = self.rpc("distribution.sync.line", "read", self.line.ids, ["state", "version_hash"])
            self.assertIsNone(error)
            self.assertEqual(rows[0]["state"], "queued")
            self.assertRpcRefused(
                "distribution.sync.line",
                "write",
                self.line.ids,
                {"state": "acked", "receiver_ref": "X"},
                context=forged,
            )
            self.assertRpcRefused(
                "distribution.sync.line",
                "create",
                {"endpoint_id": self.ledger.id, "state": "acked", "company_id": self.env.company.id},
                context=forged,
            )
            self.assertRpcRefused("distribution.sync.line", "unlink", self.line.ids, context=forged)
            self.assertRpcRefused("distribution.sync.line", "_sync_log_attempt", self.line.ids, self.event.id)
        self.line.invalidate_recordset()
        self.assertEqual((self.line.state, self.line.receiver_ref), ("queued", False))
        self.assertTrue(self.line.exists())

    def test_a_distribution_user_exports_the_log_and_only_they_download_it(self):
        self.rpc_login(self.user)
        action, error = self.rpc("distribution.sync.line", "action_export_csv", self.line.ids)
        self.assertIsNone(error)
        download = self.url_open(action["url"])
        self.assertEqual(download.status_code, 200)
        content = download.content.decode("utf-8-sig")
        self.assertIn(self.line.version_hash, content)
        self.assertTrue(content.startswith("document_model,document_id,document_name,endpoint"))
        self.rpc_login(self.manager)
        self.assertNotEqual(self.url_open(action["url"]).status_code, 200, "another user's export is not theirs")
