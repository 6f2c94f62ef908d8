from odoo import models
from odoo.addons.distribution_orchestration.services import inbound
from odoo.exceptions import AccessError
from odoo.exceptions import UserError
from odoo.tools import consteq

from ..services import approval

HANDLER = "approval_decision"
# The inbox validates the body of this handler like its own (400 with the problems, logged as a rejection).
inbound.register_schema(HANDLER, approval.decision_problems)
# Why a decision from a tool is refused: the reason code of the business exception on the inbox event.
REFUSALS = {
    "self_approval": "approval_self_approval",
    "not_approver": "approval_not_approver",
    "four_eyes": "approval_four_eyes",
}


class DistributionInboundEvent(models.Model):
    """A vendor's lead time announced by a supplier update beyond the tolerance asks for a
    ``lead_time_change`` approval on the vendor, as a learned lead time does.

    The handler ``approval_decision``: an approver's decision taken in a collaboration tool."""

    _inherit = "distribution.inbound.event"

    def _distribution_announced_lead_time_beyond(self, vendor, company, beyond, lead_time, exception):
        result = super()._distribution_announced_lead_time_beyond(vendor, company, beyond, lead_time, exception)
        vendor._distribution_ask_announced_lead_time(company, beyond, lead_time, exception, self)
        return result

    # -- approval_decision -------------------------------------------------------------------------
    def _handle_approval_decision(self, data):
        """Apply ``{request, token, decision, comment, actor, channel}``: the decision of ``actor`` (a login,
        or the e-mail of one user) on ``request`` (its reference, in this endpoint's company), taken through
        the same path as in Odoo (``_decide``, run as that user, with its checks: no self-approval, only an
        approver of the current tier, four-eyes, a comment to reject).

        The token is the one of the approver's one-click link (request, tier, approver): it must be the
        actor's own. The tool says who clicked; Odoo checks that the token was issued to that person, so that
        the tool cannot decide for someone else (another approver's token, or a token with another actor, is
        refused). A decision on a tier or a request already decided (or by an approver who already decided
        this tier) changes nothing: the event is done and its result says "already decided". Every other
        refusal raises a business exception on the event (``inbound.BusinessProblem``); the decision enters
        the audit chain with its channel, the endpoint and the event id."""
        Request = self.env["distribution.approval.request"]
        request = Request.search([("name", "=", data["request"]), ("company_id", "=", self.company_id.id)], limit=1)
        if not request:
            raise inbound.BusinessProblem(
                "approval_unknown_request",
                self.env._(
                    "no approval request %(request)s in %(company)s.",
                    request=data["request"],
                    company=self.company_id.name,
                ),
            )
        actor = self._approval_actor(data["actor"])
        tier = self._approval_token_tier(request, actor, data["token"])
        decision = data["decision"]
        current = request.state == "pending" and tier == request.current_tier_id and tier.state == "pending"
        code = request._refusal(actor) if current else "not_pending"
        if code in ("not_pending", "already_decided"):
            states = dict(request._fields["state"]._description_selection(self.env))
            return self.env["distribution.exception"], self.env._(
                "Already decided: %(request)s is %(state)s and %(user)s's %(decision)s of tier %(tier)s changed "
                "nothing.",
                request=request.name,
                state=states[request.state],
                user=actor.name,
                decision=decision,
                tier=tier.name,
            )
        if code:
            raise inbound.BusinessProblem(
                REFUSALS.get(code, f"approval_{code}"), self._approval_refusal_message(code, request, actor)
            )
        channel = data.get("channel") or self.endpoint_id.name
        comment = (data.get("comment") or "").strip() or None
        try:
            with self.env.cr.savepoint():
                request.with_user(actor).with_company(request.company_id)._decide(
                    decision,
                    comment,
                    request_tier=tier,
                    via={"channel": channel, "endpoint": self.endpoint_id.code, "inbound_event": self.event_id},
                )
        except (AccessError, UserError) as error:
            raise inbound.BusinessProblem(
                "approval_decision_refused",
                self.env._(
                    "%(user)s's decision on %(request)s was refused: %(error)s",
                    user=actor.name,
                    request=request.name,
                    error=error.args[0],
                ),
            ) from error
        return self.env["distribution.exception"], self.env._(
            "%(request)s: %(user)s %(decision)s tier %(tier)s through %(channel)s; the request is now %(state)s.",
            request=request.name,
            user=actor.name,
            decision=self.env._("approved") if decision == "approve" else self.env._("rejected"),
            tier=tier.name,
            channel=channel,
            state=dict(request._fields["state"]._description_selection(self.env))[request.state],
        )

    def _approval_actor(self, actor):
        """The active internal user the tool names: by login, else by e-mail when one user only has it."""
        Users = self.env["res.users"].with_context(active_test=True)
        user = Users.search([("login", "=", actor), ("share", "=", False)], limit=1)
        if not user:
            # =ilike without its wildcards: an e-mail is compared whole, whatever its case.
            pattern = actor.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
            by_email = Users.search([("email", "=ilike", pattern), ("share", "=", False)], limit=2)
            user = by_email if len(by_email) == 1 else user
        if not user:
            raise inbound.BusinessProblem(
                "approval_unknown_actor",
                self.env._("no active internal user has the login or e-mail %s: nobody decided.", actor),
            )
        return user

    def _approval_token_tier(self, request, actor, token):
        """The tier of ``request`` whose decision token for ``actor`` is ``token``. Refused when it is the
        token of someone else (the tier's approvers, the requester, those who decided) or no token at all."""
        # sudo: the tokens are checked before anything is read as the actor (see _link_check).
        tiers = request.sudo().tier_ids
        for tier in tiers:
            if consteq(tier._decision_token(actor).encode(), token.encode()):
                return tier.with_env(self.env)
        others = (tiers.approver_ids | tiers.decision_ids.user_id | request.sudo().requested_by_id) - actor
        owner = next(
            (user for tier in tiers for user in others if consteq(tier._decision_token(user).encode(), token.encode())),
            None,
        )
        if owner:
            raise inbound.BusinessProblem(
                "approval_token_of_another_user",
                self.env._(
                    "the decision token on %(request)s was issued to %(owner)s, not to %(actor)s: a tool decides "
                    "only as the person who clicked, with their own token. Nothing was decided.",
                    request=request.name,
                    owner=owner.name,
                    actor=actor.name,
                ),
            )
        raise inbound.BusinessProblem(
            "approval_invalid_token",
            self.env._(
                "the decision token on %(request)s is not one Odoo issued to %(actor)s (altered, or of another "
                "request). Nothing was decided.",
                request=request.name,
                actor=actor.name,
            ),
        )

    def _approval_refusal_message(self, code, request, actor):
        values = {"request": request.name, "user": actor.name}
        if code == "self_approval":
            return self.env._(
                "%(user)s requested %(request)s and may not decide it (segregation of duties). Nothing was decided.",
                **values,
            )
        if code == "not_approver":
            return self.env._(
                "%(user)s is not an approver of the current tier of %(request)s. Nothing was decided.", **values
            )
        if code == "four_eyes":
            return self.env._(
                "%(user)s approved another tier of %(request)s: four-eyes asks for someone else on this one. "
                "Nothing was decided.",
                **values,
            )
        return self.env._("%(user)s may not decide %(request)s. Nothing was decided.", **values)
