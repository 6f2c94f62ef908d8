from odoo.exceptions import UserError
from odoo.tests import new_test_user
from odoo.tests import tagged

from .common import ApprovalCase


class InventoryCase(ApprovalCase):
    """A stock user, a warehouse with 10 units (cost 60) of the product, thresholds of 500."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stock_user = new_test_user(cls.env, "apr_stock_user", groups="stock.group_stock_user")
        cls.warehouse = cls.env["stock.warehouse"].search([("company_id", "=", cls.company.id)], limit=1)
        cls.stock = cls.warehouse.lot_stock_id
        cls.shelf = cls.env["stock.location"].create({"name": "Shelf 2", "location_id": cls.stock.id})
        cls.Quant = cls.env["stock.quant"]
        cls.Quant._update_available_quantity(cls.product, cls.stock, 10.0)
        cls.company.write(
            {
                "distribution_inventory_approval": True,
                "distribution_inventory_approval_amount": 500.0,
                "distribution_scrap_approval": True,
                "distribution_scrap_approval_amount": 500.0,
            }
        )

    def _decide(self, request, user, decision, comment):
        action = getattr(request.with_user(user), f"action_{decision}")()
        self.env[action["res_model"]].with_user(user).with_context(**action["context"]).create(
            {"comment": comment}
        ).action_confirm()

    def _on_hand(self, location=None):
        return self.Quant._get_available_quantity(self.product, location or self.stock, strict=True)

    def _count(self, quantity, location=None):
        """The stock user counts ``quantity`` in ``location``: the quant with its counted quantity."""
        quant = (
            self.Quant.with_user(self.stock_user)
            .with_context(inventory_mode=True)
            .create(
                {
                    "product_id": self.product.id,
                    "location_id": (location or self.stock).id,
                    "inventory_quantity": quantity,
                }
            )
        )
        return quant.with_env(self.env)

    def _requests(self, request_type):
        return self.Request.search([("request_type", "=", request_type)])


@tagged("post_install", "-at_install")
class TestInventoryApproval(InventoryCase):
    """Count adjustments whose value change is over the threshold wait for approval."""

    def test_adjustment_over_the_threshold_waits_and_applies_on_approval(self):
        quant = self._count(20.0)  # +10 x 60 = 600
        action = quant.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        self.assertEqual(self._on_hand(), 10.0)
        request = self._requests("inventory_adjustment")
        self.assertEqual((request.state, request.amount), ("pending", 600.0))
        self.assertEqual(request.requested_by_id, self.stock_user)
        line = request.payload["quants"][0]
        self.assertEqual(
            (line["quant_id"], line["on_hand"], line["counted"], line["difference"]), (quant.id, 10, 20, 10)
        )
        self.assertEqual(action["params"]["title"], "Waiting for approval")
        self.assertIn(request.name, action["params"]["message"])
        # The count stays counted and shows what it waits for.
        self.assertTrue(quant.inventory_quantity_set)
        self.assertEqual(quant.inventory_quantity, 20.0)
        self.assertEqual(quant.with_user(self.stock_user).distribution_approval_request_name, request.name)
        # Applying it again asks nothing new.
        quant.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        self.assertEqual(self._requests("inventory_adjustment"), request)
        self.assertEqual(self._on_hand(), 10.0)
        self._decide(request, self.approver_1, "approve", "Found a pallet in the return area.")
        self.assertEqual(self._on_hand(), 20.0)
        self.assertFalse(quant.inventory_quantity_set)
        self.assertFalse(quant.distribution_approval_request_id)
        move = self.env["stock.move"].search([("product_id", "=", self.product.id), ("is_inventory", "=", True)])
        self.assertEqual((move.state, move.product_uom_qty), ("done", 10.0))

    def test_adjustment_under_the_threshold_applies_at_once(self):
        quant = self._count(15.0)  # +5 x 60 = 300
        quant.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        self.assertEqual(self._on_hand(), 15.0)
        self.assertFalse(self._requests("inventory_adjustment"))
        self.assertFalse(quant.inventory_quantity_set)

    def test_threshold_off_applies_at_once(self):
        self.company.distribution_inventory_approval_amount = 0.0
        quant = self._count(1000.0)
        quant.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        self.assertEqual(self._on_hand(), 1000.0)

    def test_value_change_is_summed_over_one_apply(self):
        self.Quant._update_available_quantity(self.product, self.shelf, 10.0)
        quants = self._count(5.0) | self._count(15.0, self.shelf)  # 5 x 60 + 5 x 60 = 600
        quants.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        request = self._requests("inventory_adjustment")
        self.assertEqual((request.state, request.amount), ("pending", 600.0))
        self.assertEqual({line["quant_id"] for line in request.payload["quants"]}, set(quants.ids))
        self.assertEqual((self._on_hand(), self._on_hand(self.shelf)), (10.0, 10.0))
        self._decide(request, self.approver_1, "approve", "Recount confirmed.")
        self.assertEqual((self._on_hand(), self._on_hand(self.shelf)), (5.0, 15.0))

    def test_approval_applies_the_counted_difference_after_later_moves(self):
        quant = self._count(20.0)
        quant.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        request = self._requests("inventory_adjustment")
        # Three units leave before the decision: the count's +10 still holds.
        self.Quant._update_available_quantity(self.product, self.stock, -3.0)
        self._decide(request, self.approver_1, "approve", "Ok.")
        self.assertEqual(self._on_hand(), 17.0)

    def test_adjustments_split_within_the_window_are_summed(self):
        first = self._count(15.0)  # +5 x 60 = 300: applied
        first.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        self.assertEqual(self._on_hand(), 15.0)
        second = self._count(20.0)  # +5 x 60 = 300 more of the same product there: 600 in the window
        second.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        self.assertEqual(self._on_hand(), 15.0)
        request = self._requests("inventory_adjustment")
        self.assertEqual((request.state, request.amount), ("pending", 300.0))
        self.assertIn("last 24 hours", request.reason)
        # Elsewhere, the window holds other sums.
        self.Quant._update_available_quantity(self.product, self.shelf, 10.0)
        shelf = self._count(15.0, self.shelf)
        shelf.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        self.assertEqual(self._on_hand(self.shelf), 15.0)

    def test_count_waiting_for_approval_cannot_change(self):
        quant = self._count(20.0)
        quant.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        request = self._requests("inventory_adjustment")
        with self.assertRaises(UserError):
            quant.with_user(self.stock_user).with_context(inventory_mode=True).inventory_quantity = 200.0
        with self.assertRaises(UserError):
            quant.with_user(self.stock_user).with_context(inventory_mode=True).action_clear_inventory_quantity()
        self._decide(request, self.approver_1, "approve", "Ok.")
        self.assertEqual(self._on_hand(), 20.0)

    def test_withdrawn_request_frees_the_count(self):
        quant = self._count(20.0)
        quant.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        request = self._requests("inventory_adjustment")
        request.with_user(self.stock_user).action_cancel()
        self.assertFalse(quant.distribution_approval_request_id)
        quant.with_user(self.stock_user).with_context(inventory_mode=True).inventory_quantity = 12.0
        quant.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        self.assertEqual(self._on_hand(), 12.0)

    def test_rejected_adjustment_changes_nothing(self):
        quant = self._count(0.0)  # -10 x 60 = 600
        quant.with_user(self.stock_user).with_context(inventory_mode=True).action_apply_inventory()
        request = self._requests("inventory_adjustment")
        self._decide(request, self.approver_1, "reject", "Count the back store first.")
        self.assertEqual(self._on_hand(), 10.0)
        self.assertFalse(quant.distribution_approval_request_id)
        self.assertTrue(quant.inventory_quantity_set, "the count stays for the counter to check")
        note = request.message_ids.filtered(lambda m: self.stock_user.partner_id in m.partner_ids)
        self.assertIn("Count the back store first.", note.body)
        self.assertFalse(
            self.env["stock.move"].search([("product_id", "=", self.product.id), ("is_inventory", "=", True)])
        )


@tagged("post_install", "-at_install")
class TestScrapApproval(InventoryCase):
    """Scraps worth more than the threshold wait for approval."""

    def _scrap(self, qty):
        scrap = (
            self.env["stock.scrap"]
            .with_user(self.stock_user)
            .create({"product_id": self.product.id, "scrap_qty": qty, "location_id": self.stock.id})
        )
        return scrap.with_env(self.env)

    def test_scrap_over_the_threshold_is_held_until_approved(self):
        scrap = self._scrap(9.0)  # 540
        action = scrap.with_user(self.stock_user).action_validate()
        self.assertEqual(scrap.state, "draft")
        self.assertEqual(self._on_hand(), 10.0)
        request = self._requests("scrap_write_off")
        self.assertEqual((request.state, request.amount), ("pending", 540.0))
        self.assertEqual(scrap.distribution_approval_request_id, request)
        self.assertEqual(action["params"]["title"], "Waiting for approval")
        with self.assertRaises(UserError):
            scrap.with_user(self.stock_user).action_validate()
        self._decide(request, self.approver_1, "approve", "Water damage, photos attached.")
        self.assertEqual(scrap.state, "done")
        self.assertEqual(self._on_hand(), 1.0)

    def test_scrap_under_the_threshold_is_done_at_once(self):
        scrap = self._scrap(5.0)  # 300
        scrap.with_user(self.stock_user).action_validate()
        self.assertEqual(scrap.state, "done")
        self.assertFalse(self._requests("scrap_write_off"))

    def test_scraps_split_within_the_window_are_summed(self):
        first = self._scrap(5.0)  # 300: done
        first.with_user(self.stock_user).action_validate()
        self.assertEqual(first.state, "done")
        second = self._scrap(4.0)  # 240 more from the same location: 540 in the window
        second.with_user(self.stock_user).action_validate()
        self.assertEqual(second.state, "draft")
        request = second.distribution_approval_request_id
        self.assertEqual((request.state, request.amount), ("pending", 240.0))
        self.assertIn("last 24 hours", request.reason)
        self._decide(request, self.approver_1, "approve", "Both pallets are damaged.")
        self.assertEqual(second.state, "done")
        self.assertEqual(self._on_hand(), 1.0)

    def test_scrap_waiting_for_approval_is_locked(self):
        scrap = self._scrap(9.0)
        scrap.with_user(self.stock_user).action_validate()
        request = scrap.distribution_approval_request_id
        with self.assertRaises(UserError):
            scrap.with_user(self.stock_user).scrap_qty = 10.0
        with self.assertRaises(UserError):
            scrap.with_user(self.stock_user).location_id = self.shelf
        self._decide(request, self.approver_1, "approve", "Ok.")
        self.assertEqual((scrap.state, scrap.scrap_qty), ("done", 9.0))
        self.assertEqual(self._on_hand(), 1.0)

    def test_rejected_scrap_stays_in_draft(self):
        scrap = self._scrap(9.0)
        scrap.with_user(self.stock_user).action_validate()
        request = scrap.distribution_approval_request_id
        self._decide(request, self.approver_1, "reject", "Sell it as second choice instead.")
        self.assertEqual(scrap.state, "draft")
        self.assertEqual(self._on_hand(), 10.0)
        self.assertEqual(scrap.with_user(self.stock_user).distribution_approval_state, "rejected")
        note = scrap.message_ids.filtered(lambda m: "second choice" in (m.body or ""))
        self.assertIn(self.stock_user.partner_id, note.partner_ids)
