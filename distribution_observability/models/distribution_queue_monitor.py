from datetime import timedelta

from odoo import api
from odoo import fields
from odoo import models
from odoo.exceptions import AccessError
from odoo.exceptions import ValidationError
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

from ..services import domains
from ..services import health

# What a queue counts: only an administrator decides it (see write()); a Distribution Manager tunes the rest.
DEFINITION_FIELDS = ("model_id", "domain", "date_field", "company_id")


class DistributionQueueMonitor(models.Model):
    """A queue of records waiting for someone or something (open exceptions, pending approvals,
    undelivered events ...): its backlog and how old its oldest item is, against thresholds.

    The figures are aggregates counted with the system's rights (a warehouse lead watches orders on
    hold without reading them), so what a queue counts (model, domain, date field, company) is an
    administrator's decision: a Distribution Manager who is not one may tune thresholds, owner and
    name but never point a monitor at another model or domain (that would be a count oracle across
    access rights). The count is always limited to the companies of the viewer, and to the monitor's
    company when it has one."""

    _name = "distribution.queue.monitor"
    _description = "Monitored Queue"
    _order = "sequence, name"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True)
    sequence = fields.Integer(default=10)
    model_id = fields.Many2one("ir.model", required=True, ondelete="cascade")
    model_name = fields.Char(related="model_id.model", string="Model Name", store=True)
    domain = fields.Char(default="[]", required=True, help="Records of the model that are in the queue.")
    date_field = fields.Char(
        required=True, default="create_date", help="Datetime field of the model that dates an item: its age."
    )
    owner_id = fields.Many2one("res.users", help="Notified when the queue trips an alert.")
    backlog_warning = fields.Integer(help="Warning at this many items (0: no threshold).")
    backlog_critical = fields.Integer(help="Critical at this many items (0: no threshold).")
    age_warning_hours = fields.Float("Oldest Age Warning (h)", help="Warning when the oldest item is this old.")
    age_critical_hours = fields.Float("Oldest Age Critical (h)", help="Critical when the oldest item is this old.")
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        index=True,
        help="Counted in this company only. Empty: a shared definition, counted in each viewer's own companies.",
    )

    backlog = fields.Integer(compute="_compute_figures")
    oldest_age_hours = fields.Float("Oldest Age (h)", compute="_compute_figures")
    bucket_lt_1h = fields.Integer("< 1 h", compute="_compute_figures")
    bucket_1_4h = fields.Integer("1-4 h", compute="_compute_figures")
    bucket_4_24h = fields.Integer("4-24 h", compute="_compute_figures")
    bucket_gt_24h = fields.Integer("> 24 h", compute="_compute_figures")
    level = fields.Selection(
        [("ok", "OK"), ("warning", "Warning"), ("critical", "Critical")], compute="_compute_figures"
    )

    _sql_constraints = [("code_unique", "unique(code)", "A queue code must be unique.")]

    @api.constrains("model_id", "domain", "date_field")
    def _check_definition(self):
        for monitor in self:
            model = self.env[monitor.model_name]
            field = model._fields.get(monitor.date_field)
            if not field or field.type not in ("datetime", "date"):
                raise ValidationError(
                    self.env._(
                        "%(field)s is not a date or datetime field of %(model)s: choose the field that dates an item.",
                        field=monitor.date_field,
                        model=monitor.model_name,
                    )
                )
            try:
                model._search(monitor._get_domain())
            except Exception as exc:
                raise ValidationError(
                    self.env._("The domain of queue %(name)s is not valid: %(error)s", name=monitor.name, error=exc)
                ) from exc

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_definition_rights(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._check_definition_rights(vals)
        return super().write(vals)

    @api.model
    def _check_definition_rights(self, vals):
        """Refuse a change of what a queue counts from anyone but an administrator (server side: the
        ACL lets Distribution Managers write monitors, and readonly in a view is no protection)."""
        changed = sorted(name for name in vals if name in DEFINITION_FIELDS)
        if changed and not self.env.is_system():
            raise AccessError(
                self.env._(
                    "Only an administrator may set what a queue counts (%(fields)s): its figures are counted "
                    "with the system's rights. Ask an administrator, or change the thresholds and the owner only.",
                    fields=", ".join(changed),
                )
            )

    def _get_domain(self):
        """The queue's domain, evaluated with ``uid``, ``context_today()``, ``relativedelta``, ``now`` (UTC)
        and ``timedelta``, so that a queue may count what is overdue (``[('deadline', '<', now)]``) or recent
        (``[('create_date', '>=', now - timedelta(hours=1))]``)."""
        return safe_eval(
            self.domain or "[]",
            domains.eval_context(
                self.env.uid,
                self.env.context.get("tz") or self.env.user.tz,
                now=fields.Datetime.now(),
                timedelta=timedelta,
            ),
        )

    def _figures(self):
        """Backlog, oldest item date and cumulative counts of items newer than 1/4/24 hours,
        in one grouped SQL query, over the companies of the context."""
        self.ensure_one()
        # sudo: a queue's figures are aggregates a Distribution user monitors even on models they may not
        # read (a warehouse lead watching orders on hold); the definition is an administrator's (see
        # _check_definition_rights), the records themselves stay protected, and the figures are limited to
        # the viewer's companies (and the monitor's company) below.
        model = self.env[self.model_name].sudo()
        domain = self._get_domain()
        companies = self._counted_companies()
        if not companies:
            domain = [("id", "=", 0)]  # a monitor of a company the viewer does not work in counts nothing
        elif "company_id" in model._fields:
            domain = [*domain, ("company_id", "in", [False, *companies.ids])]
        now = fields.Datetime.now()
        query = model._search(domain)
        column = model._field_to_sql(model._table, self.date_field, query)
        # Raw SQL on the ORM's query: count and bucket in a single pass (pending writes flushed first).
        self.env.flush_all()
        sql = query.select(
            SQL("count(*)"),
            SQL("min(%s)", column),
            SQL("count(*) FILTER (WHERE %s >= %s)", column, now - timedelta(hours=1)),
            SQL("count(*) FILTER (WHERE %s >= %s)", column, now - timedelta(hours=4)),
            SQL("count(*) FILTER (WHERE %s >= %s)", column, now - timedelta(hours=24)),
        )
        self.env.cr.execute(sql)
        total, oldest, in_1h, in_4h, in_24h = self.env.cr.fetchone()
        if oldest is not None and not hasattr(oldest, "hour"):
            oldest = fields.Datetime.to_datetime(oldest)
        age = (now - oldest).total_seconds() / 3600.0 if oldest else 0.0
        return {
            "backlog": total,
            "oldest": oldest,
            "oldest_age_hours": round(max(age, 0.0), 2),
            "buckets": health.age_buckets(total, in_1h, in_4h, in_24h),
        }

    def _counted_companies(self):
        """The companies whose records the queue counts: the viewer's, narrowed to the monitor's own."""
        self.ensure_one()
        companies = self.env.companies
        return companies & self.company_id if self.company_id else companies

    def _level_of(self, figures):
        return health.worst(
            [
                health.level(figures["backlog"], self.backlog_warning, self.backlog_critical),
                health.level(
                    figures["oldest_age_hours"] if figures["backlog"] else None,
                    self.age_warning_hours,
                    self.age_critical_hours,
                ),
            ]
        )

    @api.depends_context("uid", "allowed_company_ids")
    def _compute_figures(self):
        for monitor in self:
            if not monitor.model_id or monitor.model_name not in self.env:
                monitor.update(
                    dict.fromkeys(
                        ["backlog", "oldest_age_hours", "bucket_lt_1h", "bucket_1_4h", "bucket_4_24h", "bucket_gt_24h"],
                        0,
                    )
                    | {"level": "ok"}
                )
                continue
            figures = monitor._figures()
            buckets = figures["buckets"]
            monitor.backlog = figures["backlog"]
            monitor.oldest_age_hours = figures["oldest_age_hours"]
            monitor.bucket_lt_1h = buckets["lt_1h"]
            monitor.bucket_1_4h = buckets["h1_4"]
            monitor.bucket_4_24h = buckets["h4_24"]
            monitor.bucket_gt_24h = buckets["gt_24h"]
            monitor.level = monitor._level_of(figures)

    def _summary(self):
        """Figures of every monitor, for the dashboard, the health check and the metrics."""
        result = []
        for monitor in self:
            figures = monitor._figures()
            result.append(
                {
                    "id": monitor.id,
                    "code": monitor.code,
                    "name": monitor.name,
                    "model": monitor.model_name,
                    "backlog": figures["backlog"],
                    "oldest_age_hours": figures["oldest_age_hours"],
                    "buckets": figures["buckets"],
                    "level": monitor._level_of(figures),
                }
            )
        return result

    @api.readonly
    def action_open_items(self):
        """The records of the queue, oldest first."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.name,
            "res_model": self.model_name,
            "view_mode": "list,form",
            "views": [(False, "list"), (False, "form")],
            "domain": self._get_domain(),
            "context": {"create": False},
        }
