from odoo import SUPERUSER_ID
from odoo import api
from odoo import models

SLA_TIER_ACTION = "distribution_orchestration.distribution_sla_tier_action"


class DistributionOnboarding(models.AbstractModel):
    """The order-validation steps of the getting-started checklist: review the rules, set credit limits,
    assign SLA tiers, connect an outbound endpoint."""

    _inherit = "distribution.onboarding"

    @api.model
    def _distribution_checklist_steps(self):
        steps = super()._distribution_checklist_steps()
        company = self.env.company
        steps += [
            {
                "key": "validation_rules",
                "title": self.env._("Review the validation rules"),
                "help": self.env._(
                    "The starter rules check credit, stock, margins, prices and dates when an order is "
                    "confirmed: tune them to your policy, or archive the ones you do not want."
                ),
                "done": self._onboarding_rules_reviewed(company),
                "action": "distribution_orchestration.distribution_validation_rule_action",
                "sequence": 10,
            },
            {
                "key": "credit_limits",
                "title": self.env._("Set credit limits on customers"),
                "help": self.env._(
                    "Turn on Sales Credit Limit in the Invoicing settings, then give your customers a limit "
                    "(or set a default one): the credit rule holds the orders that go over it."
                ),
                "done": self._onboarding_credit_limits_set(company),
                "action": self._action_onboarding_credit_limits,
                "sequence": 20,
            },
            {
                "key": "sla_tiers",
                "title": self.env._("Assign SLA tiers"),
                "help": self.env._(
                    "Give your customers a service level (Sales & Purchase tab of the customer): their "
                    "deliveries are dispatched by the promise made to them."
                ),
                "done": self._onboarding_sla_tiers_assigned(company),
                "action": self._action_onboarding_sla_tiers,
                "sequence": 30,
            },
            {
                "key": "outbound_endpoint",
                "title": self.env._("Connect an outbound endpoint"),
                "help": self.env._(
                    "Send order and exception events to your other systems (warehouse, n8n ...): add an "
                    "endpoint and press Test Delivery."
                ),
                "done": self._onboarding_endpoint_connected(company),
                "action": "distribution_orchestration.distribution_outbound_endpoint_action",
                "sequence": 40,
            },
        ]
        return steps

    # -- what ticks each step (sudo: whether configuration exists, in the current company; nothing of the
    #    records leaves these methods) ----------------------------------------------------------------------
    @api.model
    def _onboarding_rules_reviewed(self, company):
        """A validation rule of the company was created or last changed by a person. The starter rules are
        installed by the superuser (OdooBot, id 1), so they tick nothing until someone edits, archives or
        adds a rule."""
        Rule = self.env["distribution.validation.rule"].sudo().with_context(active_test=False)
        nobody = [False, SUPERUSER_ID]
        domain = [
            ("company_id", "=", company.id),
            "|",
            ("create_uid", "not in", nobody),
            ("write_uid", "not in", nobody),
        ]
        return bool(Rule.search_count(domain, limit=1))

    @api.model
    def _onboarding_credit_limits_set(self, company):
        """Credit limits are in force: the company's Sales Credit Limit setting is on (without it Odoo and
        the credit rule check no limit at all), and either its default limit is set or a customer of the
        company has a limit of its own."""
        company = company.sudo()
        if not company.account_use_credit_limit:
            return False
        Partner = self.env["res.partner"].sudo().with_company(company)
        if Partner._fields["credit_limit"].get_company_dependent_fallback(Partner) > 0:
            return True
        # credit_limit is company-dependent: with the fallback at 0, a positive value is the customer's own.
        domain = [("credit_limit", ">", 0), ("company_id", "in", [company.id, False])]
        return bool(Partner.search_count(domain, limit=1))

    @api.model
    def _onboarding_sla_tiers_assigned(self, company):
        """A customer of the company (or a shared one) has an SLA tier."""
        domain = [("distribution_sla_tier_id", "!=", False), ("company_id", "in", [company.id, False])]
        return bool(self.env["res.partner"].sudo().search_count(domain, limit=1))

    @api.model
    def _onboarding_endpoint_connected(self, company):
        """An active outbound endpoint of the company took an event: a business event delivered by the
        outbox, or a successful Test Delivery (which goes through the outbox too)."""
        domain = [
            ("state", "=", "delivered"),
            ("endpoint_id.company_id", "=", company.id),
            ("endpoint_id.active", "=", True),
        ]
        return bool(self.env["distribution.outbound.event"].sudo().search_count(domain, limit=1))

    # -- where each step is done --------------------------------------------------------------------------------
    @api.model
    def _action_onboarding_customers(self, name):
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": "res.partner",
            "views": [[False, "list"], [False, "kanban"], [False, "form"]],
            "context": {"search_default_customer": 1, "res_partner_search_mode": "customer"},
            "target": "current",
        }

    @api.model
    def _action_onboarding_credit_limits(self):
        """The Invoicing settings while the company's credit limit setting is off (for an administrator,
        who may change them), else the customers, whose limit is on their Invoicing tab."""
        if not self.env.company.account_use_credit_limit and self.env.user.has_group("base.group_system"):
            return self.env["ir.actions.actions"]._for_xml_id("account.action_account_config")
        return self._action_onboarding_customers(self.env._("Customers: credit limits"))

    @api.model
    def _action_onboarding_sla_tiers(self):
        """The SLA tiers while there is none to assign, else the customers (the tier is on their form)."""
        if not self.env["distribution.sla.tier"].search_count([], limit=1):
            return self.env["ir.actions.actions"]._for_xml_id(SLA_TIER_ACTION)
        return self._action_onboarding_customers(self.env._("Customers: SLA tiers"))
