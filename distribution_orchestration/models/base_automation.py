from odoo import api
from odoo import models
from odoo import tools


class BaseAutomation(models.Model):
    _inherit = "base.automation"

    def _get_actions(self, records, triggers):
        """Odoo's lookup of the automation rules of a model, cached per model and triggers.

        The suite ships automation rules on sale orders, transfers and exceptions, so Odoo patches those models
        and searches ``base.automation`` at every create and write of them: eight queries for one confirmed order.
        The ids of the active rules are cached like the registry's other metadata; any change to a rule clears
        the cache (create, write, unlink below), here and, through Odoo's cache signalling, in every other worker
        and server. A rolled back change clears it too (the registry resets its invalidated caches)."""
        if "__action_done" not in self._context:
            self = self.with_context(__action_done={})
        ids = self._distribution_action_ids(records._name, tuple(sorted(triggers)))
        return self.browse(ids)

    @api.model
    @tools.ormcache("model_name", "triggers")
    def _distribution_action_ids(self, model_name, triggers):
        # sudo: the lookup Odoo does (its _get_actions searches as superuser), whoever writes the record.
        domain = [("model_name", "=", model_name), ("trigger", "in", list(triggers))]
        return tuple(self.with_context(active_test=True).sudo().search(domain).ids)

    @api.model_create_multi
    def create(self, vals_list):
        automations = super().create(vals_list)
        self.env.registry.clear_cache()
        return automations

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
