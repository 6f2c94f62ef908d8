from datetime import timedelta

from odoo import Command
from odoo import fields
from odoo.addons.distribution_observability.tests.rpc import JsonRpcMixin
from odoo.tests import new_test_user
from odoo.tests.common import HttpCase
from odoo.tests.common import TransactionCase


def isolate_from_shipped_policy(env):
    """Switch off the validation and approval rules shipped as data (the starter policy, and the demo's),
    and the demo's exception routing: each test builds the policy it tests. The shipped policy has tests of
    its own (distribution_approvals/tests/test_starter_policy.py)."""
    env["distribution.validation.rule"].search([]).action_archive()
    env["distribution.exception.route"].search([]).action_archive()
    if "distribution.approval.rule" in env:
        env["distribution.approval.rule"].search([]).action_archive()


class OrchestrationFixtures:
    """Two warehouses, storable products with cost and price, a customer with a credit limit, and
    users of each role. Orders are built with ``_order``; rules with ``_rule``."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        isolate_from_shipped_policy(cls.env)
        cls.company.account_use_credit_limit = True
        cls.salesman = new_test_user(cls.env, "orch_salesman", groups="sales_team.group_sale_salesman")
        cls.dist_user = new_test_user(
            cls.env,
            "orch_dist_user",
            groups="distribution_observability.group_distribution_user,sales_team.group_sale_salesman",
        )
        cls.manager = new_test_user(
            cls.env,
            "orch_manager",
            groups="distribution_observability.group_distribution_manager,sales_team.group_sale_salesman_all_leads",
        )
        cls.wh_main = cls.env["stock.warehouse"].search([("company_id", "=", cls.company.id)], limit=1)
        cls.wh_east = cls.env["stock.warehouse"].create({"name": "East", "code": "EAST", "company_id": cls.company.id})
        Product = cls.env["product.product"]
        cls.widget = Product.create(
            {
                "name": "Widget",
                "default_code": "WID",
                "is_storable": True,
                "type": "consu",
                "list_price": 100.0,
                "standard_price": 60.0,
                "invoice_policy": "order",
                "sale_delay": 1,
                "taxes_id": [Command.clear()],
            }
        )
        cls.gadget = Product.create(
            {
                "name": "Gadget",
                "default_code": "GAD",
                "is_storable": True,
                "type": "consu",
                "list_price": 50.0,
                "standard_price": 20.0,
                "invoice_policy": "order",
                "sale_delay": 2,
                "taxes_id": [Command.clear()],
            }
        )
        cls.customer = cls.env["res.partner"].create(
            {
                "name": "Key Account Ltd",
                "use_partner_credit_limit": True,
                "credit_limit": 10000.0,
            }
        )
        cls.Rule = cls.env["distribution.validation.rule"]
        cls.Exception = cls.env["distribution.exception"]

    def _stock(self, product, qty, warehouse=None):
        self.env["stock.quant"]._update_available_quantity(product, (warehouse or self.wh_main).lot_stock_id, qty)

    def _order(self, lines, partner=None, warehouse=None, user=None, **vals):
        order = (
            self.env["sale.order"]
            .with_user(user or self.salesman)
            .create(
                {
                    "partner_id": (partner or self.customer).id,
                    "warehouse_id": (warehouse or self.wh_main).id,
                    "order_line": [
                        Command.create(
                            {"product_id": product.id, "product_uom_qty": qty, **(extra[0] if extra else {})}
                        )
                        for product, qty, *extra in lines
                    ],
                    **vals,
                }
            )
        )
        return order

    def _rule(self, rule_type, outcome="hold", **vals):
        return self.Rule.create(
            {"name": f"{rule_type} ({outcome})", "rule_type": rule_type, "outcome": outcome, **vals}
        )

    def _in_hours(self, hours):
        return fields.Datetime.now() + timedelta(hours=hours)


class OrchestrationCase(OrchestrationFixtures, TransactionCase):
    """The fixtures, in a transaction rolled back after each test."""


class OrchestrationHttpCase(OrchestrationFixtures, JsonRpcMixin, HttpCase):
    """The fixtures, with a server that answers JSON-RPC: for the tests that attack a gate through the
    doors a user has."""
