from unittest import SkipTest

from odoo.tests import TransactionCase
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestTriageDemo(TransactionCase):
    """The demo inbox was made through the real gateway and classifier: a new user sees it at work."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not cls.env.ref("base.module_distribution_ai_triage").demo:
            raise SkipTest("a database without demo data")

    def test_the_inbox_shows_every_state(self):
        Message = self.env["distribution.triage.message"]
        states = set(Message.search([("source", "=", "email")]).mapped("state"))
        self.assertLessEqual({"pending", "needs_review", "routed", "reviewed", "closed"}, states)
        routed = Message.search([("state", "=", "routed")])
        self.assertTrue(routed.activity_ids, "routed messages have their owner's activity")
        self.assertTrue(routed.sale_order_ids, "routed messages are linked to the orders they name")
        self.assertEqual(
            set(Message.search([("review_outcome", "!=", False)]).mapped("review_outcome")), {"accepted", "corrected"}
        )
        self.assertTrue(self.env["distribution.triage.example"].search_count([("source", "=", "correction")]))
        for message in Message.search([("source", "=", "email"), ("partner_match", "!=", False)]):
            self.assertEqual(
                message.sale_order_ids.partner_id.commercial_partner_id - message.commercial_partner_id,
                self.env["res.partner"],
            )
