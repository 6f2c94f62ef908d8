"""The supplier scorecard's risk summary worded by the company's chat provider (the fake classifier server on
127.0.0.1 words the facts it is sent): the figures and the purchase orders at risk stay the data's, the AI
only words them, and the summary says who wrote it; the template whenever the facts changed since, the
provider fails, refuses or leaves an order out, or none may be asked."""

from datetime import timedelta

from odoo import Command
from odoo import fields
from odoo.addons.distribution_observability.tests.rpc import JsonRpcMixin
from odoo.addons.distribution_orchestration.tests.test_replenishment import ReplenishmentFixtures
from odoo.exceptions import AccessError
from odoo.tests import HttpCase
from odoo.tests import tagged

from .common import TriageCase

FORGED = {"distribution_risk_wording": True, "active_test": False, "install_mode": True}


class RiskSummaryCase(ReplenishmentFixtures, TriageCase):
    """The Bolt vendor promises 7 days and delivers in 13: the purchase order bought for a customer order
    needed in 10 days is at risk."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.LeadTime = cls.env["distribution.vendor.lead.time"]
        mto = cls.env.ref("stock.route_warehouse0_mto")
        mto.active = True
        cls.bolt.route_ids = [Command.link(mto.id)]
        cls.customer = cls.env["res.partner"].create({"name": "Promised Customer"})

    def setUp(self):
        super().setUp()
        # One server for the class: each test starts from a well-behaved one.
        self.server.mode = "good"
        self.server.wording = None
        self.server.reset()
        self.addCleanup(setattr, self.server, "wording", None)

    def _at_risk_line(self):
        """The vendor line of the scorecard, with one purchase order at risk: ``(line, purchase, sale)``."""
        for index, days in enumerate((12, 13, 14, 12, 15)):
            self._receipt(self.bolt, days, 90 - index * 5)
        self.LeadTime._cron_learn()
        sale = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "commitment_date": fields.Datetime.now() + timedelta(days=10),
                "order_line": [Command.create({"product_id": self.bolt.id, "product_uom_qty": 2})],
            }
        )
        sale.action_confirm()
        purchase = self.env["purchase.order"].search([("partner_id", "=", self.vendor.id), ("state", "=", "draft")])
        purchase.button_confirm()
        self.env["purchase.order.line"]._cron_supply_risk()
        self.assertTrue(purchase.order_line.distribution_at_risk)
        line = self.LeadTime.search([("partner_id", "=", self.vendor.id), ("product_id", "=", False)])
        self.assertEqual(line.risk_summary_author, "template")
        return line, purchase, sale

    def _calls(self, line):
        return self.env["distribution.ai.call"].search([("lead_time_id", "=", line.id)], order="id")

    def _wording_requests(self):
        return [r for r in self.server.requests if r[0] == "/v1/chat/completions" and "response_format" not in r[2]]

    def _reread(self, line):
        line.invalidate_recordset()
        return line


@tagged("post_install", "-at_install")
class TestRiskSummaryWording(RiskSummaryCase):
    def test_the_provider_words_the_summary_and_says_so_until_the_facts_change(self):
        provider = self._provider("openai_chat", name="Desk LLM", model="fake-classifier")
        line, purchase, sale = self._at_risk_line()
        self.server.reset()
        line.with_user(self.manager).action_word_risk_summary()
        line = self._reread(line)
        self.assertEqual(line.risk_summary_author, "AI: Desk LLM (fake-classifier)")
        self.assertTrue(line.risk_summary.startswith("Bolt Supplier takes about 13 days where 7 are planned"))
        self.assertIn(f"{purchase.name} will arrive too late for {sale.name}", line.risk_summary)
        # Every reader of the scorecard sees it; the figures stay the data's.
        as_planner = line.with_user(self.planner)
        self.assertEqual(
            (as_planner.risk_summary, as_planner.risk_summary_author), (line.risk_summary, line.risk_summary_author)
        )
        self.assertEqual((line.median_days, line.planned_days), (13, 7))
        # The provider got the facts only, the vendor's name left out.
        [(_path, _headers, body)] = self._wording_requests()
        sent = body["messages"][1]["content"]
        self.assertIn(purchase.name, sent)
        self.assertIn('"median_days": 13.0', sent)
        self.assertNotIn("Bolt Supplier", sent)
        expected = {"provider_id": provider.id, "policy": "risk_summary", "error": False, "company_id": self.company.id}
        self.assertRecordValues(self._calls(line), [expected])
        run = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "ai_risk_summary")], order="id desc", limit=1
        )
        self.assertEqual(run.state, "success")

        # The facts change (learned again): the template, until the provider words the new facts.
        line.sudo().write({"median_days": 20, "computed_at": fields.Datetime.now() + timedelta(seconds=1)})
        line = self._reread(line)
        self.assertEqual(line.risk_summary_author, "template")
        self.assertIn("delivers in 20 days", line.risk_summary)
        self.LeadTime._cron_word_risk_summaries(batch_size=1000)
        line = self._reread(line)
        self.assertEqual(line.risk_summary_author, "AI: Desk LLM (fake-classifier)")
        self.assertIn("takes about 20 days", line.risk_summary)
        # Facts unchanged: checked again hours later without a call.
        asked = len(self._calls(line))
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE distribution_vendor_lead_time"
            " SET ai_summary_checked_at = ai_summary_checked_at - interval '5 hours'"
        )
        self.env.invalidate_all()
        self.LeadTime._cron_word_risk_summaries(batch_size=1000)
        self.assertEqual(len(self._calls(line)), asked)
        self.assertGreater(self._reread(line).ai_summary_checked_at, fields.Datetime.now() - timedelta(hours=1))
        self.assertEqual(self._reread(line).risk_summary_author, "AI: Desk LLM (fake-classifier)")

    def test_a_provider_down_keeps_the_template_and_the_failure_is_recorded(self):
        provider = self._provider("openai_chat")
        line, _purchase, _sale = self._at_risk_line()
        self.server.mode = "error"
        action = line.with_user(self.manager).action_word_risk_summary()
        self.assertEqual(action["params"]["type"], "warning")
        line = self._reread(line)
        self.assertEqual(line.risk_summary_author, "template")
        self.assertIn("http_500", line.ai_summary_error)
        self.assertRecordValues(self._calls(line), [{"policy": "risk_summary", "error_reason": "http_500"}])
        provider.invalidate_recordset()
        self.assertEqual(provider.breaker_failures, 1)
        self.assertIn("http_500", provider.last_error)
        run = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "ai_risk_summary")], order="id desc", limit=1
        )
        self.assertEqual((run.state, run.reason), ("failed", "provider_failed"))
        # An open breaker is not asked at all.
        self.env.cr.execute(
            "UPDATE distribution_ai_provider SET breaker_state = 'open', breaker_opened_at = now() at time zone 'UTC'"
            " WHERE id = %s",
            [provider.id],
        )
        provider.invalidate_recordset()
        self.server.mode = "good"
        self.server.reset()
        line.with_user(self.manager).action_word_risk_summary()
        self.assertFalse(self._wording_requests())
        self.assertEqual(self._reread(line).risk_summary_author, "template")
        self.assertIn("breaker_open", line.ai_summary_error)

    def test_an_answer_leaving_out_a_purchase_order_is_refused(self):
        provider = self._provider("openai_chat")
        line, purchase, _sale = self._at_risk_line()
        self.server.wording = lambda text: "[VENDOR] is a little slow lately, nothing to worry about."
        line.with_user(self.manager).action_word_risk_summary()
        line = self._reread(line)
        self.assertEqual(line.risk_summary_author, "template")
        self.assertIn(purchase.name, line.risk_summary)
        self.assertRecordValues(self._calls(line), [{"error_reason": "missing_orders"}])
        self.assertIn(purchase.name, self._calls(line).error)
        provider.invalidate_recordset()
        self.assertEqual(provider.breaker_failures, 0, "an answer refused is no outage")
        # Too long: refused as well.
        too_long = f"{purchase.name} " + "late " * 400  # read here: the server's thread has no cursor
        self.server.wording = lambda text: too_long
        line.with_user(self.manager).action_word_risk_summary()
        self.assertEqual(self._reread(line).risk_summary_author, "template")
        self.assertEqual(self._calls(line)[-1].error_reason, "too_long")

    def test_without_a_provider_that_may_be_asked_the_template_stays(self):
        line, _purchase, _sale = self._at_risk_line()
        self.server.reset()
        line.with_user(self.manager).action_word_risk_summary()
        line = self._reread(line)
        self.assertEqual(line.risk_summary_author, "template")
        self.assertTrue(line.ai_summary_error)
        # An external provider while content may not leave for external AI services: not asked either.
        self.company.distribution_triage_send_external = False
        self._provider("openai_chat", base_url="https://llm.example.invalid/v1")
        line.with_user(self.manager).action_word_risk_summary()
        self.assertEqual(self._reread(line).risk_summary_author, "template")
        self.assertFalse(self._calls(line))
        self.assertFalse(self.server.requests)
        # The scheduled action leaves the companies without a chat provider alone.
        self.Provider.search([]).write({"active": False})
        self.assertEqual(self.LeadTime._cron_word_risk_summaries(), {})


@tagged("post_install", "-at_install")
class TestRiskSummaryAttack(JsonRpcMixin, HttpCase, RiskSummaryCase):
    """A Distribution User reads the scorecard: they can neither have it worded nor write the wording."""

    def test_a_distribution_user_cannot_word_nor_write_the_summary(self):
        self._provider("openai_chat")
        line = self.LeadTime.create(
            {
                "partner_id": self.vendor.id,
                "company_id": self.company.id,
                "median_days": 13,
                "p90_days": 15,
                "planned_days": 7,
                "receipt_count": 5,
                "computed_at": fields.Datetime.now(),
            }
        )
        self.rpc_login(self.planner)
        result, error = self.rpc("distribution.vendor.lead.time", "read", line.ids, ["risk_summary"], context=FORGED)
        self.assertIsNone(error)
        self.assertIn("Bolt Supplier delivers in 13 days", result[0]["risk_summary"])
        self.assertRpcRefused("distribution.vendor.lead.time", "action_word_risk_summary", line.ids, context=FORGED)
        forged = {
            "ai_summary": "Bolt Supplier is perfectly reliable.",
            "ai_summary_author": "template",
            "ai_summary_hash": "0" * 64,
            "ai_summary_error": False,
        }
        for name, value in forged.items():
            with self.subTest(field=name):
                self.assertRpcRefused("distribution.vendor.lead.time", "write", line.ids, {name: value}, context=FORGED)
        for method in ("_word_risk_summaries", "_write_wording", "_word_with", "_cron_word_risk_summaries"):
            with self.subTest(method=method):
                self.assertRpcRefused("distribution.vendor.lead.time", method, line.ids, context=FORGED)
        self.assertRpcRefused(
            "distribution.vendor.lead.time",
            "create",
            [{"partner_id": self.vendor.id, "computed_at": "2026-01-01 00:00:00", "ai_summary": "forged"}],
            context=FORGED,
        )
        self.assertFalse(self.server.requests, "nothing was asked of the provider")
        line.invalidate_recordset()
        self.assertFalse(line.ai_summary)
        self.assertEqual(line.risk_summary_author, "template")
        # Even the superuser's code writes the wording only through its verb.
        with self.assertRaises(AccessError):
            line.sudo().write({"ai_summary": "forged", "ai_summary_hash": "0" * 64})
        # A Distribution Manager has it worded (the button's group), the provider says so.
        self.rpc_login(self.manager)
        _result, error = self.rpc("distribution.vendor.lead.time", "action_word_risk_summary", line.ids)
        self.assertIsNone(error)
        line.invalidate_recordset()
        self.assertTrue(line.risk_summary_author.startswith("AI: "))
