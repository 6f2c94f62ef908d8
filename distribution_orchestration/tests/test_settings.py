from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged
from odoo.tests.common import TransactionCase


@tagged("post_install", "-at_install")
class TestOrchestrationSettings(TransactionCase):
    """The settings list what is in force with a link to each: active validation rules and outbound
    endpoints of the company, SLA tiers (shared by the companies)."""

    def test_counts_and_links(self):
        company = self.env["res.company"].create({"name": "Settings Orchestration Co"})
        admin = self.env.ref("base.user_admin")
        admin.company_ids = [Command.link(company.id)]
        admin_env = self.env(user=admin, context=dict(self.env.context, allowed_company_ids=company.ids))
        Settings = admin_env["res.config.settings"]
        before = Settings.create({})  # the company has the starter policy's rules, copied at its creation
        rules, endpoints, tiers = (
            before.distribution_active_rule_count,
            before.distribution_outbound_endpoint_count,
            before.distribution_sla_tier_count,
        )

        Rule = admin_env["distribution.validation.rule"]
        Rule.create([{"name": "Credit", "rule_type": "credit_limit"}, {"name": "Margin", "rule_type": "margin_floor"}])
        Rule.create({"name": "Archived", "rule_type": "rush_shipment"}).action_archive()
        self.env["distribution.validation.rule"].create(
            {"name": "Elsewhere", "rule_type": "credit_limit", "company_id": self.env.company.id}
        )
        Endpoint = admin_env["distribution.outbound.endpoint"]
        # No address is resolved for these URLs (no call leaves the machine): as a development server allows.
        self.startPatcher(patch.object(type(Endpoint), "_outbound_allow_private", return_value=True))
        Endpoint.create({"name": "WMS", "url": "https://example.com/wms"})
        Endpoint.create({"name": "Old", "url": "https://example.com/old"}).action_archive()
        admin_env["distribution.sla.tier"].create({"name": "Platinum"})

        after = Settings.create({})
        self.assertEqual(after.distribution_active_rule_count, rules + 2)
        self.assertEqual(after.distribution_outbound_endpoint_count, endpoints + 1)
        self.assertEqual(after.distribution_sla_tier_count, tiers + 1)

        arch = Settings.get_view(self.env.ref("base.res_config_settings_view_form").id)["arch"]
        for field in (
            "distribution_active_rule_count",
            "distribution_sla_tier_count",
            "distribution_outbound_endpoint_count",
        ):
            self.assertIn(f'name="{field}"', arch)
        for xmlid in (
            "distribution_validation_rule_action",
            "distribution_sla_tier_action",
            "distribution_outbound_endpoint_action",
        ):
            self.assertIn(f'name="{self.env.ref(f"distribution_orchestration.{xmlid}").id}"', arch)
