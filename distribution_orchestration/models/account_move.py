from odoo import fields
from odoo import models

INVOICE_POSTED = "invoice.posted"


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        """Posted invoices and credit notes (customer and vendor) are announced as ``invoice.posted``: a
        finance system of record (an endpoint marked *System of record sync*) keeps its ledger from them, and
        the sync log tells which version of each invoice it acknowledged."""
        posted = super()._post(soft=soft)
        invoices = posted.filtered(lambda move: move.is_invoice(include_receipts=True))
        if invoices:
            self.env["distribution.outbound.event"]._emit_many(
                INVOICE_POSTED, [(invoice, invoice._distribution_event_data()) for invoice in invoices]
            )
        return posted

    def _distribution_event_data(self):
        """What the outbound invoice events say about an invoice: enough for a ledger to book it."""
        self.ensure_one()
        partner = self.commercial_partner_id
        return {
            "number": self.name,
            "move_type": self.move_type,
            "partner": partner.display_name,
            "partner_ref": partner.ref or None,
            "partner_vat": partner.vat or None,
            "invoice_date": self.invoice_date and fields.Date.to_string(self.invoice_date),
            "due_date": self.invoice_date_due and fields.Date.to_string(self.invoice_date_due),
            "origin": self.invoice_origin or None,
            "currency": self.currency_id.name,
            "amount_untaxed": self.amount_untaxed,
            "amount_tax": self.amount_tax,
            "amount_total": self.amount_total,
            "lines": [
                {
                    "sku": line.product_id.default_code or None,
                    "label": line.name or "",
                    "quantity": line.quantity,
                    "price_unit": line.price_unit,
                    "subtotal": line.price_subtotal,
                    "account": line.account_id.code or None,
                }
                for line in self.invoice_line_ids.filtered(lambda line: line.display_type == "product")
            ],
        }
