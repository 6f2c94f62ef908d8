from datetime import timedelta

from odoo import fields
from odoo.tests import new_test_user
from odoo.tests.common import TransactionCase


class ObservabilityCase(TransactionCase):
    """Users of each role, a workflow of the test, and helpers to make runs at given times."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = new_test_user(cls.env, "obs_user", groups="distribution_observability.group_distribution_user")
        cls.manager = new_test_user(
            cls.env, "obs_manager", groups="distribution_observability.group_distribution_manager"
        )
        cls.Run = cls.env["distribution.workflow.run"]
        cls.workflow = cls.env["distribution.workflow"].create({"code": "test_flow", "name": "Test flow"})
        cls.partner = cls.env["res.partner"].create({"name": "Tracked customer"})

    def _runs(self, spec, workflow=None, company=None):
        """Make runs from (state, hours ago, duration ms[, error kind]) tuples."""
        now = fields.Datetime.now()
        return self.Run.create(
            [
                {
                    "workflow_id": (workflow or self.workflow).id,
                    "state": item[0],
                    "started_at": now - timedelta(hours=item[1]),
                    "duration_ms": item[2],
                    "error_kind": item[3] if len(item) > 3 else False,
                    "company_id": (company or self.env.company).id,
                }
                for item in spec
            ]
        )
