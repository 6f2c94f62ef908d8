from odoo import api
from odoo import fields
from odoo import models

SEVERITIES = [("low", "Low"), ("medium", "Medium"), ("high", "High"), ("critical", "Critical")]


class DistributionException(models.Model):
    """The triage's suggestion on a new exception: a label, a severity and an owner, shown beside the
    exception's own. A person applies it or not: the triage never changes the exception itself."""

    _inherit = "distribution.exception"

    triage_label_id = fields.Many2one("distribution.triage.label", "Suggested Label", readonly=True)
    triage_severity = fields.Selection(SEVERITIES, "Suggested Severity", readonly=True)
    triage_user_id = fields.Many2one("res.users", "Suggested Owner", readonly=True)
    triage_confidence = fields.Float("Suggestion Confidence", readonly=True)

    @api.model
    def _distribution_guarded_fields(self):
        # The suggestion is the triage's: written only inside the exception's system verb.
        guarded = dict.fromkeys(
            ("triage_label_id", "triage_severity", "triage_user_id", "triage_confidence"), "distribution_exception"
        )
        return dict(super()._distribution_guarded_fields(), **guarded)

    def _distribution_triage_queue(self):
        """Queue a triage of these exceptions (the shipped automation rule 'exception created')."""
        # sudo: the triage queue is the system's; the exception's creator need not see it.
        return self.env["distribution.triage.message"].sudo()._triage_records(self)

    def _distribution_triage_text(self):
        """What the triage reads of an exception: its message (what is wrong, in plain words)."""
        self.ensure_one()
        return self.message or self.name

    def _distribution_triage_suggest(self, message, label):
        """Store the triage's suggestion for this exception and say it in the chatter."""
        self.ensure_one()
        owner, _team = message._owner_for(label)
        self._write_as_system(
            {
                "triage_label_id": label.id,
                "triage_severity": label.exception_severity or False,
                "triage_user_id": owner.id or False,
                "triage_confidence": message.confidence,
            }
        )
        self.message_post(
            body=self.env._(
                "Triage suggests %(label)s, severity %(severity)s, owner %(owner)s (confidence %(confidence)s).",
                label=label.name,
                severity=dict(SEVERITIES).get(label.exception_severity, "-"),
                owner=owner.name or "-",
                confidence=round(message.confidence, 2),
            ),
            subtype_xmlid="mail.mt_note",
        )

    def action_apply_triage_suggestion(self):
        """Apply the suggested severity and owner (a person's choice)."""
        for exception in self:
            vals = {}
            if exception.triage_severity:
                vals["severity"] = exception.triage_severity
            if exception.triage_user_id and not exception.user_id:
                vals["user_id"] = exception.triage_user_id.id
            if vals:
                exception.write(vals)
        return True
