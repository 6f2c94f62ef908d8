import base64

from odoo import fields
from odoo import models
from odoo.exceptions import UserError

from ..services import audit


class DistributionAuditVerifyWizard(models.TransientModel):
    """Verify the audit trail against heads anchored outside the database: the operator pastes head lines
    (from the head file or the ``audit.head`` events a receiver kept) or uploads the head file; the newest
    line of each company is checked: its signature, then the chain must still hold the anchored hash at
    the anchored position (a chain rewritten or cut since then is named)."""

    _name = "distribution.audit.verify.wizard"
    _description = "Verify the Audit Trail Against an Anchored Head"

    head_lines = fields.Text("Anchored Head", help="One or more lines of the head file (or audit.head event data).")
    head_file = fields.Binary(attachment=False)
    head_file_name = fields.Char()

    def _heads(self):
        """The newest anchored head of each company given, parsed: {company_id: head}."""
        self.ensure_one()
        text = self.head_lines or ""
        if self.head_file:
            text += "\n" + base64.b64decode(self.head_file).decode("utf-8", errors="replace")
        heads = {}
        for line in text.splitlines():
            head = audit.parse_head(line.strip()) if line.strip() else None
            if head and head["sequence"] >= heads.get(head["company_id"], {}).get("sequence", -1):
                heads[head["company_id"]] = head
        return heads

    def action_verify(self):
        """Verify each company's chain against its anchored head and tell the result."""
        self.ensure_one()
        Audit = self.env["distribution.audit.entry"]
        Audit.check_access("read")
        heads = self._heads()
        if not heads:
            raise UserError(self.env._("Paste at least one anchored head line (or upload the head file)."))
        results = [Audit._verify_anchor(head) for head in heads.values()]
        return Audit._verification_notification(results)
