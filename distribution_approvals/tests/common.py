from odoo import Command
from odoo.addons.distribution_observability.tests.rpc import JsonRpcMixin
from odoo.addons.distribution_orchestration.tests.common import isolate_from_shipped_policy
from odoo.tests import new_test_user
from odoo.tests.common import HttpCase
from odoo.tests.common import TransactionCase

APPROVER = "distribution_approvals.group_distribution_approver"


class ApprovalFixtures:
    """A salesperson who requests, three approvers, a Distribution Manager, a customer with a tag, a
    product category and an order. Rules are built with ``_rule``; requests with ``_request``."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.company
        isolate_from_shipped_policy(cls.env)
        cls.requester = new_test_user(cls.env, "apr_requester", groups="sales_team.group_sale_salesman")
        cls.approver_1 = new_test_user(cls.env, "apr_approver_1", groups=f"{APPROVER},sales_team.group_sale_salesman")
        cls.approver_2 = new_test_user(cls.env, "apr_approver_2", groups=f"{APPROVER},sales_team.group_sale_salesman")
        cls.approver_3 = new_test_user(cls.env, "apr_approver_3", groups=f"{APPROVER},sales_team.group_sale_salesman")
        cls.manager = new_test_user(
            cls.env,
            "apr_manager",
            groups="distribution_observability.group_distribution_manager,sales_team.group_sale_manager",
        )
        cls.approver_group = cls.env.ref(APPROVER)
        cls.key_account = cls.env["res.partner.category"].create({"name": "Key account"})
        cls.customer = cls.env["res.partner"].create(
            {"name": "Approval Customer", "category_id": [Command.link(cls.key_account.id)]}
        )
        cls.other_customer = cls.env["res.partner"].create({"name": "Walk-in Customer"})
        cls.categ_fresh = cls.env["product.category"].create({"name": "Fresh"})
        cls.categ_dry = cls.env["product.category"].create({"name": "Dry"})
        cls.product = cls.env["product.product"].create(
            {
                "name": "Approval Widget",
                "is_storable": True,
                "type": "consu",
                "list_price": 100.0,
                "standard_price": 60.0,
                "categ_id": cls.categ_fresh.id,
                "taxes_id": [Command.clear()],
            }
        )
        cls.Rule = cls.env["distribution.approval.rule"]
        cls.Request = cls.env["distribution.approval.request"]
        cls.Audit = cls.env["distribution.audit.entry"]

    def _rule(self, request_type="discount", tiers=None, **vals):
        """A rule with ``tiers``: a list of dicts (default: one tier of the approver group)."""
        tiers = (
            tiers
            if tiers is not None
            else [{"name": "Approvers", "approver_type": "group", "group_id": self.approver_group.id}]
        )
        return self.Rule.create(
            {
                "name": f"{request_type} rule",
                "request_type": request_type,
                "tier_ids": [Command.create(dict({"sequence": index}, **tier)) for index, tier in enumerate(tiers)],
                **vals,
            }
        )

    def _users_tier(self, name, users, min_approvals=1, **vals):
        return {
            "name": name,
            "approver_type": "user",
            "user_ids": [Command.set(users.ids)],
            "min_approvals": min_approvals,
            **vals,
        }

    def _order(self, partner=None, qty=1, price=None, user=None):
        line = {"product_id": self.product.id, "product_uom_qty": qty}
        if price is not None:
            line["price_unit"] = price
        return (
            self.env["sale.order"]
            .with_user(user or self.requester)
            .create(
                {
                    "partner_id": (partner or self.customer).id,
                    "order_line": [Command.create(line)],
                }
            )
        )

    def _request(self, record=None, request_type="discount", amount=1000.0, user=None, **kwargs):
        """A request made by ``user`` (the requester by default), as the system makes it."""
        record = record or self._order()
        return self.Request.with_user(user or self.requester)._request(record, request_type, amount=amount, **kwargs)

    def _approval_activities(self, request):
        return request.activity_ids.filtered(
            lambda a: a.activity_type_id
            == self.env.ref("distribution_approvals.mail_activity_type_distribution_approval")
        )


class ApprovalCase(ApprovalFixtures, TransactionCase):
    """The fixtures, in a transaction rolled back after each test."""


class ApprovalHttpCase(ApprovalFixtures, JsonRpcMixin, HttpCase):
    """The fixtures, with a server that answers JSON-RPC: for the tests that attack a gate through the
    doors a user has."""
