from odoo import Command
from odoo.tests import HttpCase
from odoo.tests import new_test_user
from odoo.tests import tagged

from .rpc import JsonRpcMixin


@tagged("post_install", "-at_install")
class TestAttackMonitors(JsonRpcMixin, HttpCase):
    """Queue monitors count with the system's rights: a Distribution Manager who is not an administrator
    must not turn one into a count oracle over models and companies they may not read."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Attack Monitors Company B"})
        cls.manager = new_test_user(
            cls.env,
            "monitor_attacker",
            groups="distribution_observability.group_distribution_manager",
            company_id=cls.company_a.id,
            company_ids=[Command.set(cls.company_a.ids)],
        )
        cls.user_b = new_test_user(
            cls.env,
            "monitor_viewer_b",
            groups="distribution_observability.group_distribution_user",
            company_id=cls.company_b.id,
            company_ids=[Command.set(cls.company_b.ids)],
        )
        cls.tag = cls.env["res.partner.category"].create({"name": "Monitored attack tag"})
        Partner = cls.env["res.partner"]
        Partner.create(
            [
                {"name": f"A {i}", "company_id": cls.company_a.id, "category_id": [Command.set(cls.tag.ids)]}
                for i in range(2)
            ]
        )
        Partner.create(
            [
                {"name": f"B {i}", "company_id": cls.company_b.id, "category_id": [Command.set(cls.tag.ids)]}
                for i in range(3)
            ]
        )
        # An administrator's monitor (the only kind there is): shared, counted in each viewer's companies.
        cls.monitor = cls.env["distribution.queue.monitor"].create(
            {
                "name": "Tagged partners",
                "code": "attack_tagged_partners",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "domain": f"[('category_id', 'in', [{cls.tag.id}])]",
                "date_field": "create_date",
            }
        )

    def test_manager_cannot_create_a_monitor_on_users_or_partners(self):
        self.rpc_login(self.manager)
        for model, domain in (
            ("res.users", "[('password', '!=', False)]"),
            ("res.partner", f"[('company_id', '=', {self.company_b.id})]"),
        ):
            message = self.assertRpcRefused(
                "distribution.queue.monitor",
                "create",
                {
                    "name": "Oracle",
                    "code": f"oracle_{model}",
                    "model_id": self.env["ir.model"]._get_id(model),
                    "domain": domain,
                    "date_field": "create_date",
                },
                context={"distribution_monitor_trusted": True},
            )
            self.assertIn("administrator", message)
        self.assertFalse(self.env["distribution.queue.monitor"].search([("code", "like", "oracle_")]))

    def test_manager_cannot_repoint_a_monitor_but_may_tune_it(self):
        self.rpc_login(self.manager)
        for vals in (
            {"domain": f"[('company_id', '=', {self.company_b.id})]"},
            {"model_id": self.env["ir.model"]._get_id("res.users")},
            {"date_field": "write_date"},
            {"company_id": self.company_b.id},
        ):
            self.assertRpcRefused("distribution.queue.monitor", "write", self.monitor.ids, vals)
        self.assertEqual((self.monitor.model_name, self.monitor.company_id.id), ("res.partner", False))
        self.assertIn(str(self.tag.id), self.monitor.domain)
        result, error = self.rpc(
            "distribution.queue.monitor", "write", self.monitor.ids, {"backlog_warning": 7, "owner_id": self.manager.id}
        )
        self.assertEqual((result, error), (True, None))
        self.assertEqual(self.monitor.backlog_warning, 7)

    def test_figures_count_only_the_viewers_companies_whatever_the_context(self):
        self.rpc_login(self.manager)
        figures, error = self.rpc("distribution.queue.monitor", "read", self.monitor.ids, ["backlog"])
        self.assertEqual((figures[0]["backlog"], error), (2, None), "company A's two partners only")
        figures, error = self.rpc(
            "distribution.queue.monitor",
            "read",
            self.monitor.ids,
            ["backlog"],
            context={"allowed_company_ids": [self.company_a.id, self.company_b.id]},
        )
        if error is None:  # a forged company is refused, or ignored
            self.assertEqual(figures[0]["backlog"], 2)
        self.rpc_login(self.user_b)
        figures, error = self.rpc("distribution.queue.monitor", "read", self.monitor.ids, ["backlog"])
        self.assertEqual((figures[0]["backlog"], error), (3, None))

    def test_a_company_monitor_is_invisible_and_counts_nothing_elsewhere(self):
        self.monitor.company_id = self.company_a  # an administrator's decision
        self.rpc_login(self.user_b)
        found, error = self.rpc(
            "distribution.queue.monitor", "search_read", [("id", "=", self.monitor.id)], fields=["backlog"]
        )
        self.assertEqual((found, error), ([], None))
        # Even evaluated for company B (a dashboard of B, a snapshot of B), it counts nothing there.
        self.assertEqual(self.monitor.with_context(allowed_company_ids=self.company_b.ids)._figures()["backlog"], 0)

    def test_snapshots_are_stored_per_company(self):
        Snapshot = self.env["distribution.metric.snapshot"]
        Snapshot.search([]).unlink()  # the hourly job skips an hour already taken
        Snapshot._cron_take_snapshots()
        snapshots = Snapshot.search([("queue_id", "=", self.monitor.id), ("metric", "=", "queue_backlog")])
        values = {snapshot.company_id: snapshot.value for snapshot in snapshots}
        self.assertNotIn(Snapshot.company_id, values, "no queue figure is stored without a company")
        self.assertEqual((values[self.company_a], values[self.company_b]), (2, 3))
        self.rpc_login(self.user_b)
        seen, error = self.rpc(
            "distribution.metric.snapshot",
            "search_read",
            [("queue_id", "=", self.monitor.id)],
            fields=["company_id", "value"],
        )
        self.assertIsNone(error)
        self.assertEqual({row["company_id"][0] for row in seen}, {self.company_b.id})
