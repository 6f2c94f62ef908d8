from odoo import fields
from odoo import models


class DistributionValidationCheck(models.Model):
    _inherit = "distribution.validation.check"

    outcome = fields.Selection(selection_add=[("approval", "Approval")], ondelete={"approval": "set hold"})
