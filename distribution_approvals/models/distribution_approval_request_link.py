from urllib.parse import urljoin

from markupsafe import Markup

from odoo import models
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tools import consteq
from odoo.tools.misc import hmac

# The HMAC scope: the database secret signs other things too; a decision token is valid for none of them.
LINK_SCOPE = "distribution_approvals.decision_link"
LINK_PREFIX = "/distribution/approval"


class DistributionApprovalRequestTier(models.Model):
    """The one-click decision link of a tier: each approver gets their own link, signed with the
    database secret and bound to the request, the tier and the approver. The link opens a confirmation
    page (reading never decides); the decision is a CSRF-protected POST of the logged-in approver.

    Outcomes of the page (see ``_link_review`` and ``_link_decide``): ``review`` (the form is shown),
    ``done`` (the decision is recorded), ``forbidden`` (an altered link, another approver's link, or a
    segregation-of-duties refusal), ``decided`` (the tier or this approver's part of it is already
    decided: a link is used once), ``comment_required`` (a rejection without a comment), ``invalid``
    (an unknown decision, or the decision could not apply), ``not_found`` (no such tier of that request)."""

    _inherit = "distribution.approval.request.tier"

    # -- issuing -----------------------------------------------------------------------------------
    def _decision_token(self, user):
        """The signature of (request, tier, user): hex HMAC-SHA256 keyed by the database secret."""
        self.ensure_one()
        # sudo: the database secret is a system parameter no approver may read, and the token is
        # computed for links the approver has not yet been checked against.
        tier = self.sudo()
        return hmac(self.env(su=True), LINK_SCOPE, f"{tier.request_id.id}:{tier.id}:{user.id}")

    def _decision_path(self, user):
        """The link's path, without the host (the form posts to this path + ``/decide``)."""
        self.ensure_one()
        # sudo: see _decision_token.
        request_id = self.sudo().request_id.id
        return f"{LINK_PREFIX}/{request_id}/{self.id}/{user.id}/{self._decision_token(user)}"

    def _decision_url(self, user):
        """The absolute link (``web.base.url``) ``user`` follows to decide this tier."""
        self.ensure_one()
        return urljoin(self.sudo().request_id.get_base_url(), self._decision_path(user))

    def _activity_note(self, user):
        """The activity's text, with the approver's own link: the activity's assignment notification
        (e-mail or Discuss inbox) carries it."""
        note = super()._activity_note(user)
        return note + Markup('<p><a class="o_distribution_decision_link" href="%s">%s</a></p>') % (
            self._decision_url(user),
            self.env._("Review and decide"),
        )

    # -- following the link ------------------------------------------------------------------------
    def _link_check(self, request_id, user_id, token):
        """Check the link ``(request_id, self, user_id, token)`` for the current user. Answers None when
        they may decide with it now, or ``(outcome, message)`` when not."""
        # sudo: the token is checked before anything is read as the user, so that the page says why a
        # link is refused even to someone who may not read the request.
        tier_sudo = self.sudo().exists()
        if not tier_sudo or tier_sudo.request_id.id != request_id:
            return "not_found", self.env._("This approval link does not match any approval request.")
        signed_for = self.env["res.users"].browse(user_id)
        if not consteq(tier_sudo._decision_token(signed_for).encode(), (token or "").encode()):
            return "forbidden", self.env._("This approval link is not valid: it was altered or never issued.")
        if user_id != self.env.uid:
            return (
                "forbidden",
                self.env._(
                    "This approval link was sent to another approver. Use the link of your own notification, "
                    "or open the request in Odoo."
                ),
            )
        try:
            self.check_access("read")
            approval_request = self.request_id
            approval_request.check_access("read")
        except AccessError as error:
            return "forbidden", error.args[0]
        if self.state != "pending" or approval_request.state != "pending" or approval_request.current_tier_id != self:
            states = dict(approval_request._fields["state"]._description_selection(self.env))
            return (
                "decided",
                self.env._(
                    "Tier %(tier)s of %(request)s has already been decided (the request is %(state)s): this "
                    "link can no longer be used.",
                    tier=self.name,
                    request=approval_request.name,
                    state=states[approval_request.state],
                ),
            )
        code = approval_request._refusal(self.env.user)
        if code == "already_decided":
            return "decided", approval_request._refusal_message(code)
        if code:
            return "forbidden", approval_request._refusal_message(code)
        return None

    def _link_values(self, outcome, message=None):
        """What the page shows: the request, its context, the tier, its approvers, the decisions."""
        values = {"outcome": outcome, "message": message, "tier": None, "approval_request": None}
        if outcome == "not_found" or not self.exists():
            return values
        try:
            self.check_access("read")
            self.request_id.check_access("read")
        except AccessError:
            # A user who may not read the request learns only why the link is refused.
            return values
        approval_request = self.request_id
        values.update(
            tier=self,
            approval_request=approval_request,
            # sudo: who may decide is shown to the approvers; users of other companies are named only.
            approvers=self.sudo().approver_ids.mapped("name"),
            decisions=approval_request.decision_ids,
            amount=approval_request.currency_id.format(approval_request.amount),
            # Through /mail/view: it switches the web client to the request's company when needed.
            open_url=f"/mail/view?model={approval_request._name}&res_id={approval_request.id}",
        )
        return values

    def _link_review(self, request_id, user_id, token):
        """The confirmation page of a link (GET): shows the request, changes nothing."""
        refusal = self._link_check(request_id, user_id, token)
        if refusal:
            return self._link_values(*refusal)
        values = self._link_values("review")
        values["decide_path"] = f"{self._decision_path(self.env.user)}/decide"
        return values

    def _link_decide(self, request_id, user_id, token, decision, comment=None):
        """The decision posted from the confirmation page of a link, as the current user. Nothing
        changes unless the outcome is ``done``."""
        refusal = self._link_check(request_id, user_id, token)
        if refusal:
            return self._link_values(*refusal)
        approval_request = self.request_id
        if decision not in ("approve", "reject"):
            return self._link_values("invalid", self.env._("Choose Approve or Reject."))
        comment = (comment or "").strip()
        if decision == "reject" and not comment:
            values = self._link_values(
                "comment_required",
                self.env._("Say why %s is rejected: a comment is required to reject.", approval_request.name),
            )
            values["decide_path"] = f"{self._decision_path(self.env.user)}/decide"
            return values
        try:
            # A refusal raised half-way leaves nothing behind: the page is still answered (and committed).
            with self.env.cr.savepoint():
                approval_request._decide(decision, comment or None, request_tier=self)
        except AccessError as error:
            return self._link_values("forbidden", error.args[0])
        except UserError as error:
            return self._link_values("invalid", error.args[0])
        return self._link_values("done", self._link_outcome_message(decision))

    def _link_outcome_message(self, decision):
        """What the decision did: the request approved or rejected, the next tier opened, or the tier
        waiting for more approvals."""
        approval_request = self.request_id
        if decision == "reject":
            return self.env._("You rejected %s. The requester is told with your comment.", approval_request.name)
        if approval_request.state == "approved":
            return self.env._("You approved %s. The request is approved.", approval_request.name)
        if approval_request.current_tier_id != self:
            return self.env._(
                "You approved tier %(tier)s of %(request)s. Tier %(next)s now decides.",
                tier=self.name,
                request=approval_request.name,
                next=approval_request.current_tier_id.name,
            )
        return self.env._(
            "You approved tier %(tier)s of %(request)s. It waits for more approvals.",
            tier=self.name,
            request=approval_request.name,
        )
