from odoo.tests import tagged

from .common_gates import GateAttackCase

OLD_KEYS = {
    "distribution_inventory_approved": True,
    "distribution_quant_unlink": True,
    "inventory_mode": True,
}


@tagged("post_install", "-at_install")
class TestAttackInventory(GateAttackCase):
    """The inventory adjustment gate as a stock user (Inventory / User) attacks it over JSON-RPC: the
    old context keys forged, the request link written, the count changed while it waits, the approvers'
    snapshot pointed at other quants, one adjustment split into small ones."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.warehouse = cls.env["stock.warehouse"].search([("company_id", "=", cls.company.id)], limit=1)
        cls.stock = cls.warehouse.lot_stock_id
        cls.Quant = cls.env["stock.quant"]
        cls.Quant._update_available_quantity(cls.product, cls.stock, 10.0)
        cls.decoy = cls.env["product.product"].create(
            {"name": "Gate Decoy", "is_storable": True, "type": "consu", "standard_price": 1.0}
        )
        cls.Quant._update_available_quantity(cls.decoy, cls.stock, 5.0)
        cls.company.write(
            {
                "distribution_inventory_approval": True,
                "distribution_inventory_approval_amount": 500.0,
                "distribution_approval_split_window_hours": 24,
            }
        )

    def setUp(self):
        super().setUp()
        self.rpc_login(self.stock_user)

    def _on_hand(self):
        return self.Quant._get_available_quantity(self.product, self.stock, strict=True)

    def _count(self, quantity, context=None):
        """The stock user counts ``quantity`` over JSON-RPC: the quant."""
        quant_id, error = self.rpc(
            "stock.quant",
            "create",
            {"product_id": self.product.id, "location_id": self.stock.id, "inventory_quantity": quantity},
            context=dict(context or {}, inventory_mode=True),
        )
        self.assertIsNone(error, error)
        return self.Quant.browse(quant_id)

    def _adjustments(self):
        return self.Request.search([("request_type", "=", "inventory_adjustment")])

    def test_forged_context_keys_apply_nothing(self):
        quant = self._count(20.0, OLD_KEYS)  # +10 x 60 = 600
        decoy = self.Quant._gather(self.decoy, self.stock)
        forged = dict(OLD_KEYS, distribution_inventory_quant_ids=decoy.ids)
        for method in ("action_apply_inventory", "action_apply_all"):
            if method == "action_apply_all":
                forged = dict(forged, active_domain=[("id", "=", quant.id)])
            self.rpc("stock.quant", method, [quant.id], context=forged)
            self.assertEqual(self._on_hand(), 10.0)
        request = self._adjustments()
        self.assertEqual((request.state, request.amount), ("pending", 600.0))
        # The approvers see the count applied, not the quants the caller named.
        self.assertIn("Approval Widget", request.context_html)
        self.assertNotIn("Gate Decoy", request.context_html)
        # The approval's callback is private.
        self.assertRpcRefused("stock.quant", "_distribution_approval_approved", [quant.id], request.id)
        self.assertRpcRefused("stock.quant", "_apply_approved_inventory", [quant.id], request.id)
        self.assertEqual(self._on_hand(), 10.0)
        self.assertEqual(self._audit_actions(request), ["requested"])
        self._decide(request, self.approver_1, "approve", "Found a pallet.")
        self.assertEqual(self._on_hand(), 20.0)
        self.assertEqual(self._audit_actions(request), ["requested", "approved"])

    def test_request_link_is_no_field_of_the_user(self):
        quant = self._count(20.0)
        self.rpc("stock.quant", "action_apply_inventory", [quant.id], context={"inventory_mode": True})
        request = self._adjustments()
        self.assertRpcRefused(
            "stock.quant",
            "write",
            [quant.id],
            {"distribution_approval_request_id": False},
            context=dict(OLD_KEYS),
        )
        self.assertEqual(quant.distribution_approval_request_id, request)
        # Linking a fresh count to an approved request: refused.
        self._decide(request, self.approver_1, "approve", "Ok.")
        self.assertRpcRefused(
            "stock.quant",
            "create",
            {
                "product_id": self.decoy.id,
                "location_id": self.stock.id,
                "inventory_quantity": 500.0,
                "distribution_approval_request_id": request.id,
            },
            context=dict(OLD_KEYS),
        )

    def test_count_changed_while_it_waits_is_refused(self):
        quant = self._count(20.0)
        self.rpc("stock.quant", "action_apply_inventory", [quant.id], context={"inventory_mode": True})
        request = self._adjustments()
        for vals in ({"inventory_quantity": 2000.0}, {"inventory_diff_quantity": 1990.0}):
            self.assertRpcRefused("stock.quant", "write", [quant.id], vals, context=dict(OLD_KEYS))
        # Counting it again as a new quant lands on the same quant: refused too.
        result, error = self.rpc(
            "stock.quant",
            "create",
            {"product_id": self.product.id, "location_id": self.stock.id, "inventory_quantity": 2000.0},
            context=dict(OLD_KEYS),
        )
        self.assertIsNotNone(error, result)
        self.assertRpcRefused("stock.quant", "action_clear_inventory_quantity", [quant.id], context=dict(OLD_KEYS))
        self.assertEqual(quant.inventory_quantity, 20.0)
        self._decide(request, self.approver_1, "approve", "Ok for +10.")
        self.assertEqual(self._on_hand(), 20.0, "exactly the approved difference")

    def test_splitting_an_adjustment_asks_for_approval(self):
        # +4 x 60 = 240 three times: 720 over the window.
        for counted in (14.0, 18.0, 22.0):
            quant = self._count(counted)
            self.rpc("stock.quant", "action_apply_inventory", [quant.id], context=dict(OLD_KEYS))
        self.assertEqual(self._on_hand(), 18.0)
        # The applied adjustments are counted by when they were made, a date no one writes.
        moves = self.env["stock.move"].search([("product_id", "=", self.product.id), ("is_inventory", "=", True)])
        self.assertEqual(len(moves), 2)
        request = self._adjustments()
        self.assertEqual((request.state, request.amount), ("pending", 240.0))
        self.assertIn("last 24 hours", request.reason)
        self._decide(request, self.approver_1, "approve", "Three deliveries booked late.")
        self.assertEqual(self._on_hand(), 22.0)
        self.assertEqual(self._audit_actions(request), ["requested", "approved"])
