from odoo import api
from odoo import fields
from odoo import models
from odoo import tools
from odoo.exceptions import UserError

WINDOWS = {"1h": 1, "24h": 24, "7d": 168}


class DistributionWorkflow(models.Model):
    """A workflow the suite runs (order validation, outbox delivery ...): who owns it, how long it
    should take, and the figures of its runs."""

    _name = "distribution.workflow"
    _description = "Distribution Workflow"
    _order = "name"

    code = fields.Char(required=True, help="Stable identifier used by the code that tracks the runs.")
    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True)
    business_owner_id = fields.Many2one("res.users", help="Answers for the business outcome.")
    technical_owner_id = fields.Many2one("res.users", help="Answers for technical failures.")
    expected_duration_ms = fields.Integer(
        "Expected Duration (ms)", help="A run slower than this is reported as slow on the dashboard."
    )
    failure_rate_warning = fields.Float(
        "Warning Failure Rate (%)", default=10.0, help="Health turns degraded above this failure rate in the last hour."
    )
    failure_rate_critical = fields.Float(
        "Critical Failure Rate (%)", default=50.0, help="Health turns failing above this failure rate in the last hour."
    )
    active = fields.Boolean(default=True)
    run_ids = fields.One2many("distribution.workflow.run", "workflow_id")
    runs_24h = fields.Integer("Runs (24 h)", compute="_compute_kpis")
    success_rate_24h = fields.Float("Success Rate (24 h, %)", compute="_compute_kpis")
    failed_24h = fields.Integer("Failures (24 h)", compute="_compute_kpis")

    _sql_constraints = [("code_unique", "unique(code)", "A workflow code must be unique.")]

    def _compute_kpis(self):
        kpis = self.env["distribution.workflow.run"]._kpis("24h", workflow_ids=self.ids)
        for workflow in self:
            figures = kpis.get(workflow.id, {})
            workflow.runs_24h = figures.get("runs", 0)
            workflow.success_rate_24h = figures.get("success_rate") or 0.0
            workflow.failed_24h = figures.get("failed", 0)

    @api.model
    @tools.ormcache("code")
    def _id_by_code(self, code):
        # sudo: the registry of workflows is read by whoever's business action is being tracked.
        workflow = self.sudo().with_context(active_test=False).search([("code", "=", code)], limit=1)
        return workflow.id

    @api.model
    def _get_by_code(self, code):
        """The workflow of a code, from a cache: tracking a run costs no query for it."""
        workflow_id = self._id_by_code(code)
        if not workflow_id:
            raise UserError(self.env._("No distribution workflow has the code %s: declare it as data first.", code))
        return self.browse(workflow_id)

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()
        return super().create(vals_list)

    def write(self, vals):
        if "code" in vals:
            self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

    def action_open_runs(self):
        """Runs of this workflow, newest first."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "distribution_observability.distribution_workflow_run_action"
        )
        action["domain"] = [("workflow_id", "=", self.id)]
        action["context"] = {"default_workflow_id": self.id}
        return action
