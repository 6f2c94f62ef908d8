from odoo import api
from odoo import models
from odoo.addons.distribution_observability.services import verbs
from odoo.tools import SQL

from .distribution_approval_rule import APPROVER_GROUP

MANAGER_GROUP = "distribution_observability.group_distribution_manager"
# The groups whose members decide approvals: who joins or leaves them enters the audit trail.
GOVERNED_GROUPS = (APPROVER_GROUP, MANAGER_GROUP)
# Server verb: a membership change is being recorded (nested writes are part of it, not new changes).
MEMBERSHIP_VERB = "distribution_audit_membership"
# What in a user's values can change their groups (the user form writes reified group fields).
_GROUP_KEYS = ("groups_id",)
_GROUP_PREFIXES = ("in_group_", "sel_groups_")


class ResUsers(models.Model):
    """Approver and Distribution Manager memberships are governance configuration: each user who joins
    or leaves one of those groups (through the user, the group, or an implied group) gets a
    ``membership_changed`` entry in the audit trail of each of their companies."""

    _inherit = "res.users"

    @api.model_create_multi
    def create(self, vals_list):
        if verbs.inside(MEMBERSHIP_VERB, self.env["res.users"]):
            return super().create(vals_list)
        with self.env["res.users"]._membership_audit():
            return super().create(vals_list)

    def write(self, vals):
        if verbs.inside(MEMBERSHIP_VERB, self.env["res.users"]) or not any(
            key in _GROUP_KEYS or key.startswith(_GROUP_PREFIXES) for key in vals
        ):
            return super().write(vals)
        with self.env["res.users"]._membership_audit():
            return super().write(vals)

    # -- recording ---------------------------------------------------------------------------------
    @api.model
    def _governed_members(self):
        """{group xml id: set of user ids} of the governed groups, as the table holds them now."""
        groups = {xmlid: self.env.ref(xmlid, raise_if_not_found=False) for xmlid in GOVERNED_GROUPS}
        groups = {xmlid: group for xmlid, group in groups.items() if group}
        if not groups:
            return {}
        self.env["res.users"].flush_model(["groups_id"])
        self.env["res.groups"].flush_model(["users"])
        # Raw SQL: one read of the membership table for the governed groups, before and after the change.
        self.env.cr.execute(
            SQL(
                "SELECT gid, uid FROM res_groups_users_rel WHERE gid IN %s",
                tuple(group.id for group in groups.values()),
            )
        )
        by_gid = {}
        for gid, uid in self.env.cr.fetchall():
            by_gid.setdefault(gid, set()).add(uid)
        return {xmlid: by_gid.get(group.id, set()) for xmlid, group in groups.items()}

    @api.model
    def _membership_audit(self):
        """A context manager around a change that may move users in or out of the governed groups:
        compares the membership before and after, and records each user's joins and leaves."""
        return _MembershipAudit(self)

    @api.model
    def _audit_membership(self, before, after):
        """Append a ``membership_changed`` entry for each user whose governed groups changed."""
        changes = {}
        for xmlid in after:
            for uid in after[xmlid] - before.get(xmlid, set()):
                changes.setdefault(uid, {})[xmlid] = "added"
            for uid in before.get(xmlid, set()) - after[xmlid]:
                changes.setdefault(uid, {})[xmlid] = "removed"
        Audit = self.env["distribution.audit.entry"]
        # sudo: the user's companies and login are recorded whatever the author's rights on users.
        for user in self.sudo().browse(sorted(changes)).exists():
            groups = {xmlid: self.env.ref(xmlid).sudo().full_name for xmlid in changes[user.id]}
            details = {
                "user": {"id": user.id, "login": user.login, "name": user.name},
                "groups": {
                    xmlid: {"name": groups[xmlid], "change": change} for xmlid, change in changes[user.id].items()
                },
            }
            for company in user.company_ids or self.env.company:
                Audit._append("membership_changed", user.with_env(self.env), details, company=company)


class _MembershipAudit:
    """Snapshot the governed memberships on entry, record the difference on a clean exit; nested user
    and group writes inside are part of the same change (a server verb marks it)."""

    def __init__(self, users):
        self.users = users
        self.verb = None
        self.before = None

    def __enter__(self):
        self.before = self.users._governed_members()
        self.verb = verbs.server_verb(MEMBERSHIP_VERB, self.users.browse())
        self.verb.__enter__()
        return self

    def __exit__(self, exc_type, exc, traceback):
        self.verb.__exit__(exc_type, exc, traceback)
        if exc_type is None:
            self.users._audit_membership(self.before, self.users._governed_members())
        return False
