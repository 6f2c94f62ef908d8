from collections import defaultdict

from odoo import api
from odoo import fields
from odoo import models
from odoo.addons.base.models.res_bank import sanitize_account_number
from odoo.exceptions import UserError

# What identifies where a vendor's money goes: a change of these waits for approval.
GATED_FIELDS = ("acc_number", "bank_id", "acc_holder_name", "partner_id")
# Context key: the change is the approved one, applied by the system.
APPLY_KEY = "distribution_bank_change_approved"


class ResPartnerBank(models.Model):
    """Vendors' bank accounts change only through an approval. A vendor is a partner whose commercial
    entity has been bought from (supplier rank above 0); the companies' own accounts are not governed.

    - A new account of a vendor is created archived, with a ``vendor_change`` request; the approval
      activates it, after a rejection it stays archived (using it later is asked for again).
    - A change of account number, bank, holder or partner is not written: the requested values wait in
      the request's payload and are written by the approval; a rejection leaves the account as it is.
    - Unarchiving a vendor's account is requested the same way.
    The write and create overrides are the gate: a change through the ORM (form, import, RPC) goes
    through them."""

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
        if self.env.context.get(APPLY_KEY):
            return super().create(vals_list)
        Partner = self.env["res.partner"]
        gated = []
        vals_list = [dict(vals) for vals in vals_list]
        default_partner = self.env.context.get("default_partner_id")
        for index, vals in enumerate(vals_list):
            partner = Partner.browse(vals.get("partner_id") or default_partner)
            if vals.get("active", True) and self._distribution_is_vendor(partner):
                vals["active"] = False
                gated.append(index)
        banks = super().create(vals_list)
        for index in gated:
            bank = banks[index]
            bank._distribution_request_change("create", bank._distribution_values(), {})
        return banks

    def write(self, vals):
        if self.env.context.get(APPLY_KEY):
            return super().write(vals)
        gated_fields = [name for name in GATED_FIELDS if name in vals]
        activating = bool(vals.get("active"))
        if not gated_fields and not activating:
            return super().write(vals)
        requests = {}
        new_partner = self.env["res.partner"].browse(vals.get("partner_id"))
        for bank in self:
            if not (self._distribution_is_vendor(bank.partner_id) or self._distribution_is_vendor(new_partner)):
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

    def unlink(self):
        # Deleting a bank account archives it: a change of it needs no approval any more.
        pending = self._distribution_pending_requests()
        for request in pending.values():
            request._finish("cancelled", self.env._("The bank account was archived."))
        return super().unlink()

    @api.model
    def _distribution_is_vendor(self, partner):
        """Whether a change of ``partner``'s bank accounts needs approval: a partner whose commercial
        entity has been bought from, and which is not one of the companies."""
        if not partner:
            return False
        commercial = partner.commercial_partner_id
        if not commercial.supplier_rank:
            return False
        # sudo: the companies' own partners are excluded whatever companies the user works in.
        return not self.env["res.company"].sudo().search_count([("partner_id", "=", commercial.id)], limit=1)

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
        """Apply what was approved."""
        self.ensure_one()
        payload = request.payload or {}
        values = {"active": True} if payload.get("operation") == "create" else dict(payload.get("changes") or {})
        self.with_context(**{APPLY_KEY: True}).write(values)
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


class ResPartner(models.Model):
    """Vendors show the changes of their bank accounts that wait for approval."""

    _inherit = "res.partner"

    distribution_pending_bank_changes = fields.Text(
        "Bank Changes Pending Approval", compute="_compute_distribution_pending_bank_changes"
    )

    def _compute_distribution_pending_bank_changes(self):
        commercial = self.commercial_partner_id
        # sudo + active_test: a new account waiting for approval is archived until then.
        banks = (
            self.env["res.partner.bank"]
            .sudo()
            .with_context(active_test=False)
            .search([("partner_id", "in", (self | commercial)._origin.ids)])
        )
        pending = banks._distribution_pending_requests()
        by_partner = defaultdict(list)
        for bank in banks.filtered(lambda b: b.id in pending):
            request = pending[bank.id]
            by_partner[bank.partner_id.id].append(
                f"{request.name} - {bank.acc_number}: {bank._distribution_describe(request.payload)}"
            )
        for partner in self:
            lines = by_partner[partner._origin.id] or by_partner[partner.commercial_partner_id._origin.id]
            partner.distribution_pending_bank_changes = "\n".join(lines) or False
