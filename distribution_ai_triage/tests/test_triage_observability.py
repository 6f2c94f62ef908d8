from odoo.tests import tagged

from .common import TriageCase


@tagged("post_install", "-at_install")
class TestTriageObservability(TriageCase):
    """The triage in the dashboard, the metrics, the queues and the getting-started checklist."""

    def test_figures_tiles_and_metrics(self):
        self._provider("openai_chat")
        self.server.mode = "good"
        self.server.answers = {"tracking": ("order_status", 0.95), "quick question": ("other", 0.2)}
        self._message("Please send the tracking number of ACME-PO-7781")
        waiting = self._message("Quick question")
        self._classify()
        self.assertEqual(waiting.state, "needs_review")
        Run = self.env["distribution.workflow.run"].with_user(self.manager)
        figures = Run._triage_figures()
        self.assertEqual(figures["classified"], 2)
        self.assertEqual(figures["auto_route_rate"], 50.0)
        self.assertEqual(figures["needs_review"], 1)
        self.assertIsNotNone(figures["latency_ms_p95"])
        self.assertEqual(figures["provider_error_rate"], 0.0)
        tiles = {tile["key"]: tile for tile in Run.get_dashboard_data()["extra_tiles"]}
        self.assertEqual(tiles["triage_needs_review"]["value"], 1)
        families = {name: samples for name, _kind, _help, samples in Run._metric_families()}
        self.assertIn(({"queue": "needs_review"}, 1), families["distribution_triage_messages"])
        self.assertEqual(families["distribution_triage_auto_route_ratio"], [({}, 0.5)])
        queues = {q["code"]: q for q in self.env["distribution.queue.monitor"].search([])._summary()}
        self.assertEqual(queues["triage_needs_review"]["backlog"], 1)

    def test_breaker_open_trips_the_shipped_alert(self):
        provider = self._provider("openai_chat", breaker_threshold=1)
        self.server.mode = "error"
        self._message("Where is my order? tracking please")
        self._classify()
        self.assertEqual(provider.breaker_state, "open")
        rule = self.env.ref("distribution_ai_triage.starter_alert_ai_breaker_open")
        self.assertTrue(rule.active)
        self.env["distribution.alert.rule"]._cron_evaluate()
        self.assertEqual(rule.state, "tripped")

    def test_alias_setting_and_checklist_step(self):
        def step():
            steps = self.env["distribution.onboarding"].with_user(self.manager)._distribution_checklist_steps()
            return next(s for s in steps if s["key"] == "triage_alias")

        self.assertFalse(step()["done"])
        settings = self.env["res.config.settings"].create({"distribution_triage_alias_name": "orders-desk"})
        settings.execute()
        alias = self.company.distribution_triage_alias_id
        self.assertEqual(alias.alias_name, "orders-desk")
        self.assertEqual(alias.alias_model_id.model, "distribution.triage.message")
        self.assertIn(str(self.company.id), alias.alias_defaults)
        self.assertTrue(step()["done"])
