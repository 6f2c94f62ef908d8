from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user
from odoo.tests import tagged

from .common import ApprovalCase


@tagged("post_install", "-at_install")
class TestApprovalSecurity(ApprovalCase):
    """Who reads, decides and configures what: employees see their own requests and those they must
    decide, Distribution Users read, Approvers decide and read the trail, Managers configure the matrix;
    decisions are written by the system only; companies are isolated."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.employee = new_test_user(cls.env, "apr_employee", groups="base.group_user")
        cls.distribution_user = new_test_user(
            cls.env, "apr_dist_user", groups="distribution_observability.group_distribution_user"
        )
        cls.company_b = cls.env["res.company"].create({"name": "Security Company B"})
        cls.approver_b = new_test_user(
            cls.env,
            "apr_sec_approver_b",
            groups="distribution_approvals.group_distribution_approver",
            company_id=cls.company_b.id,
            company_ids=[Command.set(cls.company_b.ids)],
        )
        cls.manager_ab = new_test_user(
            cls.env,
            "apr_sec_manager_ab",
            groups="distribution_observability.group_distribution_manager",
            company_id=cls.company.id,
            company_ids=[Command.set((cls.company | cls.company_b).ids)],
        )

    def _tier_of(self, users):
        return self._rule(tiers=[self._users_tier("Named approvers", users)])

    # -- employees -----------------------------------------------------------------------------
    def test_employee_reads_own_requests_and_those_to_decide_only(self):
        self._tier_of(self.approver_1 | self.employee)
        own = self._request(record=self._order(), user=self.employee)
        to_decide = self._request()
        # Another rule, sequence first, without the employee: a request they have nothing to do with.
        self._rule(sequence=1, tiers=[self._users_tier("Others", self.approver_2)])
        unrelated = self._request()

        Request = self.Request.with_user(self.employee)
        visible = Request.search([("id", "in", (own | to_decide | unrelated).ids)])
        self.assertEqual(visible, own | to_decide)
        self.assertEqual(own.with_user(self.employee).state, "pending")
        with self.assertRaises(AccessError):
            unrelated.with_user(self.employee).read(["name"])

    def test_employee_cannot_create_or_write_requests_or_rules(self):
        request = self._request(user=self.employee)
        with self.assertRaises(AccessError):
            self.Request.with_user(self.employee).create(
                {
                    "request_type": "discount",
                    "company_id": self.company.id,
                    "res_model": "res.partner",
                    "res_id": self.customer.id,
                    "requested_by_id": self.employee.id,
                }
            )
        with self.assertRaises(AccessError):
            request.with_user(self.employee).write({"state": "approved"})
        with self.assertRaises(AccessError):
            self.Rule.with_user(self.employee).create({"name": "Mine", "request_type": "discount"})
        with self.assertRaises(AccessError):
            self.Rule.with_user(self.employee).search([])
        with self.assertRaises(AccessError):
            self.Audit.with_user(self.employee).search([])

    def test_employee_named_in_a_tier_decides(self):
        """An approver may be any internal user named in a tier, without a Distribution role."""
        self._tier_of(self.employee)
        request = self._request()
        self.assertTrue(request.with_user(self.employee).can_decide)
        request.with_user(self.employee)._decide("approve", "Checked")
        self.assertEqual(request.state, "approved")

    # -- Distribution roles --------------------------------------------------------------------
    def test_distribution_user_reads_requests_and_the_matrix(self):
        rule = self._tier_of(self.approver_1)
        request = self._request()
        self.assertEqual(self.Request.with_user(self.distribution_user).search([("id", "=", request.id)]), request)
        self.assertEqual(rule.with_user(self.distribution_user).tier_ids.user_ids, self.approver_1)
        self.assertFalse(request.with_user(self.distribution_user).can_decide)
        with self.assertRaises(AccessError):
            request.with_user(self.distribution_user)._decide("approve")
        with self.assertRaises(AccessError):
            rule.with_user(self.distribution_user).write({"auto_approve_below": 10_000.0})
        with self.assertRaises(AccessError):
            self.Audit.with_user(self.distribution_user).search([])

    def test_approver_decides_and_reads_the_trail_but_not_the_matrix(self):
        rule = self._tier_of(self.approver_1)
        request = self._request()
        request.with_user(self.approver_1)._decide("approve")
        trail = self.Audit.with_user(self.approver_1).search(
            [("res_id", "=", request.id), ("res_model", "=", request._name)]
        )
        self.assertEqual(trail.mapped("action"), ["approved", "requested"])
        with self.assertRaises(AccessError):
            rule.with_user(self.approver_1).write({"auto_approve_below": 10_000.0})
        with self.assertRaises(AccessError):
            rule.tier_ids.with_user(self.approver_1).write({"min_approvals": 1, "user_ids": [Command.clear()]})

    def test_manager_configures_the_matrix(self):
        Rule = self.Rule.with_user(self.manager)
        rule = Rule.create(
            {
                "name": "Rush shipments",
                "request_type": "rush_shipment",
                "tier_ids": [Command.create(self._users_tier("Logistics", self.approver_1))],
            }
        )
        rule.tier_ids.write({"escalation_ids": [Command.create({"delay_hours": 2, "user_id": self.approver_2.id})]})
        rule.write({"amount_min": 100.0})
        rule.tier_ids.escalation_ids.unlink()
        rule.unlink()
        self.assertFalse(rule.exists())

    def test_nobody_writes_decisions_requests_or_tiers_directly(self):
        self._tier_of(self.approver_1 | self.approver_2)
        request = self._request()
        request.with_user(self.approver_1)._decide("approve")
        decision = request.decision_ids
        for user in (self.approver_2, self.manager, self.requester):
            with self.subTest(user=user.login):
                with self.assertRaises(AccessError):
                    self.env["distribution.approval.decision"].with_user(user).create(
                        {"request_id": request.id, "user_id": user.id, "decision": "approve"}
                    )
                with self.assertRaises(AccessError):
                    decision.with_user(user).write({"decision": "reject"})
                with self.assertRaises(AccessError):
                    decision.with_user(user).unlink()
                with self.assertRaises(AccessError):
                    request.with_user(user).write({"state": "rejected"})
                with self.assertRaises(AccessError):
                    request.tier_ids.with_user(user).write({"approver_ids": [Command.link(user.id)]})
        self.assertEqual((request.state, decision.decision), ("approved", "approve"))

    # -- companies -----------------------------------------------------------------------------
    def _request_b(self):
        customer = self.env["res.partner"].create({"name": "B Customer", "company_id": self.company_b.id})
        order = (
            self.env["sale.order"]
            .with_company(self.company_b)
            .create(
                {
                    "partner_id": customer.id,
                    "company_id": self.company_b.id,
                    "order_line": [Command.create({"product_id": self.product.id, "product_uom_qty": 2})],
                }
            )
        )
        request = self.Request.with_user(self.requester)._request(order, "discount", amount=2500.0)
        # Read back as the system: the requester of company A does not see company B's records.
        return self.Request.browse(request.id)

    def test_request_of_another_company_is_invisible(self):
        request_b = self._request_b()
        self.assertEqual(request_b.company_id, self.company_b)
        for user in (self.approver_1, self.manager):
            with self.subTest(user=user.login):
                self.assertFalse(self.Request.with_user(user).search([("id", "=", request_b.id)]))
                with self.assertRaises(AccessError):
                    request_b.with_user(user).read(["name"])
                self.assertFalse(
                    self.Audit.with_user(user).search(
                        [("res_model", "=", request_b._name), ("res_id", "=", request_b.id)]
                    )
                )
        both = self.Request.with_user(self.manager_ab).with_context(
            allowed_company_ids=(self.company | self.company_b).ids
        )
        self.assertEqual(both.search([("id", "=", request_b.id)]), request_b)

    def test_approvers_are_of_the_request_company(self):
        request_b = self._request_b()
        approvers = request_b.tier_ids.approver_ids
        self.assertIn(self.approver_b, approvers)
        self.assertIn(self.manager_ab, approvers)
        self.assertFalse(approvers & (self.approver_1 | self.approver_2 | self.approver_3 | self.manager))
        self.assertTrue(all(self.company_b in user.company_ids for user in approvers))
        with self.assertRaises(AccessError):
            request_b.with_user(self.approver_1)._decide("approve")

        # A rule of company B with a group tier: the group's members outside company B are left out.
        self._rule(company_id=self.company_b.id)
        ruled = self._request_b()
        self.assertTrue(ruled.rule_id)
        self.assertEqual(ruled.tier_ids.approver_ids, approvers)
        ruled.with_user(self.approver_b).with_company(self.company_b)._decide("approve")
        self.assertEqual(ruled.state, "approved")
