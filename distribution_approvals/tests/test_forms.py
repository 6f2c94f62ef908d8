"""The gates refuse claims, not the ordinary forms: a form sends the default of every field it shows
(a draft state, an empty link), and creating a document through it must work as in plain Odoo."""

from odoo.tests import Form
from odoo.tests import new_test_user
from odoo.tests import tagged

from .common import ApprovalCase


@tagged("post_install", "-at_install")
class TestFormsStillWork(ApprovalCase):
    def test_a_purchase_order_made_in_the_form(self):
        buyer = new_test_user(self.env, "apr_form_buyer", groups="purchase.group_purchase_user")
        vendor = self.env["res.partner"].create({"name": "Form Vendor"})
        form = Form(self.env["purchase.order"].with_user(buyer))
        form.partner_id = vendor
        with form.order_line.new() as line:
            line.product_id = self.product
            line.product_qty = 1
            line.price_unit = 10.0
        order = form.save()
        self.assertEqual(order.state, "draft")
        order.with_user(buyer).button_confirm()
        self.assertEqual(order.state, "purchase", "under every threshold: confirmed as usual")

    def test_a_scrap_made_in_the_form(self):
        stock_user = new_test_user(self.env, "apr_form_stock", groups="stock.group_stock_user")
        warehouse = self.env["stock.warehouse"].search([("company_id", "=", self.env.company.id)], limit=1)
        self.env["stock.quant"]._update_available_quantity(self.product, warehouse.lot_stock_id, 10)
        form = Form(self.env["stock.scrap"].with_user(stock_user))
        form.product_id = self.product
        form.scrap_qty = 1
        scrap = form.save()
        self.assertEqual(scrap.state, "draft")

    def test_a_bank_account_made_in_the_form(self):
        clerk = new_test_user(self.env, "apr_form_clerk", groups="base.group_user,base.group_partner_manager")
        vendor = self.env["res.partner"].create({"name": "Form Bank Vendor"})
        form = Form(self.env["res.partner.bank"].with_user(clerk))
        form.partner_id = vendor
        form.acc_number = "BE71096123456769"
        account = form.save()
        self.assertTrue(account.exists())
        self.assertFalse(account.active, "a new account waits for its approval")
        self.assertEqual(account.distribution_approval_request_id.state, "pending")
