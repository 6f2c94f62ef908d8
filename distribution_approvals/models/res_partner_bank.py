from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.base.models.res_bank import sanitize_account_number
from odoo.addons.distribution_observability.services import verbs
from odoo.exceptions import AccessError
from odoo.exceptions import UserError

# What identifies where a partner's money goes: a change of these waits for approval.
GATED_FIELDS = ("acc_number", "bank_id", "acc_holder_name", "partner_id")
# The server verb that applies an approved change: only inside it are governed fields written at once.
APPLY_VERB = "bank_change_apply"
# Derived from the account number by the ORM itself: never written by anyone.
DERIVED_FIELDS = ("sanitized_acc_number",)


class ResPartnerBank(models.Model):
    """Bank accounts of partners other than the companies of the database change only through an
    approval. Every partner's account is governed, not only a vendor's: whether a partner is a vendor
    (its supplier rank, its purchases) is written by the clerks the control is meant for, and a marker
    they can flip would decide whether the gate applies. The partner of the account itself is checked
    (not its commercial entity, which follows a ``parent_id`` a clerk may write); only the companies'
    own partners, which only administrators edit, are left out.

    - A new account is created archived, with a ``vendor_change`` request; the approval activates it,
      after a rejection it stays archived (using it later is asked for again).
    - A change of account number, bank, holder or partner is not written: the requested values wait in
      the request's payload and are written by the approval (``_apply_approved_bank_change``, inside the
      ``bank_change_apply`` server verb), if the account is still what it was when the change was asked
      for; a rejection leaves the account as it is.
    - Unarchiving an account is requested the same way.
    The write and create overrides are the gate: a change through the ORM (form, import, RPC) goes
    through them, and no context key opens it."""

    _inherit = "res.partner.bank"

    distribution_approval_request_id = fields.Many2one(
        "distribution.approval.request", "Pending Approval", compute="_compute_distribution_pending"
    )
    distribution_approval_request_name = fields.Char("Pending Request", compute="_compute_distribution_pending")
    distribution_pending_changes = fields.Text("Pending Changes", compute="_compute_distribution_pending")

    def _compute_distribution_pending(self):
        pending = self._distribution_pending_requests()
        for bank in self:
            request = pending.get(bank._origin.id)
            bank.distribution_approval_request_id = request
            bank.distribution_approval_request_name = request.name if request else False
            bank.distribution_pending_changes = request and bank._distribution_describe(request.payload)

    def _distribution_pending_requests(self):
        """The pending request of each account: {bank id: request}."""
        ids = [bank_id for bank_id in self._origin.ids if bank_id]
        if not ids:
            return {}
        # sudo: whoever sees the account sees that a change of it waits, whatever their rights on requests.
        requests = (
            self.env["distribution.approval.request"]
            .sudo()
            .search([("res_model", "=", "res.partner.bank"), ("res_id", "in", ids), ("state", "=", "pending")])
        )
        return {request.res_id: request for request in requests}

    # -- the gate ------------------------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        if verbs.inside(APPLY_VERB, self):
            return super().create(vals_list)
        self._distribution_refuse_derived(vals_list)
        Partner = self.env["res.partner"]
        gated = []
        vals_list = [dict(vals) for vals in vals_list]
        # A default of the form the account is created from: forging it only names another partner,
        # whose account is governed all the same.
        default_partner = self.env.context.get("default_partner_id")
        for index, vals in enumerate(vals_list):
            partner = Partner.browse(vals.get("partner_id") or default_partner)
            if vals.get("active", True) and self._distribution_is_governed(partner):
                vals["active"] = False
                gated.append(index)
        banks = super().create(vals_list)
        for index in gated:
            bank = banks[index]
            bank._distribution_request_change("create", bank._distribution_values(), {})
        return banks

    def write(self, vals):
        if verbs.inside(APPLY_VERB, self):
            return super().write(vals)
        self._distribution_refuse_derived([vals])
        gated_fields = [name for name in GATED_FIELDS if name in vals]
        activating = bool(vals.get("active"))
        if not gated_fields and not activating:
            return super().write(vals)
        requests = {}
        new_partner = self.env["res.partner"].browse(vals.get("partner_id"))
        for bank in self:
            if not (self._distribution_is_governed(bank.partner_id) or self._distribution_is_governed(new_partner)):
                continue
            changes = bank._distribution_changes(vals, gated_fields)
            if activating and not bank.active:
                changes["active"] = True
            if changes:
                requests[bank] = changes
        if not requests:
            return super().write(vals)
        held = self.browse([bank.id for bank in requests])
        pending = held._distribution_pending_requests()
        if pending:
            bank = self.browse(next(iter(pending)))
            raise UserError(
                self.env._(
                    "A change of bank account %(account)s waits for approval (%(request)s): wait for the "
                    "decision, or withdraw the request before asking for another change.",
                    account=bank.acc_number,
                    request=pending[bank.id].name,
                )
            )
        free = self - held
        if free:
            super(ResPartnerBank, free).write(vals)
        others = {
            name: value
            for name, value in vals.items()
            if name not in GATED_FIELDS and not (name == "active" and activating)
        }
        if others:
            super(ResPartnerBank, held).write(others)
        for bank, changes in requests.items():
            bank._distribution_check_change(changes)
            previous = {name: bank._distribution_values()[name] for name in changes if name != "active"}
            if "active" in changes:
                previous["active"] = bank.active
            bank._distribution_request_change("activate" if set(changes) == {"active"} else "update", changes, previous)
        return True

    def _distribution_refuse_derived(self, vals_list):
        refused = sorted({name for vals in vals_list for name in vals if name in DERIVED_FIELDS})
        if refused:
            raise AccessError(
                self.env._(
                    "%s is derived from the account number: change the account number instead (a change that "
                    "may wait for approval).",
                    ", ".join(refused),
                )
            )

    def unlink(self):
        # Deleting a bank account archives it: a change of it needs no approval any more.
        pending = self._distribution_pending_requests()
        for request in pending.values():
            request._finish("cancelled", self.env._("The bank account was archived."))
        return super().unlink()

    @api.model
    def _distribution_is_governed(self, partner):
        """Whether a change of ``partner``'s bank accounts needs approval: every partner but the
        companies' own (see the class docstring for why no vendor marker decides it)."""
        if not partner:
            return False
        # sudo: the companies' own partners are excluded whatever companies the user works in.
        return (
            not self.env["res.company"]
            .sudo()
            .with_context(active_test=False)
            .search_count([("partner_id", "=", partner.id)], limit=1)
        )

    def _distribution_values(self):
        """The account's governed values, as stored in a request's payload."""
        self.ensure_one()
        return {
            "acc_number": self.acc_number,
            "bank_id": self.bank_id.id or False,
            "acc_holder_name": self.acc_holder_name or False,
            "partner_id": self.partner_id.id,
        }

    def _distribution_changes(self, vals, field_names):
        """The governed values of ``vals`` that differ from the account's."""
        self.ensure_one()
        current = self._distribution_values()
        changes = {}
        for name in field_names:
            value = vals[name]
            if isinstance(value, models.BaseModel):
                value = value.id
            value = value or False
            if name == "acc_number" and value:
                value = value.strip()
            if value != current[name]:
                changes[name] = value
        return changes

    def _distribution_check_change(self, changes):
        """Refuse now what the approval could not apply."""
        self.ensure_one()
        if "acc_number" in changes and not changes["acc_number"]:
            raise UserError(self.env._("The account number of a bank account cannot be empty."))
        if ("acc_number" in changes or "partner_id" in changes) and self.allow_out_payment:
            raise UserError(
                self.env._(
                    "Bank account %s is trusted for outgoing payments: untrust it before changing its number "
                    "or its partner.",
                    self.acc_number,
                )
            )
        number = sanitize_account_number(changes.get("acc_number", self.acc_number))
        partner_id = changes.get("partner_id", self.partner_id.id)
        # sudo + active_test: a duplicate counts even archived or in a company the user does not see.
        duplicate = (
            self.with_context(active_test=False)
            .sudo()
            .search_count(
                [("id", "!=", self.id), ("sanitized_acc_number", "=", number), ("partner_id", "=", partner_id)],
                limit=1,
            )
        )
        if duplicate:
            raise UserError(self.env._("This partner already has a bank account numbered %s (maybe archived).", number))

    def _distribution_request_change(self, operation, changes, previous):
        self.ensure_one()
        partner = self.env["res.partner"].browse(changes.get("partner_id") or self.partner_id.id)
        payload = {
            "operation": operation,
            "bank_id": self.id,
            "partner_id": self.partner_id.id,
            "changes": changes,
            "previous": previous,
        }
        names = {"number": self.acc_number, "partner": partner.commercial_partner_id.display_name}
        if operation == "create":
            reason = self.env._("New bank account %(number)s for vendor %(partner)s.", **names)
        elif operation == "activate":
            reason = self.env._("Bank account %(number)s of vendor %(partner)s used again (unarchived).", **names)
        else:
            reason = self.env._(
                "Change of bank account %(number)s of vendor %(partner)s: %(changes)s",
                changes=self._distribution_describe(payload).replace("\n", "; "),
                **names,
            )
        return self.env["distribution.approval.request"]._request(
            self,
            "vendor_change",
            amount=self._distribution_payables(),
            reason=reason,
            payload=payload,
            facts={"partner": partner},
        )

    def _distribution_payables(self):
        """What the company owes the vendor now (company currency): what would be paid to the account."""
        self.ensure_one()
        company = self.company_id or self.env.company
        # sudo: payables are accounting figures; approvers see the total, whoever made the change.
        partner = self.partner_id.commercial_partner_id.sudo().with_company(company)
        return max(partner.debit or 0.0, 0.0)

    def _distribution_describe(self, payload):
        """The pending change in plain words."""
        self.ensure_one()
        payload = payload or {}
        changes = payload.get("changes") or {}
        previous = payload.get("previous") or {}
        if payload.get("operation") == "create":
            return self.env._("New account, active once approved.")
        labels = {name: self._fields[name].string for name in GATED_FIELDS}
        labels["active"] = self.env._("Active")
        lines = []
        # sudo: the names of the banks and partners of a pending change are shown to whoever sees the account.
        for name, value in changes.items():
            if name == "bank_id":
                value = self.env["res.bank"].sudo().browse(value).display_name if value else ""
                old = self.env["res.bank"].sudo().browse(previous.get(name)).display_name if previous.get(name) else ""
            elif name == "partner_id":
                value = self.env["res.partner"].sudo().browse(value).display_name
                old = self.env["res.partner"].sudo().browse(previous.get(name)).display_name
            else:
                old = previous.get(name)
            lines.append(f"{labels.get(name, name)}: {old or '-'} -> {value or '-'}")
        return "\n".join(lines)

    def _distribution_approval_context(self):
        """The account as it is and the change asked for."""
        self.ensure_one()
        return [
            {
                "key": "account",
                "label": self.env._("Account"),
                "value": self._distribution_values(),
                "display": " / ".join(filter(None, [self.acc_number, self.bank_id.name, self.acc_holder_name])),
            },
            {
                "key": "other_partners",
                "label": self.env._("Other partners with this number"),
                "value": self.duplicate_bank_partner_ids.ids,
                "display": ", ".join(self.duplicate_bank_partner_ids.mapped("display_name")) or self.env._("none"),
            },
        ]

    # -- decisions (called back by the request, as the system) ---------------------------------------
    def _distribution_approval_approved(self, request):
        """The approval's callback: apply it."""
        self.ensure_one()
        self._apply_approved_bank_change(request)

    def _apply_approved_bank_change(self, request):
        """Write exactly what ``request`` approved, inside the ``bank_change_apply`` verb, if the
        account's governed values are still those the change was asked against; otherwise nothing is
        written and the partner's chatter says so (the change is to be asked for again)."""
        self.ensure_one()
        payload = request.payload or {}
        if payload.get("bank_id") not in (None, self.id):
            return
        current = self._distribution_values()
        if payload.get("operation") == "create":
            expected = payload.get("changes") or {}
            values = {"active": True}
        else:
            expected = {name: value for name, value in (payload.get("previous") or {}).items() if name != "active"}
            values = dict(payload.get("changes") or {})
        if any(current.get(name) != value for name, value in expected.items()):
            self.partner_id._message_log(
                body=self.env._(
                    "Bank account %(number)s: %(request)s was approved, but the account changed since; nothing "
                    "was applied.",
                    number=self.acc_number,
                    request=request.name,
                )
            )
            return
        with verbs.server_verb(APPLY_VERB, self):
            self.write(values)
        self.partner_id._message_log(
            body=self.env._(
                "Bank account %(number)s: change approved in %(request)s.", number=self.acc_number, request=request.name
            )
        )

    def _distribution_approval_rejected(self, request):
        """Nothing changes: a new account asked for stays archived (bank accounts are archived, never
        deleted), a change is dropped."""
        self.ensure_one()
        partner = self.partner_id
        message = self.env._(
            "Bank account %(number)s: change rejected in %(request)s (%(comment)s); nothing was changed.",
            number=self.acc_number,
            request=request.name,
            comment=request.decision_comment,
        )
        partner._message_log(body=message)
