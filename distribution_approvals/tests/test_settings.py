from odoo import Command
from odoo.tests import tagged
from odoo.tests.common import TransactionCase


@tagged("post_install", "-at_install")
class TestApprovalSettings(TransactionCase):
    """The approval settings say how many approval rules of the company are active, with a link to them."""

    def test_rule_count_and_link(self):
        company = self.env["res.company"].create({"name": "Settings Approvals Co"})
        admin = self.env.ref("base.user_admin")
        admin.company_ids = [Command.link(company.id)]
        admin_env = self.env(user=admin, context=dict(self.env.context, allowed_company_ids=company.ids))
        Settings = admin_env["res.config.settings"]
        before = Settings.create({}).distribution_approval_rule_count  # the starter policy's that could be copied
        group = self.env.ref("distribution_approvals.group_distribution_approver")
        tier = {"name": "Approvers", "approver_type": "group", "group_id": group.id}
        Rule = admin_env["distribution.approval.rule"]
        for name in ("Discounts", "Rush", "Archived"):
            Rule.create({"name": name, "request_type": "discount", "tier_ids": [Command.create(tier)]})
        Rule.search([("name", "=", "Archived")]).action_archive()
        self.assertEqual(Settings.create({}).distribution_approval_rule_count, before + 2)
        arch = Settings.get_view(self.env.ref("base.res_config_settings_view_form").id)["arch"]
        self.assertIn('name="distribution_approval_rule_count"', arch)
        action = self.env.ref("distribution_approvals.distribution_approval_rule_action")
        self.assertIn(f'name="{action.id}"', arch)
