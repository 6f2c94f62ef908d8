import json
import logging
from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import ValidationError
from odoo.tools import file_open

from ..services import classify
from ..services import policy

_logger = logging.getLogger(__name__)
SEED_FILE = "distribution_ai_triage/data/triage_seed.json"


class DistributionTriageLabel(models.Model):
    """What an inbound message is about, and what the desk does with it: who owns it, the activity
    scheduled, the exception raised, and how sure the classifier must be to route it by itself."""

    _name = "distribution.triage.label"
    _description = "Triage Label"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True, help="The label's code, as the classifiers answer it.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    description = fields.Text(
        required=True,
        help="What the label covers and what it does not, written for the classifier: the chat provider "
        "reads it in its prompt.",
    )
    user_id = fields.Many2one("res.users", "Owner", help="Gets the messages routed to this label.")
    group_id = fields.Many2one("res.groups", "Team", help="Whose members work these messages (when no owner).")
    activity_type_id = fields.Many2one("mail.activity.type", help="Scheduled for the owner of a routed message.")
    activity_deadline_days = fields.Integer("Activity Deadline (days)", default=1)
    exception_category = fields.Selection(
        selection="_selection_exception_category",
        help="A routed message of this label raises an exception of this category in the exception queue.",
    )
    exception_severity = fields.Selection(
        [("low", "Low"), ("medium", "Medium"), ("high", "High"), ("critical", "Critical")],
        default="medium",
        help="The severity of the exception raised, and the severity suggested for an exception of this label.",
    )
    auto_route = fields.Boolean(
        "Route Automatically", default=True, help="Messages of this label are routed without a person when sure."
    )
    threshold = fields.Float(
        "Confidence Threshold",
        default=0.75,
        help="From 0 to 1: a suggestion at or above it is routed by itself; below, it waits in Needs review.",
    )
    sensitive = fields.Boolean(
        help="When two classifiers disagree and one of them says this label, a person decides.",
    )
    owner_only = fields.Boolean(
        help="Routed only to the label's own owner or team, never to the customer's salesperson.",
    )
    reply_template_id = fields.Many2one(
        "mail.template",
        domain="[('model', '=', 'distribution.triage.message')]",
        help="The reply drafted for a message of this label, from its linked order (a person sends it).",
    )
    example_ids = fields.One2many("distribution.triage.example", "label_id", "Examples")
    rule_ids = fields.One2many("distribution.triage.rule", "label_id", "Rules")
    example_count = fields.Integer(compute="_compute_example_count")
    agreement_rate_7d = fields.Float(
        "Agreement (7 days, %)", compute="_compute_agreement", help="Suggestions accepted / reviewed."
    )
    agreement_rate_30d = fields.Float("Agreement (30 days, %)", compute="_compute_agreement")
    reviewed_30d = fields.Integer("Reviewed (30 days)", compute="_compute_agreement")
    company_id = fields.Many2one(
        "res.company", help="Empty: shared by every company. A company's own label of the same code wins."
    )

    _sql_constraints = [
        ("code_company_uniq", "unique (code, company_id)", "A label code is used once per company."),
        ("threshold_range", "CHECK (threshold >= 0 AND threshold <= 1)", "The threshold is between 0 and 1."),
    ]

    @api.model
    def _selection_exception_category(self):
        # The categories the exception queue knows, read from the field (another addon may add some).
        return self.env["distribution.exception"]._fields["category"]._description_selection(self.env)

    def _compute_example_count(self):
        counts = dict(
            self.env["distribution.triage.example"]._read_group(
                [("label_id", "in", self.ids)], ["label_id"], ["__count"]
            )
        )
        for label in self:
            label.example_count = counts.get(label, 0)

    def _compute_agreement(self):
        Message = self.env["distribution.triage.message"]
        now = fields.Datetime.now()
        figures = {}
        for days in (7, 30):
            groups = Message._read_group(
                [("suggested_label_id", "in", self.ids), ("reviewed_at", ">=", now - timedelta(days=days))],
                ["suggested_label_id", "review_outcome"],
                ["__count"],
            )
            for label, outcome, count in groups:
                figures.setdefault((label.id, days), {}).setdefault(outcome, 0)
                figures[(label.id, days)][outcome] += count
        for label in self:
            for days in (7, 30):
                row = figures.get((label.id, days), {})
                reviewed = sum(row.values())
                rate = policy.agreement_rate(row.get("accepted", 0), reviewed)
                setattr(label, f"agreement_rate_{days}d", rate or 0.0)
                if days == 30:
                    label.reviewed_30d = reviewed

    @api.constrains("code")
    def _check_code(self):
        for label in self:
            if not label.code or not label.code.replace("_", "").isalnum() or label.code != label.code.lower():
                raise ValidationError(
                    self.env._("The label code %s must be lower-case letters, digits and underscores.", label.code)
                )

    @api.model
    def _labels_for(self, company):
        """The active labels that apply to ``company``: its own, and the shared ones whose code it has not
        redefined, in their order."""
        labels = self.search([("company_id", "in", (False, company.id))])
        own = {label.code for label in labels if label.company_id}
        return labels.filtered(lambda label: label.company_id or label.code not in own)

    def _rules_map(self):
        """``{code: [(pattern, weight, is_regex)]}`` of these labels' active rules, for classify.rules_classify."""
        return {
            label.code: [(rule.pattern, rule.weight, rule.is_regex) for rule in label.rule_ids if rule.active]
            for label in self
        }

    def _pairs(self):
        """``[(code, description)]``: what the classifiers are told of these labels."""
        return [(label.code, label.description or label.name) for label in self]

    def action_open_examples(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Examples of %s", self.name),
            "res_model": "distribution.triage.example",
            "view_mode": "list,form",
            "domain": [("label_id", "=", self.id)],
            "context": {"default_label_id": self.id},
        }

    @api.model
    def _load_seed(self):
        """Shipped examples and rules of the shipped labels, from data/triage_seed.json (called once at
        install by the data file; a label that already has examples or rules is left as it is)."""
        with file_open(SEED_FILE) as handle:
            seed = json.load(handle)
        for entry in seed["labels"]:
            label = self.env.ref(f"distribution_ai_triage.triage_label_{entry['code']}", raise_if_not_found=False)
            if not label:
                continue
            if not label.example_ids:
                self.env["distribution.triage.example"].create(
                    [{"label_id": label.id, "text": text, "source": "seed"} for text in entry.get("examples", [])]
                )
            if not label.rule_ids:
                self.env["distribution.triage.rule"].create(
                    [
                        {
                            "label_id": label.id,
                            "pattern": rule["pattern"],
                            "weight": rule.get("weight", 1),
                            "is_regex": bool(rule.get("regex")),
                        }
                        for rule in entry.get("rules", [])
                    ]
                )


class DistributionTriageExample(models.Model):
    """A labelled sentence the embeddings classifier compares messages with: a shipped seed, or a message a
    person labelled (a correction or an accepted suggestion). Its embeddings are cached per model."""

    _name = "distribution.triage.example"
    _description = "Triage Example"
    _order = "label_id, id"
    _rec_name = "text"

    label_id = fields.Many2one("distribution.triage.label", required=True, ondelete="cascade", index=True)
    text = fields.Text(required=True, help="Redacted text: no address, phone, IBAN nor name.")
    source = fields.Selection(
        [("seed", "Shipped"), ("correction", "Correction"), ("accepted", "Accepted"), ("manual", "Written")],
        required=True,
        default="manual",
    )
    message_id = fields.Many2one("distribution.triage.message", "From Message", ondelete="set null", index=True)
    user_id = fields.Many2one("res.users", "Labelled By", default=lambda self: self.env.user)
    active = fields.Boolean(default=True)
    embedding_cache = fields.Json(
        copy=False, help="{model key: vector}, filled by the embeddings providers; recomputed for a new model."
    )
    company_id = fields.Many2one(
        "res.company", index=True, help="Empty for shipped examples; a correction belongs to its message's company."
    )

    def write(self, vals):
        if "text" in vals:
            vals = dict(vals, embedding_cache=False)  # a new text needs new vectors
        return super().write(vals)


class DistributionTriageRule(models.Model):
    """A keyword or a regular expression that points at a label, with a weight (negative: points away)."""

    _name = "distribution.triage.rule"
    _description = "Triage Rule"
    _order = "label_id, weight desc, id"
    _rec_name = "pattern"

    label_id = fields.Many2one("distribution.triage.label", required=True, ondelete="cascade", index=True)
    pattern = fields.Char(
        required=True, help="Words matched whole, ignoring case and accents; or a regular expression."
    )
    is_regex = fields.Boolean("Regular Expression")
    weight = fields.Float(default=1.0)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(related="label_id.company_id", store=True)

    @api.constrains("pattern", "is_regex")
    def _check_pattern(self):
        for rule in self:
            error = classify.rule_error(rule.pattern, rule.is_regex)
            if error:
                raise ValidationError(
                    self.env._("The rule %(pattern)s is invalid: %(error)s", pattern=rule.pattern, error=error)
                )
