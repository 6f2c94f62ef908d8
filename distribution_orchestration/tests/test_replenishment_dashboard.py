from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

from .test_replenishment import ReplenishmentFixtures


@tagged("post_install", "-at_install")
class TestReplenishmentDashboard(ReplenishmentFixtures, TransactionCase):
    """The dashboard's replenishment tiles count what the low stock monitor and the lead time learning wrote
    last: rules under their min, the spread of the days of cover, the vendors drifting; a second company
    sees none of it, and nobody writes the figures they come from."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Run = cls.env["distribution.workflow.run"]
        # The figures of this company only, whatever the demo put in the others.
        cls.env["stock.warehouse.orderpoint"].search([("company_id", "=", cls.company.id)]).write({"active": False})

    def _tiles(self, run=None):
        run = run or self.Run
        return {tile["key"]: tile for tile in run.get_dashboard_data()["extra_tiles"]}

    def test_tiles_from_the_last_checks(self):
        self._history()  # Bolt: ADU 2.5 in the main warehouse, which holds 55 free
        stock = self.wh.lot_stock_id
        self._move(self.nut, 10, stock, self.customers, 1)  # Nut: ADU 1 over the 10 days, nothing left
        self.env["stock.quant"]._update_available_quantity(self.nut, stock, 3)
        bolt = self._rule(self.bolt, 22, 55)
        nut = self._rule(self.nut, 5, 20)
        idle = self._rule(self.nut, 1, 5, warehouse=self.wh_east)  # no demand, nothing in stock: under min
        (bolt | nut | idle)._distribution_compute_suggestions()
        before = self.Run._replenishment_figures()
        self.assertEqual((before["rules"], before["under_min"]), (3, 0), "not checked yet: nothing counted")
        self.env["distribution.stock.monitor"]._cron_low_stock()
        self.assertEqual(
            [(r.distribution_free_qty, r.distribution_under_min) for r in (bolt, nut, idle)],
            [(55, False), (3, True), (0, True)],
        )
        tiles = self._tiles()
        self.assertEqual(tiles["replenishment_under_min"]["value"], 2)
        self.assertEqual(tiles["replenishment_under_min"]["level"], "warning")
        self.assertIn("3", tiles["replenishment_under_min"]["detail"])
        # Cover of the two rules with a demand: Nut 3 days, Bolt 22 days; the median in between.
        figures = self.Run._replenishment_figures()
        self.assertEqual(figures["with_demand"], 2)
        self.assertEqual(figures["cover_days_p50"], 12.5)
        self.assertEqual((figures["cover_days_p10"], figures["cover_days_p90"]), (4.9, 20.1))
        self.assertEqual(tiles["replenishment_cover_days"]["value"], 12.5)
        self.assertIn("4.9", tiles["replenishment_cover_days"]["detail"])
        # Each tile opens the list a planner works from, filtered on what it counts.
        action = self.env["ir.actions.act_window"]._for_xml_id(tiles["replenishment_under_min"]["action"])
        Orderpoint = self.env[action["res_model"]]
        self.assertEqual(
            Orderpoint.search([("distribution_under_min", "=", True), ("company_id", "=", self.company.id)]),
            nut | idle,
        )

    def test_vendors_drifting(self):
        self.company.write({"distribution_lead_time_drift_pct": 25, "distribution_lead_time_drift_days": 3})
        self.env["distribution.vendor.lead.time"]._cron_learn()
        before = self.Run._replenishment_figures()["vendors_drifting"]  # the demo's vendors, when installed
        for days_ago, took in ((60, 12), (45, 13), (30, 12)):
            self._receipt(self.bolt, took, days_ago)
        self.env["distribution.vendor.lead.time"]._cron_learn()
        tiles = self._tiles()
        self.assertEqual(tiles["replenishment_vendors_drifting"]["value"], before + 1)
        self.assertEqual(tiles["replenishment_vendors_drifting"]["level"], "warning")
        metrics = {name: samples for name, _kind, _help, samples in self.Run._metric_families()}
        self.assertEqual(metrics["distribution_vendors_drifting"], [({}, before + 1)])

    def test_a_second_company_sees_nothing_of_the_first(self):
        self._history()
        rule = self._rule(self.nut, 5, 20)
        rule._distribution_compute_suggestions()
        self.env["distribution.stock.monitor"]._cron_low_stock()
        self.assertTrue(rule.distribution_under_min)
        other = self.env["res.company"].create({"name": "Other Distribution Co"})
        viewer = new_test_user(
            self.env,
            "replen_other",
            groups="distribution_observability.group_distribution_manager,stock.group_stock_user",
            company_id=other.id,
            company_ids=[Command.set(other.ids)],
        )
        figures = self.Run.with_user(viewer).with_company(other)._replenishment_figures()
        self.assertEqual((figures["rules"], figures["under_min"], figures["vendors_drifting"]), (0, 0, 0))
        self.assertIsNone(figures["cover_days_p50"])

    def test_the_checked_figures_are_not_written_by_a_user(self):
        rule = self._rule(self.nut, 5, 20)
        rule._distribution_compute_suggestions()
        self.env["distribution.stock.monitor"]._cron_low_stock()
        self.assertTrue(rule.distribution_under_min)
        for context in ({}, {"distribution_verb": "distribution_replenishment_cover"}):
            with self.assertRaises(AccessError):
                rule.with_user(self.manager).with_context(**context).write({"distribution_under_min": False})
            with self.assertRaises(AccessError):
                rule.with_user(self.manager).with_context(**context).write({"distribution_free_qty": 100})
        self.assertTrue(rule.distribution_under_min)
