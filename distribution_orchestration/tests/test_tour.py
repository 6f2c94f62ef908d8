from unittest.mock import patch

from odoo import Command
from odoo.tests import HttpCase
from odoo.tests import new_test_user
from odoo.tests import tagged

from .test_outbox import Receiver

SECRET = "whsec_onboarding_tour_s3cr3t"


@tagged("post_install", "-at_install", "is_tour")
class TestOnboardingTour(HttpCase):
    """The getting-started checklist in the browser, on the demo company, as its administrator: the step
    links open their screens, and doing a step there (an SLA tier given, a test delivery, a rule reviewed)
    ticks it on the dashboard."""

    def setUp(self):
        super().setUp()
        env = self.env(context=dict(self.env.context, tracking_disable=True))
        company = env.ref("base.main_company")
        self.receiver = Receiver(SECRET).start()
        self.addCleanup(self.receiver.stop)
        # The receiver listens on 127.0.0.1: allowed as a development server allows it.
        Endpoint = env["distribution.outbound.endpoint"]
        self.startPatcher(patch.object(type(Endpoint), "_outbound_allow_private", return_value=True))
        # Left to do: no customer has an SLA tier; no active endpoint took an event (the demo's receiver is
        # down anyway); the validation rules are as installed (by the superuser).
        env["res.partner"].search([("distribution_sla_tier_id", "!=", False)]).distribution_sla_tier_id = False
        Endpoint.search([("company_id", "=", company.id)]).action_archive()
        if not env["distribution.validation.rule"].search_count([("company_id", "=", company.id)]):
            env["distribution.validation.rule"].create({"name": "Credit limit", "rule_type": "credit_limit"})
        # The rules as installed: whatever made the demo's, none was created or changed by a person yet.
        env["distribution.validation.rule"].flush_model()
        self.env.cr.execute(
            "UPDATE distribution_validation_rule SET create_uid = 1, write_uid = 1 WHERE company_id = %s", [company.id]
        )
        env.invalidate_all()
        # Done already: credit limits in force, an approver named.
        company.account_use_credit_limit = True
        env["ir.default"].set("res.partner", "credit_limit", 50000.0, company_id=company.id)
        if "distribution.approval.rule" in env:  # the approvals addon adds its step
            new_test_user(env, "onb_tour_approver", groups="distribution_approvals.group_distribution_approver")
        # What the tour works with.
        env["res.partner"].create({"name": "AAA Onboarding Customer", "customer_rank": 1, "is_company": True})
        env["distribution.sla.tier"].create({"name": "Onboarding Gold", "target_hours": 24})
        Endpoint.create(
            {"name": "Onboarding Receiver", "url": self.receiver.url, "secret": SECRET, "company_id": company.id}
        )
        self.admin = env.ref("base.user_admin")
        self.admin.write({"company_id": company.id, "company_ids": [Command.link(company.id)], "tz": "UTC"})

    def test_onboarding_tour(self):
        self.start_tour("/odoo", "distribution_onboarding_tour", login="admin")
        # The steps were ticked by what was done in their screens.
        customer = self.env["res.partner"].search([("name", "=", "AAA Onboarding Customer")])
        self.assertEqual(customer.distribution_sla_tier_id.name, "Onboarding Gold")
        self.assertEqual(len(self.receiver.requests), 1)
        self.assertIs(self.receiver.requests[0]["verified"], True)
        steps = {
            step["key"]: step["done"]
            for step in self.env["distribution.onboarding"].with_user(self.admin)._distribution_checklist_steps()
        }
        self.assertTrue(
            all(steps[key] for key in ("validation_rules", "credit_limits", "sla_tiers", "outbound_endpoint"))
        )
