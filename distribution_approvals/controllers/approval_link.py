from odoo import http
from odoo.http import request

from ..models.distribution_approval_request_tier import LINK_PREFIX

TEMPLATE = "distribution_approvals.approval_link_page"
LINK_ROUTE = f"{LINK_PREFIX}/<int:request_id>/<int:tier_id>/<int:user_id>/<string:token>"
# A link used again after its decision answers 409 Conflict: the page names the decision taken.
STATUS = {
    "review": 200,
    "done": 200,
    "comment_required": 400,
    "invalid": 400,
    "forbidden": 403,
    "not_found": 404,
    "decided": 409,
}


class ApprovalLinkController(http.Controller):
    """The one-click decision link of approval notifications. ``auth="user"``: a visitor who is not
    logged in goes through the login page and comes back. GET shows the confirmation page and never
    changes anything; the decision is a POST carrying the session's CSRF token."""

    @http.route(LINK_ROUTE, type="http", auth="user", methods=["GET"])
    def approval_link_review(self, request_id, tier_id, user_id, token, **kwargs):
        tier = request.env["distribution.approval.request.tier"].browse(tier_id)
        return self._answer(tier._link_review(request_id, user_id, token))

    @http.route(f"{LINK_ROUTE}/decide", type="http", auth="user", methods=["POST"])
    def approval_link_decide(self, request_id, tier_id, user_id, token, decision=None, comment=None, **kwargs):
        tier = request.env["distribution.approval.request.tier"].browse(tier_id)
        return self._answer(tier._link_decide(request_id, user_id, token, decision, comment))

    def _answer(self, values):
        return request.render(TEMPLATE, values, status=STATUS[values["outcome"]])
