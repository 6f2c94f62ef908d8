from odoo.addons.distribution_observability.services import verbs
from odoo.tests import tagged

from .common_gates import GateAttackCase

OLD_KEY = "distribution_bank_change_approved"


@tagged("post_install", "-at_install")
class TestAttackBank(GateAttackCase):
    """The bank account gate as a contact clerk (Internal User, Contact Creation) attacks it over
    JSON-RPC: a forged context key, the vendor markers flipped, derived and guard fields written, the
    approval's callback called."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.vendor = cls.env["res.partner"].create({"name": "Gate Steel", "is_company": True, "supplier_rank": 3})
        Bank = cls.env["res.partner.bank"]
        # An account as an approved change leaves it.
        with verbs.server_verb("bank_change_apply", Bank):
            cls.account = Bank.create({"partner_id": cls.vendor.id, "acc_number": "BE71096123456769"})

    def setUp(self):
        super().setUp()
        self.rpc_login(self.clerk)

    def _pending(self, account):
        return self._requests(account).filtered(lambda r: r.state == "pending")

    def test_forged_context_key_applies_no_change(self):
        forged = {OLD_KEY: True}
        _result, error = self.rpc(
            "res.partner.bank", "write", [self.account.id], {"acc_number": "BE68539007547034"}, context=forged
        )
        self.assertIsNone(error)
        self.assertEqual(self.account.acc_number, "BE71096123456769")
        request = self._pending(self.account)
        self.assertEqual(request.payload["changes"], {"acc_number": "BE68539007547034"})
        # A second change while the first waits: refused, key or not.
        self.assertRpcRefused(
            "res.partner.bank", "write", [self.account.id], {"acc_number": "BE43068999999501"}, context=forged
        )
        # A new account, the key forged: archived until approved.
        new_id, error = self.rpc(
            "res.partner.bank",
            "create",
            {"partner_id": self.vendor.id, "acc_number": "BE43068999999501"},
            context=forged,
        )
        self.assertIsNone(error)
        new = self.env["res.partner.bank"].with_context(active_test=False).browse(new_id)
        self.assertFalse(new.active)
        self.assertRpcRefused("res.partner.bank", "write", [new.id], {"active": True}, context=forged)
        self.assertRpcRefused("res.partner.bank", "action_unarchive", [new.id], context=forged)
        self.assertFalse(new.active)
        # The approval's callback is private.
        self.assertRpcRefused("res.partner.bank", "_distribution_approval_approved", [self.account.id], request.id)
        self.assertRpcRefused("res.partner.bank", "_apply_approved_bank_change", [self.account.id], request.id)
        self.assertEqual(self.account.acc_number, "BE71096123456769")
        self.assertEqual(self._audit_actions(request), ["requested"])
        self._decide(request, self.approver_1, "approve", "Confirmed by phone.")
        self.assertEqual(self.account.acc_number, "BE68539007547034")
        self.assertEqual(self._audit_actions(request), ["requested", "approved"])

    def test_flipping_the_supplier_rank_opens_nothing(self):
        # Set the rank to 0, change the account, set it back: the change waits all the same.
        self.assertIsNone(self.rpc("res.partner", "write", [self.vendor.id], {"supplier_rank": 0})[1])
        self.rpc("res.partner.bank", "write", [self.account.id], {"acc_number": "BE68539007547034"})
        self.rpc("res.partner", "write", [self.vendor.id], {"supplier_rank": 3})
        self.assertEqual(self.account.acc_number, "BE71096123456769")
        self.assertTrue(self._pending(self.account))

    def test_hanging_the_vendor_under_the_company_opens_nothing(self):
        # The account's own partner decides, not its commercial entity (a parent_id the clerk may write).
        _result, error = self.rpc(
            "res.partner", "write", [self.vendor.id], {"is_company": False, "parent_id": self.company.partner_id.id}
        )
        if error is None:
            self.assertEqual(self.vendor.commercial_partner_id, self.company.partner_id)
        self.rpc("res.partner.bank", "write", [self.account.id], {"bank_id": False, "acc_number": "BE68539007547034"})
        self.assertEqual(self.account.acc_number, "BE71096123456769")
        self.assertTrue(self._pending(self.account))

    def test_moving_the_account_to_the_company_and_back_is_governed(self):
        self.rpc("res.partner.bank", "write", [self.account.id], {"partner_id": self.company.partner_id.id})
        self.assertEqual(self.account.partner_id, self.vendor)
        self.assertEqual(self._pending(self.account).payload["changes"], {"partner_id": self.company.partner_id.id})

    def test_derived_and_computed_fields_are_no_door(self):
        self.assertRpcRefused(
            "res.partner.bank", "write", [self.account.id], {"sanitized_acc_number": "BE68539007547034"}
        )
        self.assertEqual(self.account.sanitized_acc_number, "BE71096123456769")
        # The pending markers are computed: writing them changes nothing.
        self.rpc("res.partner.bank", "write", [self.account.id], {"acc_number": "BE68539007547034"})
        request = self._pending(self.account)
        self.rpc("res.partner.bank", "write", [self.account.id], {"distribution_approval_request_id": False})
        self.assertEqual(self._pending(self.account), request)
        self.assertEqual(self.account.acc_number, "BE71096123456769")

    def test_customer_accounts_are_governed_too(self):
        customer = self.env["res.partner"].create({"name": "Gate Customer"})
        new_id, error = self.rpc(
            "res.partner.bank", "create", {"partner_id": customer.id, "acc_number": "BE62510007547061"}
        )
        self.assertIsNone(error)
        new = self.env["res.partner.bank"].with_context(active_test=False).browse(new_id)
        self.assertFalse(new.active)
        self.assertEqual(self._pending(new).payload["operation"], "create")
