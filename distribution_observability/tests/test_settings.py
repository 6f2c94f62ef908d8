from odoo import Command
from odoo.tests import tagged
from odoo.tests.common import TransactionCase


@tagged("post_install", "-at_install")
class TestObservabilitySettings(TransactionCase):
    """The Distribution Control settings say what is in force: the active alert rules of the company, with a
    link to them."""

    def test_alert_rule_count_and_link(self):
        company = self.env["res.company"].create({"name": "Settings Observability Co"})
        admin = self.env.ref("base.user_admin")
        admin.company_ids = [Command.link(company.id)]
        admin_env = self.env(user=admin, context=dict(self.env.context, allowed_company_ids=company.ids))
        Settings = admin_env["res.config.settings"]
        before = Settings.create({}).distribution_alert_rule_count  # the starter policy's, copied into the company
        workflow = self.env["distribution.workflow"].create({"code": "test_settings_flow", "name": "Settings flow"})
        Rule = admin_env["distribution.alert.rule"]
        values = {"metric": "workflow_failure_rate", "workflow_id": workflow.id, "threshold": 10.0}
        Rule.create([dict(values, name="Failures"), dict(values, name="More failures")])
        Rule.create(dict(values, name="Archived")).action_archive()
        self.env["distribution.alert.rule"].create(dict(values, name="Elsewhere", company_id=self.env.company.id))
        self.assertEqual(Settings.create({}).distribution_alert_rule_count, before + 2)
        arch = Settings.get_view(self.env.ref("base.res_config_settings_view_form").id)["arch"]
        self.assertIn('name="distribution_alert_rule_count"', arch)
        action = self.env.ref("distribution_observability.distribution_alert_rule_action")
        self.assertIn(f'name="{action.id}"', arch)
