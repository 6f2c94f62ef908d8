from odoo import api
from odoo import models
from odoo import tools
from odoo.addons.base_automation.models.base_automation import WRITE_TRIGGERS


def _watched(model):
    """The fields whose change the model's write-triggered automation rules check (None: any field)."""
    return model.env["base.automation"]._distribution_watched_fields(model._name)


def _narrow_write(patched):
    """Odoo's automation hook on ``write()``, skipped when none of the written fields is watched."""

    def write(self, vals, **kw):
        watched = _watched(self)
        if watched is not None and watched.isdisjoint(vals):
            return patched.origin(self, vals, **kw)
        return patched(self, vals, **kw)

    write.distribution_narrowed = True
    return write


def _narrow_compute_field_value(patched):
    """Odoo's automation hook on the recomputation of stored fields, skipped when the fields computed are
    not watched."""

    def _compute_field_value(self, field):
        watched = _watched(self)
        if watched is not None and not any(
            computed.store and computed.name in watched for computed in self.pool.field_computed[field]
        ):
            return patched.origin(self, field)
        return patched(self, field)

    _compute_field_value.distribution_narrowed = True
    return _compute_field_value


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

    @api.model
    @tools.ormcache("model_name")
    def _distribution_watched_fields(self, model_name):
        """The names of the trigger fields of the model's active write-triggered rules, or None when one of
        them has none (then every change is watched)."""
        rules = self.browse(self._distribution_action_ids(model_name, tuple(sorted(WRITE_TRIGGERS))))
        # sudo: the rules' trigger fields, read as Odoo's hooks read them, whoever writes the record.
        rules = rules.sudo()
        if not rules or any(not rule.trigger_field_ids for rule in rules):
            return None
        return frozenset(rules.trigger_field_ids.mapped("name"))

    def _register_hook(self):
        """Odoo's hooks on ``write()`` and on the recomputation of stored fields run every write-triggered rule
        of the model at each write and each recomputation: they evaluate its conditions and read the old values
        of the fields, only for ``_process`` to drop every record whose trigger fields did not change. With
        the shipped rule on sale orders (its trigger: Released At), that was 8% of an order's confirmation,
        in the recomputation of its amounts and states. Here the hooks are skipped when no watched field is
        written or recomputed: a rule without trigger fields watches every field, so nothing is skipped then,
        and what a rule does when its fields change is Odoo's own code, unchanged."""
        super()._register_hook()
        models_watched = {
            rule.model_name for rule in self.with_context(active_test=True).search([("trigger", "in", WRITE_TRIGGERS)])
        }
        for model_name in models_watched:
            Model = self.env.registry.get(model_name)
            if Model is None:
                continue
            for name, narrow in (("write", _narrow_write), ("_compute_field_value", _narrow_compute_field_value)):
                # Only Odoo's patch, set on the registry's class by super() (Odoo's _unregister_hook deletes
                # the attribute, so the narrowed hook goes with it).
                patched = Model.__dict__.get(name)
                if (
                    patched is None
                    or not hasattr(patched, "origin")
                    or getattr(patched, "distribution_narrowed", False)
                ):
                    continue
                setattr(Model, name, narrow(patched))

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
