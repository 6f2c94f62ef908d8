import requests

from odoo.tests import TransactionCase
from odoo.tests import new_test_user
from odoo.tests.common import _super_send

from .classifier_server import ClassifierServer


class TriageCase(TransactionCase):
    """A company's order desk: customers with contacts and orders, the shipped labels, a classifier server
    on 127.0.0.1 speaking the chat, embeddings and http_json wire formats, and the desk's users."""

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Odoo's test runner raises every timeout under 10 s to 10 s; the providers' timeouts are part of
        # what is tested, and every call goes to 127.0.0.1 anyway.
        host = requests.utils.urlparse(r.url).hostname
        if host in ("127.0.0.1", "localhost"):
            return _super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = ClassifierServer()
        cls.server.start()
        cls.addClassCleanup(cls.server.stop)
        cls.company = cls.env.company
        cls.company.country_id = cls.env.ref("base.be")
        cls.Message = cls.env["distribution.triage.message"]
        cls.Provider = cls.env["distribution.ai.provider"]
        cls.Label = cls.env["distribution.triage.label"]
        # Only the providers and messages of the tests (a demo database has its own; all rolled back).
        cls.Provider.search([]).write({"active": False})
        cls.Message.search([]).unlink()  # a demo database's messages: their calls and reviews are not the tests'
        cls.Message.search([]).unlink()
        cls.env["distribution.ai.call"].search([]).unlink()
        cls.env["distribution.triage.example"].search([("source", "!=", "seed")]).unlink()
        cls.desk = new_test_user(
            cls.env, "triage_desk", groups="distribution_observability.group_distribution_user", name="Desk Agent"
        )
        cls.manager = new_test_user(
            cls.env, "triage_manager", groups="distribution_observability.group_distribution_manager"
        )
        cls.salesman = new_test_user(cls.env, "triage_salesman", groups="sales_team.group_sale_salesman")
        cls.acme = cls.env["res.partner"].create(
            {"name": "Acme Foods", "is_company": True, "email": "orders@acme-foods.example", "user_id": cls.salesman.id}
        )
        cls.anna = cls.env["res.partner"].create(
            {"name": "Anna Peeters", "parent_id": cls.acme.id, "email": "anna.peeters@acme-foods.example"}
        )
        cls.other_customer = cls.env["res.partner"].create(
            {"name": "Bistro Other", "is_company": True, "email": "buyer@bistro-other.example"}
        )
        cls.product = cls.env["product.product"].create({"name": "Olive oil 5 L", "type": "consu", "list_price": 20})
        cls.acme_order = cls._order(cls.acme, "ACME-PO-7781")
        cls.other_order = cls._order(cls.other_customer, "BISTRO-1")
        for code in ("order_status", "shortage_escalation", "delivery_reschedule", "invoice_dispute", "other"):
            setattr(cls, f"label_{code}", cls.env.ref(f"distribution_ai_triage.triage_label_{code}"))

    @classmethod
    def _order(cls, partner, client_ref):
        return cls.env["sale.order"].create(
            {
                "partner_id": partner.id,
                "client_order_ref": client_ref,
                "order_line": [(0, 0, {"product_id": cls.product.id, "product_uom_qty": 4})],
            }
        )

    def _provider(self, kind="openai_chat", **vals):
        defaults = {
            "openai_chat": {"base_url": self.server.api_url, "model": "fake-classifier"},
            "openai_embeddings": {"base_url": self.server.api_url, "model": "hash-embeddings"},
            "http_json": {"base_url": self.server.url + "/classify"},
        }[kind]
        return self.Provider.create(
            {
                "name": f"Test {kind}",
                "kind": kind,
                "timeout": 2,
                **defaults,
                **vals,
                "company_id": vals.get("company_id", self.company.id),
            }
        )

    def _message(self, body, subject="Question", email_from="Anna Peeters <anna.peeters@acme-foods.example>"):
        """A message as the gateway stores it (the mail parsing is tested on its own)."""
        values = self.Message._values_from_mail(
            {"subject": subject, "body": f"<p>{body}</p>", "email_from": email_from, "attachments": []},
            self.company.id,
        )
        return self.Message._triage_create([values])

    def _classify(self):
        return self.Message._cron_classify()
