import logging
from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged

from .common import OrchestrationCase

_logger = logging.getLogger(__name__)


def confirm_queries(case, lines):
    """Queries of confirming a new order of ``lines`` ((product, quantity) pairs) from an empty record cache."""
    order = case._order(lines)
    case.env.flush_all()
    case.env.invalidate_all()
    before = case.cr.sql_log_count
    order.action_confirm()
    case.env.flush_all()
    case.assertEqual(order.state, "sale")
    return case.cr.sql_log_count - before


@tagged("post_install", "-at_install")
class TestPipelineCost(OrchestrationCase):
    """Eight active checks cost a bounded number of queries, the same for 1 and 20 lines."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Product = cls.env["product.product"]
        cls.products = Product.create(
            [
                {
                    "name": f"Item {i}",
                    "is_storable": True,
                    "type": "consu",
                    "list_price": 10.0 + i,
                    "standard_price": 5.0,
                    "invoice_policy": "order",
                    "taxes_id": [(5, 0, 0)],
                }
                for i in range(20)
            ]
        )
        for product in cls.products:
            cls.env["stock.quant"]._update_available_quantity(product, cls.wh_main.lot_stock_id, 100)
        cls.customer.credit_limit = 1e9

    def _eight_rules(self):
        for rule_type, params in [
            ("credit_limit", {}),
            ("stock_availability", {}),
            ("margin_floor", {"margin_floor_pct": 10}),
            ("discount_ceiling", {"discount_ceiling_pct": 50}),
            ("price_below_pricelist", {}),
            ("date_feasibility", {}),
            ("rush_shipment", {"outcome": "warn", "rush_hours": 1}),
            ("custom", {"custom_domain": "[('amount_total', '>', 1e12)]"}),
        ]:
            self._rule(rule_type, **{"outcome": "hold", **params})

    def _confirm_queries(self, lines):
        return confirm_queries(self, [(product, 1) for product in self.products[:lines]])

    def test_query_overhead_is_bounded_and_flat(self):
        # Warm the caches (registry, ormcache, sequences) once for each path.
        self._confirm_queries(1)
        plain = {n: self._confirm_queries(n) for n in (1, 20)}
        self._eight_rules()
        self._confirm_queries(1)
        checked = {n: self._confirm_queries(n) for n in (1, 20)}
        overhead = {n: checked[n] - plain[n] for n in (1, 20)}
        _logger.info("confirmation queries, plain %s, with 8 checks %s, overhead %s", plain, checked, overhead)
        # Target: at most 25 more queries than a plain confirmation, whatever the number of lines.
        self.assertLessEqual(overhead[1], 25, overhead)
        self.assertLessEqual(overhead[20], 25, overhead)
        self.assertLessEqual(abs(overhead[20] - overhead[1]), 2, f"the overhead must not grow with lines: {overhead}")


@tagged("post_install", "-at_install")
class TestAutomationLookup(OrchestrationCase):
    """The shipped automation rules make Odoo look up the rules of sale orders at every write: the lookup is
    cached, and every change to a rule takes effect at once."""

    def _automation_searches(self, write):
        """Queries searching base_automation while ``write()`` runs (a spy on the cursor: the queries run)."""
        seen = []
        execute = type(self.cr).execute

        def spy(cr, query, params=None, log_exceptions=True):
            text = query.code if hasattr(query, "code") else str(query)
            if 'SELECT "base_automation"."id" FROM "base_automation"' in text:
                seen.append(text)
            return execute(cr, query, params, log_exceptions)

        with patch.object(type(self.cr), "execute", spy):
            write()
            self.env.flush_all()
        return len(seen)

    def test_the_rules_are_looked_up_once_and_follow_every_change(self):
        order = self._order([(self.widget, 1)])
        order.write({"note": "warm"})
        self.assertEqual(self._automation_searches(lambda: order.write({"note": "again"})), 0)

        # A rule created now fires at the next write (the cache is cleared by the creation).
        rule = self.env["base.automation"].create(
            {
                "name": "Tag the reference",
                "model_id": self.env.ref("sale.model_sale_order").id,
                "trigger": "on_create_or_write",
                "filter_domain": "[('note', 'ilike', 'tag me')]",
                "action_server_ids": [
                    Command.create(
                        {
                            "name": "Set the reference",
                            "model_id": self.env.ref("sale.model_sale_order").id,
                            "state": "code",
                            "code": "record.write({'client_order_ref': 'TAGGED'})",
                        }
                    )
                ],
            }
        )
        order.write({"note": "tag me"})
        self.assertEqual(order.client_order_ref, "TAGGED")

        # Switched off, it stops at once.
        rule.active = False
        order.write({"client_order_ref": False})
        order.write({"note": "tag me again"})
        self.assertFalse(order.client_order_ref)

        # Switched on again, and deleted.
        rule.active = True
        order.write({"note": "tag me once more"})
        self.assertEqual(order.client_order_ref, "TAGGED")
        rule.unlink()
        order.write({"client_order_ref": False})
        order.write({"note": "tag me a last time"})
        self.assertFalse(order.client_order_ref)


@tagged("post_install", "-at_install")
class TestAutomationHooksNarrowed(OrchestrationCase):
    """Odoo's automation hooks on write and on recomputation are skipped when no trigger field of the model's
    rules is written or recomputed; a rule still fires when its fields change, through a recomputation too,
    and a rule without trigger fields still sees every change."""

    def _rule(self, name, code, trigger_fields=(), **vals):
        sale_order = self.env.ref("sale.model_sale_order")
        fields = self.env["ir.model.fields"].search(
            [("model", "=", "sale.order"), ("name", "in", list(trigger_fields))]
        )
        return self.env["base.automation"].create(
            {
                "name": name,
                "model_id": sale_order.id,
                "trigger": "on_create_or_write",
                "trigger_field_ids": [Command.set(fields.ids)],
                "action_server_ids": [
                    Command.create({"name": name, "model_id": sale_order.id, "state": "code", "code": code})
                ],
                **vals,
            }
        )

    def test_a_rule_on_a_recomputed_field_fires_when_it_changes(self):
        self._rule(
            "Big order",
            "record.write({'client_order_ref': 'BIG %s' % int(record.amount_untaxed)})",
            trigger_fields=["amount_untaxed"],
            filter_domain="[('amount_untaxed', '>', 1000)]",
        )
        order = self._order([(self.widget, 1)])
        self.assertFalse(order.client_order_ref)
        order.order_line.write({"product_uom_qty": 500, "price_unit": 10})  # the amount is recomputed
        self.env.flush_all()
        self.assertEqual(order.client_order_ref, "BIG 5000")
        order.write({"client_order_ref": False, "note": "a change of another field"})
        self.env.flush_all()
        self.assertFalse(order.client_order_ref, "the amount did not change: the rule must not fire")

    def test_a_rule_on_a_written_field_fires_only_for_that_field(self):
        order = self._order([(self.widget, 1)])
        self._rule("Noted", "record.write({'client_order_ref': 'NOTED'})", trigger_fields=["note"])
        order.write({"origin": "not watched"})
        self.assertFalse(order.client_order_ref)
        order.write({"note": "watched"})
        self.assertEqual(order.client_order_ref, "NOTED")

    def test_a_rule_without_trigger_fields_sees_recomputations(self):
        order = self._order([(self.widget, 1)])
        self._rule(
            "Any change",
            "record.write({'client_order_ref': 'SEEN'})",
            filter_domain="[('amount_untaxed', '>', 1000)]",
        )
        self.env.flush_all()
        # Only the line is written: the order changes through the recomputation of its amounts.
        order.order_line.write({"product_uom_qty": 500, "price_unit": 10})
        self.env.flush_all()
        self.assertEqual(order.client_order_ref, "SEEN")

    def test_the_shipped_release_rule_costs_a_confirmation_nothing(self):
        released = self.env.ref("distribution_orchestration.base_automation_distribution_order_released")
        self.assertTrue(released.active)
        lines = [(self.widget, 1), (self.gadget, 1)]
        confirm_queries(self, lines)  # warm-up
        with_rule = confirm_queries(self, lines)
        released.active = False
        confirm_queries(self, lines)
        without_rule = confirm_queries(self, lines)
        self.assertEqual(with_rule, without_rule)
