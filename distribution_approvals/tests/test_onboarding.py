from unittest.mock import patch

from odoo import Command
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tests.common import TransactionCase

APPROVER = "distribution_approvals.group_distribution_approver"
MANAGER = "distribution_observability.group_distribution_manager"
ALL_STEPS = ("validation_rules", "credit_limits", "sla_tiers", "outbound_endpoint", "approvers")


class ApprovalOnboardingCase(TransactionCase):
    """A company that has just installed the suite, set up by the installation's administrator
    (base.user_admin, a Distribution Manager by installation)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env["res.company"].create({"name": "Onboarding Approvals Co"})
        cls.admin = cls.env.ref("base.user_admin")
        cls.admin.company_ids = [Command.link(cls.company.id)]
        cls.group = cls.env.ref(APPROVER)

    def _as(self, user):
        return self.env(user=user, context=dict(self.env.context, allowed_company_ids=self.company.ids))

    def _user(self, login, groups="base.group_user", company=None, **vals):
        company = company or self.company
        return new_test_user(
            self.env,
            login,
            groups=groups,
            company_id=company.id,
            company_ids=[Command.set(company.ids)],
            **vals,
        )

    def _steps(self, user=None):
        Onboarding = self._as(user or self.admin)["distribution.onboarding"]
        return {step["key"]: step for step in Onboarding._distribution_checklist_steps()}


@tagged("post_install", "-at_install")
class TestApproversStep(ApprovalOnboardingCase):
    """ "Name the approvers" is ticked when someone other than OdooBot and the administrator may decide the
    company's approvals, or a tier names its approvers; and only then."""

    def test_the_installation_accounts_name_no_one(self):
        self.assertIn(self.admin, self.group.users, "the administrator is an approver by installation")
        self.assertFalse(self._steps()["approvers"]["done"])

    def test_named_through_the_approver_group(self):
        archived = self._user("onb_apr_archived", groups=APPROVER)
        archived.active = False
        self._user("onb_apr_elsewhere", groups=APPROVER, company=self.env.ref("base.main_company"))
        self.assertFalse(self._steps()["approvers"]["done"], "archived, or of another company")
        # The administrator gives a colleague of the company the Approver role (Settings > Users).
        colleague = self._user("onb_apr_colleague")
        self.assertFalse(self._steps()["approvers"]["done"])
        self.group.with_env(self._as(self.admin)).users = [Command.link(colleague.id)]
        self.assertTrue(self._steps()["approvers"]["done"])

    def test_a_distribution_manager_is_an_approver(self):
        """The Manager role implies the Approver one: a manager of the company may decide its approvals."""
        self._user("onb_apr_manager", groups=MANAGER)
        self.assertTrue(self._steps()["approvers"]["done"])

    def test_named_on_a_tier(self):
        someone = self._user("onb_apr_someone", company=self.env.ref("base.main_company"))
        Rule = self._as(self.admin)["distribution.approval.rule"]
        Rule.create(
            {
                "name": "Discounts by the group",
                "request_type": "discount",
                "tier_ids": [Command.create({"name": "Group", "approver_type": "group", "group_id": self.group.id})],
            }
        )
        self.assertFalse(self._steps()["approvers"]["done"], "a tier of the group names no one")
        rule = Rule.create(
            {
                "name": "Rush shipments by Someone",
                "request_type": "rush_shipment",
                "tier_ids": [
                    Command.create({"name": "Someone", "approver_type": "user", "user_ids": [Command.set(someone.ids)]})
                ],
            }
        )
        self.assertTrue(self._steps()["approvers"]["done"])
        rule.action_archive()
        self.assertFalse(self._steps()["approvers"]["done"], "an archived rule decides nothing")

    def test_link_to_the_approval_rules(self):
        action = self._as(self.admin)["distribution.onboarding"].action_open_step("approvers")
        self.assertEqual(action["res_model"], "distribution.approval.rule")


@tagged("post_install", "-at_install")
class TestChecklistComplete(ApprovalOnboardingCase):
    """Once every step of the order and approval addons is done, none of them is shown any more (and the
    checklist disappears when no other addon declares one left to do)."""

    def test_checklist_hides_when_every_step_is_done(self):
        admin_env = self._as(self.admin)
        keys = {step["key"] for step in admin_env["distribution.onboarding"]._get_checklist()}
        self.assertLessEqual(set(ALL_STEPS), keys, "a new company has every step to do")
        # Each step done as its screen does it.
        admin_env["distribution.validation.rule"].create({"name": "Ours", "rule_type": "margin_floor"})
        settings = admin_env["res.config.settings"].create(
            {"account_use_credit_limit": True, "account_default_credit_limit": 10000.0}
        )
        settings.execute()
        tier = admin_env["distribution.sla.tier"].create({"name": "Gold"})
        admin_env["res.partner"].create({"name": "Tiered", "distribution_sla_tier_id": tier.id})
        Endpoint = admin_env["distribution.outbound.endpoint"]
        # No address is resolved for the URL (no call leaves the machine): as a development server allows.
        self.startPatcher(patch.object(type(Endpoint), "_outbound_allow_private", return_value=True))
        endpoint = Endpoint.create({"name": "Receiver", "url": "https://example.com/x"})
        # sudo: a delivered event stands for the receiver's answer (no call leaves the machine in this test).
        self.env["distribution.outbound.event"].sudo().create(
            {
                "event_type": "order.held",
                "payload": "{}",
                "endpoint_id": endpoint.id,
                "state": "delivered",
                "company_id": self.company.id,
            }
        )
        self.group.with_env(admin_env).users = [Command.link(self._user("onb_apr_done").id)]
        steps = self._steps()
        self.assertEqual({key: steps[key]["done"] for key in ALL_STEPS}, dict.fromkeys(ALL_STEPS, True))
        # What is left, if anything, is another addon's step still to do.
        left = admin_env["distribution.onboarding"]._get_checklist()
        self.assertTrue(all(step["key"] not in ALL_STEPS or step["done"] for step in left))
        if set(steps) == set(ALL_STEPS):
            self.assertEqual(left, [], "every step done: no checklist")
            self.assertEqual(admin_env["distribution.workflow.run"].get_dashboard_data()["checklist"], [])


@tagged("post_install", "-at_install", "is_query_count")
class TestChecklistQueryCount(ApprovalOnboardingCase):
    """The checklist costs the same few queries whatever the amount of configuration and data."""

    def _populate(self, prefix, count):
        admin_env = self._as(self.admin)
        tier = admin_env["distribution.sla.tier"].create({"name": f"Tier {prefix}"})
        admin_env["distribution.validation.rule"].create(
            [{"name": f"Rule {prefix}{index}", "rule_type": "margin_floor"} for index in range(count)]
        )
        admin_env["res.partner"].create(
            [{"name": f"Customer {prefix}{index}", "distribution_sla_tier_id": tier.id} for index in range(count)]
        )
        for index in range(count):
            self._user(f"onb_qc_{prefix}{index}", groups=APPROVER)

    def test_query_count(self):
        # Measured: 9 queries (8 once the approver group has members: the tiers are not counted then); one
        # count per step, the company's credit settings, no query per rule, customer or user.
        Onboarding = self._as(self.admin)["distribution.onboarding"]
        Onboarding._get_checklist()  # warm-up: access rights, groups, XML ids
        self.env.invalidate_all()
        with self.assertQueryCount(10):
            Onboarding._get_checklist()
        self._populate("a", 20)
        Onboarding._get_checklist()
        self.env.invalidate_all()
        with self.assertQueryCount(10):
            checklist = Onboarding._get_checklist()
        self.assertTrue(checklist and any(step["done"] for step in checklist))
