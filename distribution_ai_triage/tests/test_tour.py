from odoo.tests import HttpCase
from odoo.tests import new_test_user
from odoo.tests import tagged

USER_GROUP = "distribution_observability.group_distribution_user"
SUBJECT = "Tour triage: pallets from last Tuesday"


@tagged("post_install", "-at_install", "is_tour")
class TestTriageReviewTour(HttpCase):
    """A reviewer with the Distribution User group only opens Triage > Needs Review in the browser, opens
    the message the rules could not tell, picks the right label in 'Correct To' and clicks Correct: the
    message is reviewed, routed to the label's owner, and its text becomes a correction example."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.reviewer = new_test_user(cls.env, "triage_tour_reviewer", groups=USER_GROUP, name="Tour Reviewer")
        cls.owner = new_test_user(cls.env, "triage_tour_owner", groups=USER_GROUP, name="Tour Shortage Owner")
        Message = cls.env["distribution.triage.message"]
        # The rules only: no provider is asked (the shipped local one is archived; any other is switched off).
        cls.env["distribution.ai.provider"].search([]).action_archive()
        cls.label_other = cls.env.ref("distribution_ai_triage.triage_label_other")
        cls.label_shortage = cls.env.ref("distribution_ai_triage.triage_label_shortage_escalation")
        cls.label_shortage.user_id = cls.owner
        customer = cls.env["res.partner"].create(
            {"name": "Tour Bakery", "is_company": True, "email": "orders@tour-bakery.example"}
        )
        cls.env["res.partner"].create(
            {"name": "Tour Buyer", "parent_id": customer.id, "email": "buyer@tour-bakery.example"}
        )
        # No keyword of any label: the rules answer Other with no confidence, and it waits for a person.
        values = Message._values_from_mail(
            {
                "subject": SUBJECT,
                "body": "<p>Hello, the pallets from last Tuesday: three of them are in a sorry state, "
                "the cartons soaked through.</p>",
                "email_from": "Tour Buyer <buyer@tour-bakery.example>",
                "attachments": [],
            },
            cls.env.company.id,
        )
        cls.message = Message._triage_create([values])
        Message._cron_classify(batch_size=50)

    def test_reviewer_corrects_a_message(self):
        self.assertRecordValues(self.message, [{"state": "needs_review", "suggested_label_id": self.label_other.id}])
        self.start_tour("/odoo", "distribution_triage_review_tour", login=self.reviewer.login)

        self.env.invalidate_all()
        self.assertRecordValues(
            self.message,
            [
                {
                    "state": "reviewed",
                    "review_outcome": "corrected",
                    "label_id": self.label_shortage.id,
                    "suggested_label_id": self.label_other.id,
                    "reviewed_by_id": self.reviewer.id,
                    "user_id": self.owner.id,
                }
            ],
        )
        example = self.env["distribution.triage.example"].search([("message_id", "=", self.message.id)])
        self.assertRecordValues(
            example, [{"source": "correction", "label_id": self.label_shortage.id, "user_id": self.reviewer.id}]
        )
        self.assertIn("in a sorry state", example.text)
        self.assertTrue(
            self.message.activity_ids.filtered(lambda activity: activity.user_id == self.owner),
            "the owner of the corrected label gets the activity",
        )
