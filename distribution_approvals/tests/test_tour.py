from datetime import timedelta

from odoo import Command
from odoo import fields
from odoo.tests import HttpCase
from odoo.tests import new_test_user
from odoo.tests import tagged

APPROVER = "distribution_approvals.group_distribution_approver"
ACTIVITY_TYPE = "distribution_approvals.mail_activity_type_distribution_approval"


@tagged("post_install", "-at_install", "is_tour")
class TestApprovalTour(HttpCase):
    """An approver with the Distribution Approver group only opens their activity from the systray,
    reviews the request and approves it in the browser."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.approver = new_test_user(cls.env, "apr_tour_approver", groups=APPROVER, name="Tour Approver")
        cls.requester = new_test_user(
            cls.env, "apr_tour_requester", groups="sales_team.group_sale_salesman", name="Tour Requester"
        )
        customer = cls.env["res.partner"].create({"name": "Tour Customer"})
        product = cls.env["product.product"].create({"name": "Tour Widget", "list_price": 250.0})
        cls.order = (
            cls.env["sale.order"]
            .with_user(cls.requester)
            .create(
                {
                    "name": "SO-TOUR-APPROVAL",
                    "partner_id": customer.id,
                    "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 10})],
                }
            )
        )
        cls.env["distribution.approval.rule"].create(
            {
                "name": "Tour rule",
                "sequence": 0,
                "request_type": "custom",
                "tier_ids": [
                    Command.create(
                        {"name": "Tour tier", "approver_type": "user", "user_ids": [Command.set(cls.approver.ids)]}
                    )
                ],
            }
        )

    def test_approver_approves_from_activity(self):
        request = (
            self.env["distribution.approval.request"]
            .with_user(self.requester)
            ._request(self.order, "custom", amount=2500.0, reason="Rush shipment for a key account")
        )
        activity = request.activity_ids.filtered(lambda a: a.activity_type_id == self.env.ref(ACTIVITY_TYPE))
        self.assertEqual(request.state, "pending")
        self.assertEqual(activity.user_id, self.approver)
        # Overdue: the systray counts overdue and today's activities, whatever the time of day the test runs.
        activity.date_deadline = fields.Date.today() - timedelta(days=1)

        self.start_tour("/odoo", "distribution_approval_tour", login=self.approver.login)

        self.env.invalidate_all()
        self.assertEqual(request.state, "approved")
        self.assertRecordValues(
            request.decision_ids,
            [{"user_id": self.approver.id, "decision": "approve", "comment": "Context checked: receivables are fine."}],
        )
        self.assertFalse(request.activity_ids, "The approver's activity is closed by the decision.")
        done = self.env["mail.message"].search(
            [("model", "=", request._name), ("res_id", "=", request.id), ("mail_activity_type_id", "!=", False)]
        )
        self.assertEqual(done.author_id, self.approver.partner_id, "The closed activity is posted by the approver.")
