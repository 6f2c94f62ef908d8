from datetime import timedelta

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import ObservabilityCase


@tagged("post_install", "-at_install")
class TestQueueMonitor(ObservabilityCase):
    """Backlog, oldest age, buckets and level of a queue, against hand-made data."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag = cls.env["res.partner.category"].create({"name": "Waiting queue"})
        now = fields.Datetime.now()
        # Items aged 0.5 h, 2 h, 3 h, 10 h and 30 h; one more item outside the queue (no tag).
        cls.items = cls.env["res.partner"].create(
            [{"name": f"Item {hours}", "category_id": [(6, 0, cls.tag.ids)]} for hours in (0.5, 2, 3, 10, 30)]
        )
        cls.env["res.partner"].create({"name": "Not queued"})
        for item, hours in zip(cls.items, (0.5, 2, 3, 10, 30), strict=True):
            cls.env.cr.execute(
                "UPDATE res_partner SET create_date = %s WHERE id = %s", [now - timedelta(hours=hours), item.id]
            )
        cls.items.invalidate_recordset()
        cls.monitor = cls.env["distribution.queue.monitor"].create(
            {
                "name": "Tagged partners",
                "code": "tagged_partners",
                "model_id": cls.env["ir.model"]._get_id("res.partner"),
                "domain": f"[('category_id', 'in', [{cls.tag.id}])]",
                "date_field": "create_date",
                "backlog_warning": 5,
                "backlog_critical": 10,
                "age_warning_hours": 24,
                "age_critical_hours": 48,
            }
        )

    def test_figures_from_one_grouped_query(self):
        monitor = self.monitor
        monitor._figures()  # warm the caches (model, record rules)
        with self.assertQueryCount(1):
            figures = monitor._figures()
        self.assertEqual(figures["backlog"], 5)
        self.assertAlmostEqual(figures["oldest_age_hours"], 30, delta=0.05)
        self.assertEqual(figures["buckets"], {"lt_1h": 1, "h1_4": 2, "h4_24": 1, "gt_24h": 1})

    def test_level_from_backlog_and_age(self):
        self.assertEqual(self.monitor.level, "warning")  # 5 items reach the backlog warning; 30 h < 48 h
        self.monitor.write({"backlog_warning": 0, "age_critical_hours": 24})
        self.monitor.invalidate_recordset()
        self.assertEqual(self.monitor.level, "critical")
        self.monitor.write({"age_warning_hours": 0, "age_critical_hours": 0})
        self.monitor.invalidate_recordset()
        self.assertEqual(self.monitor.level, "ok")

    def test_fields_on_the_form(self):
        self.assertEqual(
            [
                self.monitor.backlog,
                self.monitor.bucket_lt_1h,
                self.monitor.bucket_1_4h,
                self.monitor.bucket_4_24h,
                self.monitor.bucket_gt_24h,
            ],
            [5, 1, 2, 1, 1],
        )

    def test_empty_queue_has_no_age(self):
        self.items.write({"category_id": [(5, 0, 0)]})
        figures = self.monitor._figures()
        self.assertEqual((figures["backlog"], figures["oldest_age_hours"]), (0, 0.0))
        self.assertEqual(self.monitor._level_of(figures), "ok")

    def test_bad_definitions_are_refused_with_a_reason(self):
        values = {"name": "Bad", "code": "bad", "model_id": self.monitor.model_id.id}
        with self.assertRaisesRegex(ValidationError, "not a date or datetime field"):
            self.env["distribution.queue.monitor"].create(dict(values, date_field="name"))
        with self.assertRaisesRegex(ValidationError, "domain"):
            self.env["distribution.queue.monitor"].create(
                dict(values, code="bad_domain", domain="[('no_such_field', '=', 1)]")
            )

    def test_open_items_action(self):
        action = self.monitor.action_open_items()
        self.assertEqual(self.env[action["res_model"]].search(action["domain"]), self.items)

    def test_shipped_monitor_counts_open_incidents(self):
        monitor = self.env.ref("distribution_observability.distribution_queue_monitor_open_incidents")
        before = monitor._figures()["backlog"]
        rule = self.env["distribution.alert.rule"].create(
            {
                "name": "Any failure",
                "metric": "workflow_failures",
                "workflow_id": self.workflow.id,
                "threshold": 1,
            }
        )
        self.env["distribution.alert.incident"].create({"rule_id": rule.id, "severity": "warning"})
        self.assertEqual(monitor._figures()["backlog"], before + 1)

    def test_a_domain_with_the_users_today_as_in_odoos_filters(self):
        Param = self.env["ir.config_parameter"]
        Param.set_param("distribution_test.today_a", "1")
        monitor = self.env["distribution.queue.monitor"].create(
            {
                "name": "Parameters of the week",
                "code": "params_week",
                "model_id": self.env["ir.model"]._get_id("ir.config_parameter"),
                "domain": "[('key', '=like', 'distribution_test.today_%'), "
                "('create_date', '>=', (context_today() - relativedelta(days=7)).strftime('%Y-%m-%d'))]",
                "date_field": "create_date",
            }
        )
        self.assertEqual(monitor._figures()["backlog"], 1)
        # As Odoo's domain editor writes "Created on is today" on a date-time field.
        monitor.domain = (
            "[('key', '=like', 'distribution_test.today_%'), ('create_date', '>=', datetime.datetime.combine("
            "context_today(), datetime.time(0, 0, 0)).to_utc().strftime('%Y-%m-%d %H:%M:%S'))]"
        )
        self.assertEqual(monitor._figures()["backlog"], 1)

    def test_figures_for_a_user_who_cannot_read_the_records_and_only_their_companies(self):
        # A queue on a model plain users may not read: its figures are still reported to them.
        Param = self.env["ir.config_parameter"]
        Param.set_param("distribution_test.queued_a", "1")
        Param.set_param("distribution_test.queued_b", "1")
        hidden = self.env["distribution.queue.monitor"].create(
            {
                "name": "Parameters",
                "code": "params",
                "model_id": self.env["ir.model"]._get_id("ir.config_parameter"),
                "domain": "[('key', '=like', 'distribution_test.queued_%')]",
                "date_field": "create_date",
            }
        )
        self.assertEqual(hidden.with_user(self.user)._figures()["backlog"], 2)
        # Records of a company the user does not work in are not counted.
        other = self.env["res.company"].create({"name": "Other queue company"})
        self.items[:2].company_id = other
        self.assertEqual(self.monitor.with_user(self.user)._figures()["backlog"], 3)
        self.assertEqual(
            self.monitor.with_context(allowed_company_ids=(self.env.company | other).ids)._figures()["backlog"], 5
        )
