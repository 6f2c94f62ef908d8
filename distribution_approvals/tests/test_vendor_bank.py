from odoo import Command
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import UserError
from odoo.tests import new_test_user
from odoo.tests import tagged

from .common import ApprovalCase

APPLY_VERB = "bank_change_apply"


@tagged("post_install", "-at_install")
class TestVendorBank(ApprovalCase):
    """A partner's bank accounts (every partner but the companies') change only through an approval:
    pending until approved, untouched when rejected."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Who maintains contacts and their bank accounts.
        cls.clerk = new_test_user(cls.env, "apr_clerk", groups="base.group_user,base.group_partner_manager")
        cls.bank = cls.env["res.bank"].create({"name": "First Bank", "bic": "FRSTBEBB"})
        cls.other_bank = cls.env["res.bank"].create({"name": "Second Bank", "bic": "SCNDBEBB"})
        cls.vendor = cls.env["res.partner"].create({"name": "Steel Supplier", "is_company": True})
        cls.account = cls._existing_account(cls.vendor, "BE71096123456769", bank_id=cls.bank.id)

    @classmethod
    def _existing_account(cls, partner, number, **vals):
        """An account as an approved change leaves it (fixture: made inside the approval's verb)."""
        Bank = cls.env["res.partner.bank"]
        with verbs.server_verb(APPLY_VERB, Bank):
            return Bank.create(dict({"partner_id": partner.id, "acc_number": number}, **vals))

    def _pending(self, account):
        return self.Request.search(
            [("res_model", "=", "res.partner.bank"), ("res_id", "=", account.id), ("state", "=", "pending")]
        )

    def _decide(self, request, user, decision, comment):
        action = getattr(request.with_user(user), f"action_{decision}")()
        self.env[action["res_model"]].with_user(user).with_context(**action["context"]).create(
            {"comment": comment}
        ).action_confirm()

    def test_change_applies_only_after_approval(self):
        self.account.with_user(self.clerk).write(
            {"acc_number": "BE68539007547034", "bank_id": self.other_bank.id, "sequence": 5}
        )
        self.assertEqual(self.account.acc_number, "BE71096123456769")
        self.assertEqual(self.account.bank_id, self.bank)
        self.assertEqual(self.account.sequence, 5, "fields that are not governed are written at once")
        request = self._pending(self.account)
        self.assertEqual((request.request_type, request.requested_by_id), ("vendor_change", self.clerk))
        self.assertEqual(request.payload["changes"], {"acc_number": "BE68539007547034", "bank_id": self.other_bank.id})
        self.assertEqual(request.payload["previous"]["acc_number"], "BE71096123456769")
        as_clerk = self.account.with_user(self.clerk)
        self.assertEqual(as_clerk.distribution_approval_request_name, request.name)
        self.assertIn("BE68539007547034", as_clerk.distribution_pending_changes)
        self.assertIn("BE68539007547034", self.vendor.with_user(self.clerk).distribution_pending_bank_changes)
        # A second change waits for the first decision.
        with self.assertRaises(UserError):
            as_clerk.write({"acc_number": "BE43068999999501"})
        self._decide(request, self.approver_1, "approve", "Confirmed by phone with the vendor.")
        self.assertEqual(self.account.acc_number, "BE68539007547034")
        self.assertEqual(self.account.bank_id, self.other_bank)
        self.account.invalidate_recordset()
        self.assertFalse(self.account.distribution_approval_request_name)

    def test_rejected_change_leaves_the_account_untouched(self):
        self.account.with_user(self.clerk).acc_number = "BE68539007547034"
        request = self._pending(self.account)
        self._decide(request, self.approver_1, "reject", "The vendor never asked for it.")
        self.assertEqual(request.state, "rejected")
        self.assertEqual(self.account.acc_number, "BE71096123456769")
        self.assertEqual(self.account.bank_id, self.bank)
        self.vendor.invalidate_recordset()
        self.assertFalse(self.vendor.distribution_pending_bank_changes)

    def test_new_account_is_archived_until_approved(self):
        Bank = self.env["res.partner.bank"].with_user(self.clerk)
        account = Bank.create({"partner_id": self.vendor.id, "acc_number": "BE68539007547034"})
        self.assertFalse(account.active)
        self.assertNotIn(account, self.vendor.bank_ids)
        request = self._pending(account)
        self.assertEqual(request.payload["operation"], "create")
        # Unarchiving it by hand is no way around the approval.
        with self.assertRaises(UserError):
            account.write({"active": True})
        with self.assertRaises(UserError):
            account.action_unarchive()
        self._decide(request, self.approver_1, "approve", "Checked.")
        self.assertTrue(account.active)
        self.assertIn(account.with_env(self.env), self.vendor.bank_ids)

    def test_new_account_from_the_vendor_form_is_governed(self):
        # The vendor's form creates accounts with the partner as a default.
        Bank = self.env["res.partner.bank"].with_user(self.clerk).with_context(default_partner_id=self.vendor.id)
        account = Bank.create({"acc_number": "BE43068999999501"})
        self.assertEqual(account.partner_id, self.vendor)
        self.assertFalse(account.active)
        self.assertEqual(self._pending(account).payload["operation"], "create")

    def test_rejected_new_account_stays_archived(self):
        Bank = self.env["res.partner.bank"].with_user(self.clerk)
        account = Bank.create({"partner_id": self.vendor.id, "acc_number": "BE68539007547034"})
        request = self._pending(account)
        self._decide(request, self.approver_1, "reject", "Phishing attempt.")
        self.assertFalse(account.active)
        self.assertEqual(self.vendor.bank_ids.mapped("acc_number"), ["BE71096123456769"])
        # Using it later is asked for again.
        account.with_user(self.clerk).action_unarchive()
        self.assertFalse(account.active)
        self.assertEqual(self._pending(account).payload["operation"], "activate")

    def test_unarchiving_a_vendor_account_needs_approval(self):
        self.account.with_user(self.clerk).action_archive()
        self.assertFalse(self.account.active)
        self.assertFalse(self._pending(self.account), "archiving lowers the risk: no approval")
        self.account.with_user(self.clerk).action_unarchive()
        self.assertFalse(self.account.active)
        request = self._pending(self.account)
        self.assertEqual(request.payload["operation"], "activate")
        self._decide(request, self.approver_1, "approve", "Back in use.")
        self.assertTrue(self.account.active)

    def test_moving_an_account_to_a_vendor_needs_approval(self):
        customer_account = self._existing_account(self.other_customer, "BE68539007547034")
        customer_account.with_user(self.clerk).partner_id = self.vendor
        self.assertEqual(customer_account.partner_id, self.other_customer)
        self.assertEqual(self._pending(customer_account).payload["changes"], {"partner_id": self.vendor.id})

    def test_every_partner_but_the_companies_is_governed(self):
        # A customer, never bought from: governed all the same (a supplier rank is a clerk's to write).
        self.assertFalse(self.other_customer.supplier_rank)
        account = (
            self.env["res.partner.bank"]
            .with_user(self.clerk)
            .create({"partner_id": self.other_customer.id, "acc_number": "BE68539007547034"})
        )
        self.assertFalse(account.active)
        self.assertEqual(self._pending(account).payload["operation"], "create")
        # A supplier rank set back to 0 changes nothing.
        self.vendor.with_user(self.clerk).supplier_rank = 0
        self.account.with_user(self.clerk).acc_number = "BE43068999999501"
        self.assertEqual(self.account.acc_number, "BE71096123456769")
        self.assertTrue(self._pending(self.account))
        # The companies' own accounts are not governed.
        company_partner = self.company.partner_id
        own = self.env["res.partner.bank"].create({"partner_id": company_partner.id, "acc_number": "BE62510007547061"})
        self.assertTrue(own.active)
        own.acc_number = "BE62510007547062"
        self.assertEqual(own.acc_number, "BE62510007547062")
        self.assertFalse(self.Request.search([("res_model", "=", "res.partner.bank"), ("res_id", "=", own.id)]))

    def test_auto_approved_change_applies_at_once(self):
        # The amount of a vendor change is what the company owes the vendor: nothing here.
        self._rule("vendor_change", auto_approve_below=1000.0)
        self.account.with_user(self.clerk).write({"bank_id": self.other_bank.id})
        self.assertEqual(self.account.bank_id, self.other_bank)
        request = self.Request.search([("res_model", "=", "res.partner.bank"), ("res_id", "=", self.account.id)])
        self.assertEqual((request.state, request.auto_approved, request.amount), ("approved", True, 0.0))
        self.assertTrue(
            self.Audit.search(
                [("res_model", "=", request._name), ("res_id", "=", request.id), ("action", "=", "auto_approved")]
            )
        )

    def test_related_partner_rows_use_the_gate(self):
        # Editing the accounts from the vendor's form goes through the same gate.
        self.vendor.with_user(self.clerk).write(
            {"bank_ids": [Command.update(self.account.id, {"acc_number": "BE68539007547034"})]}
        )
        self.assertEqual(self.account.acc_number, "BE71096123456769")
        self.assertTrue(self._pending(self.account))
