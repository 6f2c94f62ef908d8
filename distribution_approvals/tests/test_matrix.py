from datetime import timedelta

from odoo import Command
from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import ApprovalCase


@tagged("post_install", "-at_install")
class TestApprovalMatrix(ApprovalCase):
    """Which rule governs a request: the first active rule of the request's type and company, by
    sequence, whose conditions all hold; none: one tier of the Distribution Approver group."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.categ_chilled = cls.env["product.category"].create({"name": "Chilled", "parent_id": cls.categ_fresh.id})
        cls.chilled_product, cls.dry_product = cls.env["product.product"].create(
            [
                {"name": "Chilled Widget", "list_price": 100.0, "categ_id": cls.categ_chilled.id},
                {"name": "Dry Widget", "list_price": 100.0, "categ_id": cls.categ_dry.id},
            ]
        )
        cls.customer_contact = cls.env["res.partner"].create(
            {"name": "Buyer at Approval Customer", "parent_id": cls.customer.id, "type": "contact"}
        )
        cls.main_warehouse = cls.env["stock.warehouse"].search([("company_id", "=", cls.company.id)], limit=1)
        cls.north = cls.env["stock.warehouse"].create({"name": "North Depot", "code": "APRN"})

    def _governing(self, amount=1000.0, record=None, request_type="discount"):
        """The rule of a request made now by the salesperson."""
        return self._request(record=record, request_type=request_type, amount=amount).rule_id

    def _order_of(self, product, partner=None, warehouse=None):
        order = self._order(partner=partner)
        order.order_line.product_id = product
        if warehouse:
            order.warehouse_id = warehouse
        return order

    def test_amount_bands_include_the_minimum_and_exclude_the_maximum(self):
        small = self._rule(name="Small", amount_max=1000.0)
        medium = self._rule(name="Medium", amount_min=1000.0, amount_max=5000.0)
        large = self._rule(name="Large", amount_min=5000.0)
        for amount, rule in [
            (0.0, small),
            (999.99, small),
            (1000.0, medium),
            (4999.99, medium),
            (5000.0, large),
            (10_000_000.0, large),
        ]:
            with self.subTest(amount=amount):
                self.assertEqual(self._governing(amount), rule)

    def test_a_gap_between_bands_falls_back_to_the_approver_group(self):
        self._rule(name="Over 5,000", amount_min=5000.0)
        request = self._request(amount=4999.99)
        self.assertFalse(request.rule_id)
        self.assertEqual(request.tier_ids.mapped("name"), ["Distribution Approver"])

    def test_product_categories_cover_their_sub_categories(self):
        fresh = self._rule(name="Fresh", product_category_ids=[Command.set(self.categ_fresh.ids)])
        self.assertEqual(self._governing(record=self._order_of(self.product)), fresh)
        self.assertEqual(self._governing(record=self._order_of(self.chilled_product)), fresh)
        self.assertFalse(self._governing(record=self._order_of(self.dry_product)))
        chilled_only = self._rule(
            name="Chilled only", sequence=1, product_category_ids=[Command.set(self.categ_chilled.ids)]
        )
        self.assertEqual(self._governing(record=self._order_of(self.chilled_product)), chilled_only)
        self.assertEqual(self._governing(record=self._order_of(self.product)), fresh, "a parent is not a child")

    def test_customer_tags_select_a_segment(self):
        key_accounts = self._rule(name="Key accounts", partner_category_ids=[Command.set(self.key_account.ids)])
        self.assertEqual(self._governing(record=self._order(partner=self.customer)), key_accounts)
        self.assertEqual(
            self._governing(record=self._order(partner=self.customer_contact)),
            key_accounts,
            "a contact belongs to its company's segment",
        )
        self.assertFalse(self._governing(record=self._order(partner=self.other_customer)))

    def test_warehouses(self):
        north_rule = self._rule(name="North", warehouse_ids=[Command.set(self.north.ids)])
        self.assertEqual(self._governing(record=self._order_of(self.product, warehouse=self.north)), north_rule)
        self.assertFalse(self._governing(record=self._order_of(self.product, warehouse=self.main_warehouse)))
        # What a document does not say can be given as a fact.
        self.assertEqual(
            self.Rule._select("discount", self.customer, 10.0, self.company, facts={"warehouse": self.north}),
            north_rule,
        )

    def test_a_warehouse_rule_does_not_govern_a_document_without_warehouse(self):
        """A vendor's bank account or a partner has no warehouse: a rule limited to warehouses is not
        theirs (and the request still goes to the approvers)."""
        self._rule(name="North", warehouse_ids=[Command.set(self.north.ids)])
        request = self._request(record=self.other_customer)
        self.assertFalse(request.rule_id)
        self.assertEqual(request.state, "pending")

    def test_extra_domain_on_the_document(self):
        rule = self._rule(name="Approval customers", apply_domain="[('partner_id.name', 'ilike', 'approval')]")
        self.assertEqual(self._governing(record=self._order(partner=self.customer)), rule)
        self.assertFalse(self._governing(record=self._order(partner=self.other_customer)))

    def test_extra_domain_with_the_users_today(self):
        # As Odoo's domain editor writes "Order Date is within the last 7 days" (its to_utc() is the web
        # client's, evaluated on the server as the user's midnight in UTC).
        rule = self._rule(
            name="This week",
            apply_domain='[("date_order", ">=", datetime.datetime.combine(context_today() + relativedelta(days = -7), '
            'datetime.time(0, 0, 0)).to_utc().strftime("%Y-%m-%d %H:%M:%S"))]',
        )
        order = self._order(partner=self.customer)
        self.assertEqual(self._governing(record=order), rule)
        order.date_order = fields.Datetime.now() - timedelta(days=30)
        self.assertFalse(self._governing(record=order))

    def test_rules_of_another_company_or_type_do_not_apply(self):
        company_b = self.env["res.company"].create({"name": "Matrix Company B"})
        # A group tier needs an approver who can reach company B, or it could never be decided.
        self.approver_1.company_ids = [Command.link(company_b.id)]
        self._rule(name="B discounts", company_id=company_b.id)
        self._rule(name="Rush", request_type="rush_shipment")
        self.assertFalse(self._governing())
        self.assertEqual(self.Rule._select("discount", self.customer, 10.0, company_b).name, "B discounts")

    def test_first_matching_rule_by_sequence_wins(self):
        general = self._rule(name="General", sequence=20)
        key_accounts = self._rule(
            name="Key accounts", sequence=10, partner_category_ids=[Command.set(self.key_account.ids)]
        )
        self.assertEqual(self._governing(record=self._order(partner=self.customer)), key_accounts)
        self.assertEqual(self._governing(record=self._order(partner=self.other_customer)), general)
        key_accounts.sequence = 30
        self.assertEqual(self._governing(record=self._order(partner=self.customer)), general)

    def test_archived_rules_are_ignored(self):
        first = self._rule(name="First", sequence=1)
        second = self._rule(name="Second", sequence=2)
        first.action_archive()
        self.assertEqual(self._governing(), second)
        second.action_archive()
        self.assertFalse(self._governing())

    def test_without_rule_one_approver_of_the_group_decides(self):
        request = self._request()
        self.assertFalse(request.rule_id)
        self.assertEqual(request.state, "pending")
        tier = request.tier_ids
        self.assertEqual((len(tier), tier.min_approvals, tier.state), (1, 1, "pending"))
        group_users = self.approver_group.users.filtered(lambda u: self.company in u.company_ids)
        self.assertEqual(tier.approver_ids, group_users - self.requester)
        self.assertIn(self.approver_1, tier.approver_ids)
        self.assertIn(self.manager, tier.approver_ids, "Distribution Managers are approvers too")
        request.with_user(self.approver_3)._decide("approve")
        self.assertEqual(request.state, "approved")

    def test_misconfigured_rules_are_refused_with_what_to_fix(self):
        with self.assertRaisesRegex(ValidationError, "Amount To"):
            self._rule(amount_min=5000.0, amount_max=1000.0)
        with self.assertRaisesRegex(ValidationError, "not a valid domain"):
            self._rule(apply_domain="[('partner_id', '=',")
        with self.assertRaisesRegex(ValidationError, "needs 2 approvals"):
            self._rule(tiers=[self._users_tier("Pair", self.approver_1, min_approvals=2)])
