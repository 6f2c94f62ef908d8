from datetime import datetime
from unittest.mock import patch

from odoo import Command
from odoo.addons.distribution_observability.services import verbs
from odoo.tests import Form
from odoo.tests import TransactionCase
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestNotifications(TransactionCase):
    """The shipped automation rules send the customer messages, and each can be switched off."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Keep the notification emails queued (mail.mail 'outgoing') instead of sending them at once.
        cls.env = cls.env(context=dict(cls.env.context, mail_notify_force_send=False))
        cls.env.company.email = "shop@example.com"
        cls.customer = cls.env["res.partner"].create({"name": "Notified Customer", "email": "customer@example.com"})
        cls.product = cls.env["product.product"].create(
            {"name": "Notified Widget", "type": "consu", "is_storable": True, "list_price": 10.0}
        )
        cls.warehouse = cls.env["stock.warehouse"].search([("company_id", "=", cls.env.company.id)], limit=1)
        cls.template_backorder = cls.env.ref("distribution_orchestration.mail_template_distribution_backorder")
        cls.template_new_date = cls.env.ref("distribution_orchestration.mail_template_distribution_new_ship_date")
        cls.template_shipped = cls.env.ref("distribution_orchestration.mail_template_distribution_shipped")
        cls.rule_backorder = cls.env.ref("distribution_orchestration.base_automation_distribution_backorder_created")
        cls.rule_new_date = cls.env.ref("distribution_orchestration.base_automation_distribution_promised_date_changed")
        cls.rule_shipped = cls.env.ref("distribution_orchestration.base_automation_distribution_shipped")
        cls.rules = cls.rule_backorder | cls.rule_new_date | cls.rule_shipped
        cls.active_on_install = cls.rules.filtered("active")
        # The company chose to send its customers these messages (Settings > Customer notifications).
        settings = cls.env["res.config.settings"].create(
            {
                "distribution_notify_backorder": True,
                "distribution_notify_new_date": True,
                "distribution_notify_shipped": True,
            }
        )
        settings.execute()

    # -- helpers ------------------------------------------------------------------------------------
    def _stock(self, qty):
        self.env["stock.quant"]._update_available_quantity(self.product, self.warehouse.lot_stock_id, qty)

    def _order(self, qty, confirm=True):
        order = self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "warehouse_id": self.warehouse.id,
                "order_line": [Command.create({"product_id": self.product.id, "product_uom_qty": qty})],
            }
        )
        if confirm:
            order.action_confirm()
            self.assertEqual(order.state, "sale")
        return order

    def _customer_messages(self, record, template):
        """Messages posted on record with the template's subject, addressed to the customer."""
        subject = template._render_field("subject", record.ids)[record.id]
        self.env.flush_all()
        return self.env["mail.message"].search(
            [
                ("model", "=", record._name),
                ("res_id", "=", record.id),
                ("subject", "=", subject),
                ("partner_ids", "in", self.customer.ids),
            ]
        )

    def _assert_mail_queued(self, record, template):
        messages = self._customer_messages(record, template)
        self.assertEqual(len(messages), 1, f"one '{template.name}' message on {record.display_name}")
        mails = self.env["mail.mail"].search([("mail_message_id", "in", messages.ids)])
        self.assertTrue(mails, "an email is queued")
        self.assertIn(self.customer, mails.recipient_ids)
        self.assertEqual(set(mails.mapped("state")), {"outgoing"})
        return messages

    def _validate_partial(self, picking):
        action = picking.button_validate()
        self.assertIsInstance(action, dict, "a partial delivery asks about the backorder")
        self.assertEqual(action.get("res_model"), "stock.backorder.confirmation")
        Form(self.env["stock.backorder.confirmation"].with_context(**action["context"])).save().process()

    # -- backorder ----------------------------------------------------------------------------------
    def test_backorder_notifies_customer(self):
        self._stock(4)
        order = self._order(10)
        picking = order.picking_ids
        self.assertEqual(picking.picking_type_code, "outgoing")
        self._validate_partial(picking)

        self.assertEqual(picking.state, "done")
        backorder = picking.backorder_ids
        self.assertEqual(len(backorder), 1, "the partial delivery created a backorder")
        self.assertEqual(backorder.move_ids.product_uom_qty, 6.0)

        message = self._assert_mail_queued(backorder, self.template_backorder)
        body = str(message.body)
        self.assertIn(self.product.display_name, body, "the message lists the products")
        self.assertIn("To follow", body)
        self.assertIn("6.0", body, "what follows")
        self.assertIn("4.0", body, "what shipped")
        self.assertIn(picking.name, body)
        # One message per shipment: the partial delivery is announced by the backorder notice only.
        self.assertFalse(self._customer_messages(picking, self.template_shipped))

    def test_backorder_rule_switched_off(self):
        self.rule_backorder.active = False
        self._stock(4)
        order = self._order(10)
        picking = order.picking_ids
        self._validate_partial(picking)
        self.assertTrue(picking.backorder_ids)
        self.assertFalse(self._customer_messages(picking.backorder_ids, self.template_backorder))

    # -- promised date ------------------------------------------------------------------------------
    def test_new_ship_date_on_confirmed_order(self):
        order = self._order(1)
        order.commitment_date = datetime(2031, 3, 10, 12, 0)
        self._assert_mail_queued(order, self.template_new_date)
        # Not on a write that keeps the date.
        order.commitment_date = datetime(2031, 3, 10, 12, 0)
        self._assert_mail_queued(order, self.template_new_date)
        order.commitment_date = datetime(2031, 4, 20, 12, 0)
        # One message per change; both have the same subject.
        subject = self.template_new_date._render_field("subject", order.ids)[order.id]
        self.env.flush_all()
        messages = self.env["mail.message"].search(
            [("model", "=", "sale.order"), ("res_id", "=", order.id), ("subject", "=", subject)]
        )
        self.assertEqual(len(messages), 2)
        latest = messages.sorted("id")[-1]
        self.assertIn(self.customer, latest.partner_ids)
        self.assertTrue(self.env["mail.mail"].search([("mail_message_id", "=", latest.id)]))
        self.assertIn("Previous date", str(latest.body), "the previous promised date is shown when known")

    def test_new_ship_date_not_on_quotation(self):
        order = self._order(1, confirm=False)
        order.commitment_date = datetime(2031, 3, 10, 12, 0)
        self.assertFalse(self._customer_messages(order, self.template_new_date))
        # Confirming an order with a promised date is not a change of date.
        order.action_confirm()
        self.assertFalse(self._customer_messages(order, self.template_new_date))

    def test_new_ship_date_first_promise(self):
        order = self._order(1)
        order.commitment_date = datetime(2031, 3, 10, 12, 0)
        message = self._assert_mail_queued(order, self.template_new_date)
        self.assertNotIn("Previous date", str(message.body))

    def test_new_ship_date_rule_switched_off(self):
        self.rule_new_date.active = False
        order = self._order(1)
        order.commitment_date = datetime(2031, 3, 10, 12, 0)
        self.assertFalse(self._customer_messages(order, self.template_new_date))

    # -- shipped ------------------------------------------------------------------------------------
    def test_full_delivery_notifies_customer(self):
        self._stock(10)
        order = self._order(10)
        picking = order.picking_ids
        self.assertTrue(picking.button_validate())
        self.assertEqual(picking.state, "done")
        self.assertFalse(picking.backorder_ids)
        message = self._assert_mail_queued(picking, self.template_shipped)
        self.assertIn(self.product.display_name, str(message.body))
        self.assertFalse(self._customer_messages(picking, self.template_backorder))

    def test_last_backorder_delivery_notifies_customer(self):
        self._stock(4)
        order = self._order(10)
        self._validate_partial(order.picking_ids)
        backorder = order.picking_ids.backorder_ids
        self._stock(6)
        backorder.action_assign()
        self.assertTrue(backorder.button_validate())
        self.assertEqual(backorder.state, "done")
        self._assert_mail_queued(backorder, self.template_shipped)

    def test_customer_emails_ship_switched_off_and_settings_switch_them(self):
        self.assertFalse(self.active_on_install, "nothing goes to customers until the company says so")
        self.assertEqual(self.rules.filtered("active"), self.rules)
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.distribution_notify_shipped)
        settings.distribution_notify_new_date = False
        settings.execute()
        self.assertEqual(self.rules.filtered("active"), self.rule_backorder | self.rule_shipped)

    def test_odoo_delivery_confirmation_email_replaces_the_shipped_rule(self):
        self.env.company.stock_move_email_validation = True
        self._stock(10)
        order = self._order(10)
        picking = order.picking_ids
        picking.button_validate()
        self.assertEqual(picking.state, "done")
        self.assertFalse(self._customer_messages(picking, self.template_shipped), "Odoo's own e-mail is sent")

    def test_shipped_rule_switched_off(self):
        self.rule_shipped.active = False
        self._stock(10)
        order = self._order(10)
        picking = order.picking_ids
        picking.button_validate()
        self.assertEqual(picking.state, "done")
        self.assertFalse(self._customer_messages(picking, self.template_shipped))

    def test_no_customer_message_on_receipts(self):
        """Incoming pickings done, or with backorders, are none of the customer's business."""
        supplier = self.env["res.partner"].create({"name": "Supplier", "email": "supplier@example.com"})
        receipt = self.env["stock.picking"].create(
            {
                "partner_id": supplier.id,
                "picking_type_id": self.warehouse.in_type_id.id,
                "move_ids": [
                    Command.create(
                        {
                            "name": self.product.name,
                            "product_id": self.product.id,
                            "product_uom_qty": 5,
                            "product_uom": self.product.uom_id.id,
                            "location_id": self.warehouse.in_type_id.default_location_src_id.id,
                            "location_dest_id": self.warehouse.lot_stock_id.id,
                        }
                    )
                ],
            }
        )
        receipt.action_confirm()
        receipt.move_ids.quantity = 2
        self._validate_partial(receipt)
        self.assertEqual(receipt.state, "done")
        self.assertTrue(receipt.backorder_ids)
        self.env.flush_all()
        self.assertFalse(
            self.env["mail.message"].search(
                [
                    ("model", "=", "stock.picking"),
                    ("res_id", "in", (receipt | receipt.backorder_ids).ids),
                    ("partner_ids", "in", supplier.ids),
                ]
            )
        )

    # -- rules wired to the orchestration's own methods --------------------------------------------
    def test_exception_created_rule(self):
        Exception_ = self.env["distribution.exception"]
        order = self._order(1, confirm=False)
        with patch.object(type(Exception_), "_assign_and_notify", autospec=True) as assign:
            exception = Exception_._raise_for(order, "test_first", "other", "Test")
            self.assertEqual(assign.call_count, 1)
            self.assertEqual(assign.call_args.args[0], exception)
            self.assertEqual(Exception_._raise_for(order, "test_first", "other", "Updated"), exception)
            self.assertEqual(exception.message, "Updated")
            self.assertEqual(assign.call_count, 1, "on creation only")
            self.env.ref("distribution_orchestration.base_automation_distribution_exception_created").active = False
            Exception_._raise_for(order, "test_second", "other", "Test")
            self.assertEqual(assign.call_count, 1, "switched off")

    def test_order_released_rule(self):
        SaleOrder = type(self.env["sale.order"])
        order = self._order(1, confirm=False)
        with patch.object(SaleOrder, "_distribution_log_release", autospec=True) as log:
            order.write({"note": "unrelated"})
            self.assertEqual(log.call_count, 0)
            # The release verb is what writes the release time.
            with verbs.server_verb("distribution_release", order):
                order.write({"distribution_released_at": datetime(2031, 1, 1, 8, 0)})
            self.assertEqual(log.call_count, 1)
            self.assertEqual(log.call_args.args[0], order)
            self.env.ref("distribution_orchestration.base_automation_distribution_order_released").active = False
            with verbs.server_verb("distribution_release", order):
                order.write({"distribution_released_at": datetime(2031, 1, 2, 8, 0)})
            self.assertEqual(log.call_count, 1, "switched off")

    # -- internal hold notice -----------------------------------------------------------------------
    def test_hold_notice_lists_hold_reasons(self):
        order = self._order(1, confirm=False)
        order.user_id = self.env.user
        rule = self.env["distribution.validation.rule"].create({"name": "Credit Limit Check", "active": False})
        Check = self.env["distribution.validation.check"]
        Check.create({"order_id": order.id, "rule_id": rule.id, "outcome": "hold", "message": "Over the limit."})
        Check.create({"order_id": order.id, "rule_id": rule.id, "outcome": "pass", "message": "Fine line."})
        with verbs.server_verb("distribution_validation", order):  # as a validation pass writes it
            order.write({"distribution_hold_reason": "Credit limit exceeded"})
        template = self.env.ref("distribution_orchestration.mail_template_distribution_hold_notice")
        body = str(template._render_field("body_html", order.ids)[order.id])
        self.assertIn("Credit limit exceeded", body)
        self.assertIn("Credit Limit Check", body)
        self.assertIn("Over the limit.", body)
        self.assertNotIn("Fine line.", body, "only the hold lines")
        partner_to = template._render_field("partner_to", order.ids)[order.id]
        self.assertEqual(partner_to, str(self.env.user.partner_id.id), "internal: to the salesperson")
