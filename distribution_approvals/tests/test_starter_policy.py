from odoo import Command
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

MANAGER = "distribution_observability.group_distribution_manager"
APPROVER = "distribution_approvals.group_distribution_approver"

# What the suite ships, and whether it is on from the first minute (issue: a starter policy as data).
ACTIVE = {
    "distribution_orchestration.starter_rule_credit_limit": True,
    "distribution_orchestration.starter_rule_stock_availability": True,
    "distribution_orchestration.starter_rule_date_feasibility": True,
    "distribution_orchestration.starter_rule_margin_floor": False,
    "distribution_orchestration.starter_rule_price_below_pricelist": False,
    "distribution_approvals.starter_rule_discount_approval": True,
    "distribution_approvals.starter_approval_vendor_change": True,
    "distribution_approvals.starter_approval_emergency_purchase": True,
    "distribution_approvals.starter_approval_inventory_adjustment": True,
    "distribution_approvals.starter_approval_scrap": True,
    "distribution_approvals.starter_approval_discount_low": True,
    "distribution_approvals.starter_approval_discount_high": True,
    "distribution_approvals.starter_approval_price_low": True,
    "distribution_approvals.starter_approval_price_high": True,
    "distribution_orchestration.starter_sla_standard": True,
    "distribution_orchestration.starter_sla_priority": True,
    "distribution_orchestration.starter_sla_critical": True,
    "distribution_observability.starter_alert_failure_rate": True,
    "distribution_orchestration.starter_alert_dead_letters": True,
    "distribution_orchestration.starter_alert_overdue_exceptions": True,
    "distribution_orchestration.starter_alert_inbound_rejections": True,
    "distribution_approvals.starter_alert_pending_approvals": True,
}


@tagged("post_install", "-at_install", "distribution_starter")
class TestStarterPolicy(TransactionCase):
    """The policy shipped as data governs from the first minute: nothing to configure for an over-limit
    order to be held, a large discount to wait for approval, or a vendor's new bank account to need a
    manager. It runs in `make test` on the demo database and on one installed without demo data."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.ref("base.main_company")
        cls.salesman = new_test_user(cls.env, "starter_salesman", groups="sales_team.group_sale_salesman")
        cls.manager = new_test_user(cls.env, "starter_manager", groups=f"{MANAGER},sales_team.group_sale_manager")
        cls.clerk = new_test_user(cls.env, "starter_clerk", groups="base.group_user,base.group_partner_manager")
        cls.product = cls.env["product.product"].create(
            {
                "name": "Starter Pallet",
                "type": "service",
                "list_price": 100.0,
                "standard_price": 60.0,
                "taxes_id": [Command.clear()],
            }
        )

    def _order(self, partner, qty=10, discount=0.0):
        line = {"product_id": self.product.id, "product_uom_qty": qty, "discount": discount}
        return (
            self.env["sale.order"]
            .with_user(self.salesman)
            .create({"partner_id": partner.id, "order_line": [Command.create(line)]})
        )

    def test_the_policy_is_shipped_as_listed_and_described(self):
        for xmlid, active in ACTIVE.items():
            record = self.env.ref(xmlid)
            self.assertEqual(record.active, active, xmlid)
            self.assertGreater(len(record.description or ""), 40, f"{xmlid} says what it does and why")
            data = self.env["ir.model.data"]._xmlid_lookup(xmlid)
            self.assertTrue(
                self.env["ir.model.data"].search([("model", "=", data[0]), ("res_id", "=", data[1])]).noupdate,
                f"{xmlid} is noupdate: tuning survives upgrades",
            )
        ref = self.env.ref
        self.assertEqual(ref("distribution_orchestration.starter_rule_credit_limit").outcome, "hold")
        self.assertEqual(ref("distribution_orchestration.starter_rule_stock_availability").outcome, "warn")
        self.assertEqual(ref("distribution_orchestration.starter_rule_date_feasibility").outcome, "warn")
        self.assertEqual(ref("distribution_orchestration.starter_rule_margin_floor").margin_floor_pct, 10.0)
        discount = ref("distribution_approvals.starter_rule_discount_approval")
        self.assertEqual((discount.outcome, discount.discount_ceiling_pct), ("approval", 15.0))
        vendor = ref("distribution_approvals.starter_approval_vendor_change")
        self.assertEqual(vendor.tier_ids.group_id, ref(MANAGER))
        self.assertEqual(
            [
                (r.amount_min, r.amount_max, len(r.tier_ids))
                for r in ref("distribution_approvals.starter_approval_discount_low")
                | ref("distribution_approvals.starter_approval_discount_high")
            ],
            [(0.0, 10000.0, 1), (10000.0, 0.0, 2)],
        )
        tiers = (
            ref("distribution_orchestration.starter_sla_standard")
            | ref("distribution_orchestration.starter_sla_priority")
            | ref("distribution_orchestration.starter_sla_critical")
        )
        self.assertEqual(tiers.mapped("target_hours"), [48.0, 24.0, 4.0])
        # Counting and scrapping are not stopped on day one: off, with a threshold ready.
        self.assertFalse(self.company.distribution_inventory_approval)
        self.assertFalse(self.company.distribution_scrap_approval)
        self.assertEqual(self.company.distribution_inventory_approval_amount, 2500.0)
        self.assertEqual(self.company.distribution_scrap_approval_amount, 1000.0)

    def test_alerts_post_to_the_distribution_channel_whose_members_are_the_managers(self):
        channel = self.env.ref("distribution_observability.channel_distribution_alerts")
        self.assertIn(self.manager.partner_id, channel.channel_member_ids.partner_id, "a new manager is a member")
        self.assertNotIn(self.salesman.partner_id, channel.channel_member_ids.partner_id)
        for xmlid, _active in filter(lambda item: "_alert_" in item[0], ACTIVE.items()):
            self.assertEqual(self.env.ref(xmlid).channel_id, channel, xmlid)
        # The failure-rate alert trips on runs tracked for real, and posts in the channel.
        rule = self.env.ref("distribution_observability.starter_alert_failure_rate")
        Run = self.env["distribution.workflow.run"]
        self.env["distribution.workflow"].create({"code": "starter_probe", "name": "Starter probe"})
        for index in range(5):
            with Run.track("starter_probe") as run:
                if index < 2:
                    run.fail("probe_failed", "The probe failed on purpose.")
        rule._evaluate()
        self.assertEqual(rule.state, "tripped")
        self.assertTrue(channel.message_ids.filtered(lambda m: rule.name in (m.body or "")))

    def test_over_limit_order_is_held_on_its_first_confirmation(self):
        # What a credit manager sets in Odoo (the credit limit of a customer); nothing of the suite.
        self.company.account_use_credit_limit = True
        customer = self.env["res.partner"].create(
            {"name": "Starter Over-limit Ltd", "use_partner_credit_limit": True, "credit_limit": 500.0}
        )
        order = self._order(customer, qty=10)  # 1,000 against a limit of 500
        order.with_user(self.salesman).action_confirm()
        self.assertEqual(order.state, "draft")
        self.assertEqual(order.distribution_validation_state, "on_hold")
        check = order.distribution_check_ids.filtered(lambda c: c.reason_code == "credit_limit")
        self.assertEqual(check.rule_id, self.env.ref("distribution_orchestration.starter_rule_credit_limit"))
        self.assertEqual(order.distribution_exception_ids.filtered("blocking").category, "credit")
        # Under the limit, the same customer's order confirms.
        small = self._order(customer, qty=2)
        small.with_user(self.salesman).action_confirm()
        self.assertEqual(small.state, "sale")

    def test_discount_above_15_percent_waits_for_an_approver(self):
        customer = self.env["res.partner"].create({"name": "Starter Discount Ltd"})
        order = self._order(customer, qty=10, discount=20.0)
        order.with_user(self.salesman).action_confirm()
        self.assertEqual(order.state, "draft")
        request = order.distribution_exception_ids.approval_request_id
        self.assertEqual((request.request_type, request.state), ("discount", "pending"))
        self.assertEqual(request.rule_id, self.env.ref("distribution_approvals.starter_approval_discount_low"))
        # 15% is the ceiling itself: no approval.
        fine = self._order(customer, qty=10, discount=15.0)
        fine.with_user(self.salesman).action_confirm()
        self.assertEqual(fine.state, "sale")

    def test_a_vendor_bank_account_change_asks_a_manager(self):
        vendor = self.env["res.partner"].create({"name": "Starter Steel", "is_company": True, "supplier_rank": 1})
        account = (
            self.env["res.partner.bank"]
            .with_user(self.clerk)
            .create({"partner_id": vendor.id, "acc_number": "BE71096123456769"})
        )
        self.assertFalse(account.active, "a new account is not usable before it is approved")
        request = self.env["distribution.approval.request"].search(
            [("res_model", "=", "res.partner.bank"), ("res_id", "=", account.id)]
        )
        self.assertEqual((request.request_type, request.state), ("vendor_change", "pending"))
        self.assertEqual(request.rule_id, self.env.ref("distribution_approvals.starter_approval_vendor_change"))
        tier = request.tier_ids
        self.assertEqual(tier.tier_id, self.env.ref("distribution_approvals.starter_approval_vendor_change_tier"))
        self.assertIn(self.manager, tier.approver_ids, "the Distribution Managers decide")
        self.assertNotIn(self.clerk, tier.approver_ids)

    def test_a_new_company_starts_with_the_policy_as_the_main_company_has_it(self):
        ref = self.env.ref
        ref("distribution_approvals.starter_rule_discount_approval").discount_ceiling_pct = 12.0
        ref("distribution_orchestration.starter_rule_date_feasibility").active = False
        # Made by a Distribution Manager, who is given access to it (Odoo adds the creator): the manager
        # tiers of the matrix have an approver there.
        self.manager.groups_id |= ref("base.group_erp_manager")
        company = self.env["res.company"].with_user(self.manager).create({"name": "Starter Second Co"})
        rules = (
            self.env["distribution.validation.rule"]
            .with_context(active_test=False)
            .search([("company_id", "=", company.id)])
        )
        self.assertEqual(sorted(rules.mapped("rule_type")), ["credit_limit", "discount_ceiling", "stock_availability"])
        self.assertEqual(rules.filtered(lambda r: r.rule_type == "discount_ceiling").discount_ceiling_pct, 12.0)
        self.assertEqual(rules.create_uid, ref("base.user_root"), "the copies are the system's, not the manager's")
        matrix = self.env["distribution.approval.rule"].search([("company_id", "=", company.id)])
        self.assertIn("vendor_change", matrix.mapped("request_type"))
        self.assertEqual(matrix.filtered(lambda r: r.request_type == "vendor_change").tier_ids.group_id, ref(MANAGER))
        alerts = self.env["distribution.alert.rule"].search([("company_id", "=", company.id)])
        # Every starter alert rule of the installed addons (five of observability, orchestration and
        # approvals, one more with the AI triage).
        starter = self.env["ir.model.data"].search(
            [("model", "=", "distribution.alert.rule"), ("name", "=like", "starter\\_alert\\_%")]
        )
        self.assertEqual(len(alerts), len(starter))
        self.assertGreaterEqual(len(alerts), 5)
