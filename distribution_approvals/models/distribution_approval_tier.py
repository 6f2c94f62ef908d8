from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError

from .distribution_approval_rule import APPROVER_GROUP


class DistributionApprovalTier(models.Model):
    """One step of a rule: who approves (users, a group, or the sales team leader of the document), how
    many approvals it needs, its SLA, and where it escalates when overdue."""

    _name = "distribution.approval.tier"
    _inherit = ["distribution.audit.mixin"]
    # Audited as a part of its rule.
    _audit_parent = "rule_id"
    _description = "Approval Tier"
    _order = "rule_id, sequence, id"

    rule_id = fields.Many2one("distribution.approval.rule", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="rule_id.company_id", store=True)
    sequence = fields.Integer(default=10)
    name = fields.Char(required=True, translate=True)
    approver_type = fields.Selection(
        [("user", "Users"), ("group", "Group"), ("team_leader", "Sales team leader")],
        required=True,
        default="group",
    )
    user_ids = fields.Many2many("res.users", string="Approvers", domain=[("share", "=", False)])
    group_id = fields.Many2one(
        "res.groups", "Approver Group", default=lambda self: self.env.ref(APPROVER_GROUP, raise_if_not_found=False)
    )
    min_approvals = fields.Integer(
        "Approvals Needed", default=1, help="How many approvers of this tier must approve (quorum)."
    )
    sla_hours = fields.Float("SLA (hours)", default=8.0, help="Overdue after this; 0: no SLA, no escalation.")
    escalation_ids = fields.One2many("distribution.approval.escalation", "tier_id", "Escalation Levels", copy=True)

    @api.constrains("approver_type", "user_ids", "group_id", "min_approvals")
    def _check_approvers(self):
        for tier in self:
            if tier.min_approvals < 1:
                raise ValidationError(self.env._("Tier %s needs at least one approval.", tier.name))
            if tier.approver_type == "user" and not tier.user_ids:
                raise ValidationError(self.env._("Tier %s: choose its approvers.", tier.name))
            if tier.approver_type == "group" and not tier.group_id:
                raise ValidationError(self.env._("Tier %s: choose its approver group.", tier.name))
            possible = tier._possible_approver_count()
            if tier.min_approvals > possible:
                raise ValidationError(
                    self.env._(
                        "Tier %(tier)s needs %(n)s approvals but only %(possible)s people can approve it: it could "
                        "never be decided. Lower its quorum or add approvers.",
                        tier=tier.name,
                        n=tier.min_approvals,
                        possible=possible,
                    )
                )

    def _possible_approver_count(self):
        """How many people could ever approve this tier: its users, the active internal members of its
        group in the rule's company, or one sales team leader."""
        self.ensure_one()
        if self.approver_type == "user":
            return len(self.user_ids)
        if self.approver_type == "team_leader":
            return 1
        company = self.rule_id.company_id
        # sudo: the group's members are counted whatever the manager's rights on users and groups.
        return len(
            self.group_id.sudo().users.filtered(
                lambda u: u.active and not u.share and (not company or company in u.company_ids)
            )
        )

    def _approvers(self, record, requester):
        """The users who may decide this tier for ``record``: never the requester."""
        self.ensure_one()
        if self.approver_type == "user":
            users = self.user_ids
        elif self.approver_type == "group":
            # Odoo 18 writes implied groups into the membership: members of sub-groups are listed too.
            users = self.group_id.users
        else:
            users = record.team_id.user_id if "team_id" in record._fields else self.env["res.users"]
        company = record.company_id if "company_id" in record._fields and record.company_id else None
        users = users.filtered(lambda u: u.active and not u.share and (not company or company in u.company_ids))
        return users - requester
