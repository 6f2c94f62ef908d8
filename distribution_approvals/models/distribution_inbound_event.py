from odoo import models


class DistributionInboundEvent(models.Model):
    """A vendor's lead time announced by a supplier update beyond the tolerance asks for a
    ``lead_time_change`` approval on the vendor, as a learned lead time does."""

    _inherit = "distribution.inbound.event"

    def _distribution_announced_lead_time_beyond(self, vendor, company, beyond, lead_time, exception):
        result = super()._distribution_announced_lead_time_beyond(vendor, company, beyond, lead_time, exception)
        vendor._distribution_ask_announced_lead_time(company, beyond, lead_time, exception, self)
        return result
