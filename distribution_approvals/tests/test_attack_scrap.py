from odoo.tests import tagged

from .common_gates import GateAttackCase

OLD_KEY = "distribution_scrap_approved"


@tagged("post_install", "-at_install")
class TestAttackScrap(GateAttackCase):
    """The scrap gate as a stock user (Inventory / User) attacks it over JSON-RPC: the old context key
    forged on every public method, the status and the request link written, the scrap changed while it
    waits, one scrap split into small ones."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.warehouse = cls.env["stock.warehouse"].search([("company_id", "=", cls.company.id)], limit=1)
        cls.stock = cls.warehouse.lot_stock_id
        cls.shelf = cls.env["stock.location"].create({"name": "Gate Shelf", "location_id": cls.stock.id})
        cls.Quant = cls.env["stock.quant"]
        cls.Quant._update_available_quantity(cls.product, cls.stock, 10.0)
        cls.company.write(
            {
                "distribution_scrap_approval": True,
                "distribution_scrap_approval_amount": 500.0,
                "distribution_approval_split_window_hours": 24,
            }
        )

    def setUp(self):
        super().setUp()
        self.rpc_login(self.stock_user)

    def _on_hand(self):
        return self.Quant._get_available_quantity(self.product, self.stock, strict=True)

    def _scrap(self, qty, context=None, **vals):
        scrap_id, error = self.rpc(
            "stock.scrap",
            "create",
            dict({"product_id": self.product.id, "scrap_qty": qty, "location_id": self.stock.id}, **vals),
            context=context,
        )
        self.assertIsNone(error, error)
        return self.env["stock.scrap"].browse(scrap_id)

    def test_forged_context_key_scraps_nothing(self):
        forged = {OLD_KEY: True}
        scrap = self._scrap(9.0, forged)  # 540
        result, error = self.rpc("stock.scrap", "action_validate", [scrap.id], context=forged)
        self.assertIsNone(error)
        self.assertEqual(result["params"]["title"], "Waiting for approval")
        self.assertEqual((scrap.state, self._on_hand()), ("draft", 10.0))
        request = scrap.distribution_approval_request_id
        self.assertEqual(request.state, "pending")
        for method in ("action_validate", "do_scrap"):
            self.assertRpcRefused("stock.scrap", method, [scrap.id], context=forged)
        self.assertEqual((scrap.state, self._on_hand()), ("draft", 10.0))
        self.assertRpcRefused("stock.scrap", "_distribution_approval_approved", [scrap.id], request.id)
        self.assertRpcRefused("stock.scrap", "_apply_approved_scrap", [scrap.id], request.id)
        self.assertEqual(self._audit_actions(request), ["requested"])
        self._decide(request, self.approver_1, "approve", "Water damage.")
        self.assertEqual((scrap.state, self._on_hand()), ("done", 1.0))
        self.assertEqual(self._audit_actions(request), ["requested", "approved"])

    def test_status_and_request_link_are_no_fields_of_the_user(self):
        scrap = self._scrap(9.0)
        self.rpc("stock.scrap", "action_validate", [scrap.id])
        request = scrap.distribution_approval_request_id
        forged = {OLD_KEY: True}
        for vals in ({"state": "done"}, {"distribution_approval_request_id": False}):
            self.assertRpcRefused("stock.scrap", "write", [scrap.id], vals, context=forged)
        self.assertEqual((scrap.state, scrap.distribution_approval_request_id), ("draft", request))
        # A scrap created done, or tied to a request: refused.
        for vals in ({"state": "done"}, {"distribution_approval_request_id": request.id}):
            result, error = self.rpc(
                "stock.scrap",
                "create",
                dict({"product_id": self.product.id, "scrap_qty": 1.0, "location_id": self.stock.id}, **vals),
                context=forged,
            )
            self.assertIsNotNone(error, result)

    def test_scrap_changed_while_it_waits_is_refused(self):
        self.Quant._update_available_quantity(self.product, self.shelf, 100.0)
        scrap = self._scrap(9.0)
        self.rpc("stock.scrap", "action_validate", [scrap.id])
        request = scrap.distribution_approval_request_id
        for vals in ({"scrap_qty": 90.0}, {"location_id": self.shelf.id}, {"product_uom_id": False}):
            self.assertRpcRefused("stock.scrap", "write", [scrap.id], vals, context={OLD_KEY: True})
        self.assertEqual((scrap.scrap_qty, scrap.location_id), (9.0, self.stock))
        self._decide(request, self.approver_1, "approve", "Ok for 9.")
        self.assertEqual(scrap.state, "done")
        self.assertEqual(scrap.move_ids.quantity, 9.0, "exactly what was approved")
        self.assertEqual(self._on_hand(), 1.0)

    def test_splitting_a_scrap_asks_for_approval(self):
        scraps = [self._scrap(3.0) for _i in range(3)]  # 180 each: 540 over the window
        for scrap in scraps:
            self.rpc("stock.scrap", "action_validate", [scrap.id], context={OLD_KEY: True})
        self.assertEqual([scrap.state for scrap in scraps], ["done", "done", "draft"])
        request = scraps[2].distribution_approval_request_id
        self.assertEqual(request.state, "pending")
        self.assertIn("last 24 hours", request.reason)
        # Emptying the window: a done scrap is not moved elsewhere, nor dated back.
        self.assertRpcRefused("stock.scrap", "write", [scraps[0].id], {"location_id": self.shelf.id})
        self.assertRpcRefused("stock.scrap", "write", [scraps[0].id], {"date_done": "2020-01-01 00:00:00"})
        self.assertRpcRefused("stock.scrap", "write", [scraps[0].id], {"scrap_qty": 0.1})
        # Two more small ones in one call: held as well.
        pair = self.env["stock.scrap"].browse([self._scrap(0.5).id, self._scrap(0.5).id])
        self.rpc("stock.scrap", "do_scrap", pair.ids)
        self.assertEqual(pair.mapped("state"), ["draft", "draft"])
        self._decide(request, self.approver_1, "approve", "Three broken cases.")
        self.assertEqual(scraps[2].state, "done")
        self.assertEqual(self._audit_actions(request), ["requested", "approved"])
