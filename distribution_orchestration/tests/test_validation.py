from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import Form
from odoo.tests import tagged

from .common import OrchestrationCase


@tagged("post_install", "-at_install")
class TestValidationPipeline(OrchestrationCase):
    """The checks at confirmation: each rule type at its boundaries, holds, warnings, notes."""

    def test_a_quotation_made_in_the_form_saves_and_confirms(self):
        """The form sends the defaults of the fields it shows (the validation badge): no gate is claimed."""
        self._rule("credit_limit")
        form = Form(self.env["sale.order"].with_user(self.salesman))
        form.partner_id = self.customer
        with form.order_line.new() as line:
            line.product_id = self.widget
            line.product_uom_qty = 2
        order = form.save()
        self.assertEqual(order.distribution_validation_state, "not_checked")
        order.with_user(self.salesman).action_confirm()
        self.assertEqual((order.state, order.distribution_validation_state), ("sale", "validated"))
        with Form(order.with_user(self.salesman)) as edit:
            edit.client_order_ref = "PO-4711"
        self.assertEqual(order.client_order_ref, "PO-4711")

    def test_no_rule_confirms_as_usual(self):
        order = self._order([(self.widget, 1)])
        self.assertTrue(order.action_confirm())
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.distribution_validation_state, "validated")

    def test_credit_limit_hold_tells_the_salesperson_and_raises_one_exception(self):
        self._rule("credit_limit")
        first = self._order([(self.widget, 60)])  # 6,000 of the 10,000 limit
        first.action_confirm()
        self.assertEqual(first.state, "sale")
        second = self._order([(self.widget, 45)])  # 6,000 to invoice + 4,500 = 10,500 > 10,000
        action = second.with_user(self.salesman).action_confirm()
        self.assertEqual(second.state, "draft")
        self.assertEqual(second.distribution_validation_state, "on_hold")
        self.assertEqual(second.distribution_hold_reason, "credit_limit")
        exception = second.distribution_exception_ids
        self.assertEqual((exception.category, exception.blocking, exception.state), ("credit", True, "new"))
        self.assertEqual(exception.values["over_by"], 500.0)
        self.assertEqual(action["tag"], "display_notification")
        message = action["params"]["message"]
        self.assertIn(second.name, message)
        self.assertIn("Credit limit exceeded", message)
        self.assertIn("over the limit of 10,000.00 by 500.00", message)
        self.assertIn("Resolved by", message)
        check = second.distribution_check_ids
        self.assertEqual((check.outcome, check.reason_code), ("hold", "credit_limit"))
        run = self.env["distribution.workflow.run"].search(
            [("workflow_id.code", "=", "order_validation"), ("res_id", "=", second.id)], limit=1
        )
        self.assertEqual((run.state, run.error_kind, run.reason), ("failed", "business", "credit_limit"))

    def test_credit_limit_boundary_passes(self):
        self._rule("credit_limit")
        order = self._order([(self.widget, 100)])  # exactly the limit
        order.action_confirm()
        self.assertEqual(order.state, "sale")

    def test_credit_limit_off_in_company_settings(self):
        self._rule("credit_limit")
        self.company.account_use_credit_limit = False
        order = self._order([(self.widget, 200)])
        order.action_confirm()
        self.assertEqual(order.state, "sale")

    def test_warn_confirms_and_raises_a_non_blocking_exception(self):
        self._rule("discount_ceiling", outcome="warn", discount_ceiling_pct=10)
        order = self._order([(self.widget, 1, {"discount": 15})])
        order.action_confirm()
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.distribution_validation_state, "warning")
        self.assertEqual(order.distribution_exception_ids.mapped("blocking"), [False])
        self.assertEqual(order.distribution_exception_ids.category, "discount")

    def test_note_only_records(self):
        self._rule("discount_ceiling", outcome="note", discount_ceiling_pct=10)
        order = self._order([(self.widget, 1, {"discount": 15})])
        order.action_confirm()
        self.assertEqual((order.state, order.distribution_validation_state), ("sale", "validated"))
        self.assertFalse(order.distribution_exception_ids)
        self.assertEqual(order.distribution_check_ids.outcome, "note")

    def test_discount_ceiling_boundary(self):
        self._rule("discount_ceiling", discount_ceiling_pct=10)
        at_ceiling = self._order([(self.widget, 1, {"discount": 10})])
        at_ceiling.action_confirm()
        self.assertEqual(at_ceiling.state, "sale")
        over = self._order([(self.widget, 1, {"discount": 10.5})])
        over.action_confirm()
        self.assertEqual(over.distribution_hold_reason, "discount_ceiling")

    def test_margin_floor_boundary_and_product_categories(self):
        rule = self._rule("margin_floor", margin_floor_pct=40)
        at_floor = self._order([(self.widget, 1)])  # (100 - 60) / 100 = 40 %
        at_floor.action_confirm()
        self.assertEqual(at_floor.state, "sale")
        under = self._order([(self.widget, 1, {"price_unit": 99})])
        under.action_confirm()
        self.assertEqual(under.distribution_hold_reason, "margin_floor")
        self.assertAlmostEqual(under.distribution_check_ids.values["margin_pct"], 39.39, places=2)
        # Only gadgets' category counted: a thin widget margin does not matter.
        category = self.env["product.category"].create({"name": "Gadgets"})
        self.gadget.categ_id = category
        rule.product_category_ids = category
        mixed = self._order([(self.widget, 1, {"price_unit": 61}), (self.gadget, 1)])
        mixed.action_confirm()
        self.assertEqual(mixed.state, "sale")

    def test_price_below_pricelist(self):
        self._rule("price_below_pricelist", pricelist_tolerance_pct=5)
        within = self._order([(self.widget, 1, {"price_unit": 95})])
        within.action_confirm()
        self.assertEqual(within.state, "sale")
        below = self._order([(self.widget, 1, {"price_unit": 94})])
        below.action_confirm()
        self.assertEqual(below.distribution_hold_reason, "price_below_pricelist")
        self.assertEqual(below.distribution_check_ids.values["below"], {"[WID] Widget": [94.0, 100.0]})
        # The list price with a 10% discount is a price of 90: below the pricelist all the same.
        discounted = self._order([(self.widget, 1, {"price_unit": 100, "discount": 10})])
        discounted.action_confirm()
        self.assertEqual(discounted.distribution_hold_reason, "price_below_pricelist")
        self.assertEqual(discounted.distribution_check_ids.values["below"], {"[WID] Widget": [90.0, 100.0]})

    def test_date_feasibility_from_stock_and_supplier_lead_time(self):
        self._rule("date_feasibility")
        self._stock(self.widget, 10)
        self.env["product.supplierinfo"].create(
            {
                "partner_id": self.env["res.partner"].create({"name": "Supplier"}).id,
                "product_tmpl_id": self.gadget.product_tmpl_id.id,
                "delay": 10,
            }
        )
        in_stock = self._order([(self.widget, 5)], commitment_date=self._in_hours(36))  # 1 day of lead time
        in_stock.action_confirm()
        self.assertEqual(in_stock.state, "sale")
        too_soon = self._order([(self.widget, 5)], commitment_date=self._in_hours(12))
        too_soon.action_confirm()
        self.assertEqual(too_soon.distribution_hold_reason, "date_infeasible")
        # No gadget in stock: 10 days from the supplier + 2 days of customer lead time.
        needs_purchase = self._order([(self.gadget, 1)], commitment_date=self._in_hours(24 * 7))
        needs_purchase.action_confirm()
        self.assertEqual(needs_purchase.distribution_hold_reason, "date_infeasible")
        self.assertEqual(needs_purchase.distribution_exception_ids.category, "date_infeasible")

    def test_rush_shipment_warns_the_warehouse(self):
        self._rule("rush_shipment", outcome="warn", rush_hours=24)
        rush = self._order([(self.widget, 1)], commitment_date=self._in_hours(6))
        rush.action_confirm()
        self.assertEqual((rush.state, rush.distribution_validation_state), ("sale", "warning"))
        self.assertEqual(rush.distribution_exception_ids.category, "rush")
        calm = self._order([(self.widget, 1)], commitment_date=self._in_hours(48))
        calm.action_confirm()
        self.assertEqual(calm.distribution_validation_state, "validated")

    def test_custom_condition(self):
        self._rule("custom", custom_domain="[('amount_untaxed', '>', 500)]")
        small = self._order([(self.widget, 5)])
        small.action_confirm()
        self.assertEqual(small.state, "sale")
        big = self._order([(self.widget, 6)])
        big.action_confirm()
        self.assertEqual(big.distribution_hold_reason, "custom")

    def test_a_condition_with_the_users_today_as_in_odoos_filters(self):
        # context_today() and relativedelta, as a filter of Odoo's is written: an order promised before
        # tomorrow (in the user's day) is held for a look.
        self._assert_holds_only_the_order_promised_soon(
            "[('commitment_date', '<', (context_today() + relativedelta(days=1)).strftime('%Y-%m-%d'))]", -1
        )

    def test_a_condition_built_with_odoos_domain_editor(self):
        # "Delivery Date is within the next 2 days", as Odoo's domain editor writes it on a date-time field:
        # its to_utc() is the web client's, evaluated on the server as the user's midnight in UTC.
        self.salesman.tz = "Asia/Tokyo"
        within = (
            '["&", ("commitment_date", ">=", datetime.datetime.combine(context_today(), datetime.time(0, 0, 0))'
            '.to_utc().strftime("%Y-%m-%d %H:%M:%S")), ("commitment_date", "<=", datetime.datetime.combine('
            "context_today() + relativedelta(days = 2), datetime.time(0, 0, 0))"
            '.to_utc().strftime("%Y-%m-%d %H:%M:%S"))]'
        )
        self._assert_holds_only_the_order_promised_soon(within, 24)

    def _assert_holds_only_the_order_promised_soon(self, custom_domain, soon_hours):
        """A custom rule of ``custom_domain`` holds an order promised in ``soon_hours`` and lets one promised in
        five days confirm."""
        self._rule("custom", custom_domain=custom_domain)
        soon = self._order([(self.widget, 1)], commitment_date=self._in_hours(soon_hours))
        soon.action_confirm()
        self.assertEqual(soon.distribution_hold_reason, "custom")
        later = self._order([(self.widget, 1)], commitment_date=self._in_hours(24 * 5))
        later.action_confirm()
        self.assertEqual(later.state, "sale")

    def test_applicability_by_tag_amount_and_warehouse(self):
        tag = self.env["res.partner.category"].create({"name": "Watched"})
        self._rule("discount_ceiling", discount_ceiling_pct=0, partner_category_ids=[Command.set(tag.ids)])
        untagged = self._order([(self.widget, 1, {"discount": 5})])
        untagged.action_confirm()
        self.assertEqual(untagged.state, "sale")
        self.customer.category_id = tag
        tagged_order = self._order([(self.widget, 1, {"discount": 5})])
        tagged_order.action_confirm()
        self.assertEqual(tagged_order.state, "draft")
        self.Rule.search([]).write({"amount_min": 1000})
        small = self._order([(self.widget, 1, {"discount": 5})])
        small.action_confirm()
        self.assertEqual(small.state, "sale")
        self.Rule.search([]).write({"amount_min": 0, "warehouse_ids": [Command.set(self.wh_east.ids)]})
        main = self._order([(self.widget, 1, {"discount": 5})])
        main.action_confirm()
        self.assertEqual(main.state, "sale")

    def test_repeat_keeps_one_open_exception_per_rule(self):
        self._rule("discount_ceiling", discount_ceiling_pct=5)
        order = self._order([(self.widget, 1, {"discount": 10})])
        order.action_confirm()
        order.action_confirm()
        order.action_distribution_validate()
        self.assertEqual(len(order.distribution_exception_ids), 1)
        # Editing (as the form saves it) re-runs the checks: same exception, new values.
        order.write({"order_line": [Command.update(order.order_line.id, {"discount": 20})]})
        self.assertEqual(len(order.distribution_exception_ids), 1)
        self.assertEqual(order.distribution_exception_ids.values["over"], {"[WID] Widget": 20.0})

    def test_editing_a_held_order_reruns_the_checks_but_saving_never_confirms(self):
        self._rule("discount_ceiling", discount_ceiling_pct=5)
        order = self._order([(self.widget, 1, {"discount": 10})])
        order.action_confirm()
        exception = order.distribution_exception_ids
        order.with_user(self.salesman).write({"order_line": [Command.update(order.order_line.id, {"discount": 5})]})
        self.assertEqual(exception.state, "resolved", "the hold cleared with the edit")
        self.assertEqual(order.state, "draft", "saving is no confirmation")
        self.assertEqual(order.distribution_validation_state, "validated")
        self.assertFalse(
            self.env["distribution.workflow.run"].search(
                [("workflow_id.code", "=", "hold_release"), ("res_id", "=", order.id)]
            )
        )
        # Confirming stays the salesperson's act, and runs the checks again.
        order.with_user(self.salesman).action_confirm()
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.distribution_validation_state, "validated")

    def test_resolving_every_hold_by_hand_confirms_the_order(self):
        self._rule("discount_ceiling", discount_ceiling_pct=5)
        self._rule("margin_floor", margin_floor_pct=50)
        order = self._order([(self.widget, 1, {"discount": 10})])
        order.action_confirm()
        first, second = order.distribution_exception_ids.sorted("id")
        first.with_user(self.dist_user).write({"resolution_note": "Discount agreed by the sales director"})
        first.with_user(self.dist_user).action_resolve()
        self.assertEqual(order.state, "draft", "one hold left")
        second.with_user(self.dist_user).write({"resolution_note": "Margin accepted for this launch"})
        second.with_user(self.dist_user).action_resolve()
        self.assertEqual(order.state, "sale")

    def test_force_release_by_a_manager_only(self):
        self._rule("credit_limit")
        order = self._order([(self.widget, 150)])
        order.action_confirm()
        with self.assertRaises(AccessError):
            order.with_user(self.salesman).action_distribution_release()
        with self.assertRaises(AccessError):
            order.with_user(self.dist_user)._distribution_force_release("I say so")
        action = order.with_user(self.manager).action_distribution_release()
        wizard = Form(self.env[action["res_model"]].with_user(self.manager).with_context(**action["context"]))
        wizard.reason = "Customer paid by wire this morning"
        wizard.save().action_release()
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.distribution_validation_state, "released")
        self.assertEqual(order.distribution_release_reason, "Customer paid by wire this morning")
        self.assertEqual(order.distribution_exception_ids.state, "dismissed")
        self.assertIn("Released from hold", order.message_ids[:3].mapped(lambda m: str(m.body)).__str__())

    def test_a_salesperson_without_distribution_role_confirms_through_the_pipeline(self):
        self._rule("discount_ceiling", discount_ceiling_pct=5)
        order = self._order([(self.widget, 1, {"discount": 10})], user=self.salesman)
        order.with_user(self.salesman).action_confirm()
        self.assertEqual(order.distribution_validation_state, "on_hold")
        self.assertTrue(order.with_user(self.salesman).distribution_check_ids)
        self.assertEqual(order.with_user(self.salesman).distribution_exception_ids.category, "discount")

    def test_hold_notice_reaches_the_salesperson_once(self):
        self._rule("discount_ceiling", discount_ceiling_pct=5)
        order = self._order([(self.widget, 1, {"discount": 10})], user_id=self.salesman.id)

        def notices():
            return order.message_ids.filtered(lambda m: (m.subject or "").startswith(f"On hold: {order.name}"))

        order.action_confirm()
        self.assertEqual(len(notices()), 1)
        self.assertIn(self.salesman.partner_id, notices().partner_ids)
        self.env["sale.order"]._cron_revalidate_held_orders()
        order.action_distribution_validate()
        self.assertEqual(len(notices()), 1, "re-validation of a held order does not post the notice again")
