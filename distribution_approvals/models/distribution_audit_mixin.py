from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.models import MAGIC_COLUMNS

EVENT_ACTIONS = {"created": "rule_created", "changed": "rule_changed", "deleted": "rule_deleted"}
CONFIG_ACTIONS = {"created": "config_created", "changed": "config_changed", "deleted": "config_deleted"}
# Server verb: records of a model are being created with their parts (the parts log nothing of their own:
# the new record's entry lists them). A mark on the call stack, which no JSON-RPC caller can set.
CREATING_VERB = "distribution_audit_creating"
# What the trail records of a secret: only that it is set, and that it changed.
SECRET_SET = "(set)"


class DistributionAuditMixin(models.AbstractModel):
    """Records the configuration of a governed model in the audit trail: one entry per record created
    (``rule_created``, with its values), changed (``rule_changed``, with the old and new value of each
    changed field) or deleted (``rule_deleted``, with its values before deletion). A model that is no
    rule names its own actions in ``_audit_actions`` (``config_*``: routing, endpoints); the fields in
    ``_audit_secret_fields`` are recorded as set or changed, never their value. Fields written by the
    system only (``readonly``, not computed: counters, last errors) are not configuration.

    A part of another record (a tier of an approval rule) sets ``_audit_parent`` to the field of its
    parent: its changes are logged as a ``rule_changed`` of the record at the top (the rule), naming
    the part; a part created with its parent is listed in the parent's ``rule_created`` entry.

    Nothing a caller sends switches the trail off: a part is left out of the log only while its
    parent's ``create`` runs on the server (a server verb on the call stack, not a context key)."""

    _name = "distribution.audit.mixin"
    _description = "Audit Trail of Configuration Changes"
    # The many2one field to the record this one is a part of (None: a record of its own).
    _audit_parent = None
    # The audit actions of created/changed/deleted (rules keep their own names).
    _audit_actions = EVENT_ACTIONS
    # Fields holding a secret: the trail records that they are set or changed, never their value.
    _audit_secret_fields = ()

    @api.model_create_multi
    def create(self, vals_list):
        parent_model = self._fields[self._audit_parent].comodel_name if self._audit_parent else None
        # Parts created by the parent's create (its one2many commands) are listed in the parent's entry;
        # the mark is the server's own call stack, nothing a caller sends.
        with_parent = bool(parent_model) and verbs.inside(CREATING_VERB, self.env[parent_model])
        with verbs.server_verb(CREATING_VERB, self.browse()):
            records = super().create(vals_list)
        if not with_parent:
            for record in records:
                record._audit_log("created", {"values": record._audit_snapshot()})
        return records

    def write(self, vals):
        names = [name for name in vals if name in self._audit_field_names() and self._fields[name].type != "one2many"]
        if not names:
            return super().write(vals)
        before = {record.id: record._audit_values(names) for record in self}
        secrets = [name for name in names if name in self._audit_secret_fields]
        # Kept in memory only, to tell whether a secret changed: never logged.
        # sudo: secrets are often readable by a group only; their values are compared, never recorded.
        old_secrets = {record.id: {name: record.sudo()[name] for name in secrets} for record in self}
        result = super().write(vals)
        for record in self:
            after = record._audit_values(names)
            changes = {
                name: {"old": before[record.id][name], "new": after[name]}
                for name in names
                if before[record.id][name] != after[name]
            }
            for name in secrets:
                changes.pop(name, None)
                if old_secrets[record.id][name] != record.sudo()[name]:
                    # The trail says that the secret changed, never its old or new value.
                    changes[name] = {"changed": True}
            if changes:
                record._audit_log("changed", {"changes": changes})
        return result

    def unlink(self):
        for record in self:
            record._audit_log("deleted", {"values": record._audit_snapshot()})
        return super().unlink()

    # -- what is recorded --------------------------------------------------------------------------
    @api.model
    def _audit_field_names(self):
        """The fields the trail records: the stored, configurable ones."""
        return [
            name
            for name, field in self._fields.items()
            if field.store
            and name not in MAGIC_COLUMNS
            and not (field.compute and field.readonly)
            # Written by the system only (counters, last error): not configuration.
            and not (field.readonly and not field.compute and not field.related)
            and field.type not in ("binary", "properties", "properties_definition")
            and (field.type != "one2many" or self._audit_is_part_field(field))
        ]

    @api.model
    def _audit_is_part_field(self, field):
        """Whether a one2many field lists parts that are audited with this record."""
        return getattr(self.env[field.comodel_name], "_audit_parent", None) == field.inverse_name

    def _audit_snapshot(self):
        """Every recorded value of the record, its parts included."""
        self.ensure_one()
        return self._audit_values(self._audit_field_names())

    def _audit_values(self, names):
        """The recorded value of each field of ``names``: JSON values, a linked record as its id and
        name, many2many as their ids and names, parts as their own snapshots."""
        self.ensure_one()
        # sudo: whether a secret is set is read whatever the groups its field is reserved to.
        return {
            name: (SECRET_SET if self.sudo()[name] else None)
            if name in self._audit_secret_fields
            else self._audit_value(self._fields[name], self[name])
            for name in names
        }

    @api.model
    def _audit_value(self, field, value):
        if field.type == "one2many":
            return [part._audit_snapshot() for part in value]
        if field.type == "many2one":
            # sudo: the name of a linked record is recorded whatever the author's rights on it.
            return {"id": value.id, "name": value.sudo().display_name} if value else None
        if field.type == "many2many":
            # sudo: see above.
            return {"ids": value.ids, "names": value.sudo().mapped("display_name")}
        if field.type == "date":
            return fields.Date.to_string(value) if value else None
        if field.type == "datetime":
            return fields.Datetime.to_string(value) if value else None
        if field.type in ("float", "monetary"):
            return float(value or 0.0)
        if field.type == "boolean":
            return bool(value)
        if field.type in ("char", "text", "html", "selection"):
            return str(value) if value else None
        return value

    # -- logging -----------------------------------------------------------------------------------
    def _audit_owner(self):
        """The record at the top of this one (itself when it is not a part) and the parts in between."""
        self.ensure_one()
        owner, path = self, []
        while owner._audit_parent and owner[owner._audit_parent]:
            path.insert(0, owner)
            owner = owner[owner._audit_parent]
        return owner, path

    def _audit_log(self, event, payload):
        """Append the entry of ``event`` (created/changed/deleted) on this record with ``payload``."""
        self.ensure_one()
        owner, path = self._audit_owner()
        Audit = self.env["distribution.audit.entry"]
        if not path:
            Audit._append(self._audit_actions[event], self, dict(payload, model=self._name))
            return
        Audit._append(
            "rule_changed",
            owner,
            {
                "model": owner._name,
                "part": dict(payload, model=self._name, id=self.id, name=self.display_name, event=event),
                "via": [{"model": part._name, "id": part.id, "name": part.display_name} for part in path[:-1]],
            },
        )
