"""The channel order normaliser (n8n/workflows/channel-order-normaliser.json): a Shopify-style or WooCommerce-style
order webhook becomes a signed ``channel_order`` event that Odoo's schema accepts. Its Code node's JavaScript is run
with Node, against the contract's vectors (see test_n8n_templates.py) and here against sample shop orders."""

import base64
import hashlib
import hmac
import json

from .services import load_service
from .test_n8n_templates import assert_signed_request
from .test_n8n_templates import glue_runner
from .test_n8n_templates import library
from .test_n8n_templates import needs_node
from .test_n8n_templates import run_node

FILE = "channel-order-normaliser.json"
inbound = load_service("distribution_orchestration", "inbound")

SHOPIFY = {
    "id": 820982911946154508,
    "name": "#1001",
    "email": "Buyer@Key-Account.example",
    "note": "Leave at the dock.",
    "note_attributes": [
        {"name": "delivery_date", "value": "2026-12-20"},
        {"name": "vat_number", "value": "BE0477472701"},
    ],
    "customer": {"id": 115310627314723954, "email": "buyer@key-account.example"},
    "shipping_address": {
        "first_name": "Kim",
        "last_name": "Peeters",
        "address1": "1 Dock Road",
        "address2": "",
        "zip": "1000",
        "city": "Brussels",
        "country_code": "be",
        "phone": None,
    },
    "line_items": [
        {"sku": "SHOP-WID-RED", "quantity": 2, "price": "98.00"},
        {"sku": "4006381333931", "quantity": 1, "price": "50.00"},
    ],
}
WOOCOMMERCE = {
    "id": 727,
    "number": "727",
    "customer_note": "",
    "billing": {"email": "buyer@key-account.example", "phone": "+32 2 555 00 00"},
    "shipping": {
        "first_name": "Kim",
        "last_name": "Peeters",
        "company": "Key Account Warehouse",
        "address_1": "1 Dock Road",
        "address_2": "Gate 4",
        "postcode": "1000",
        "city": "Brussels",
        "country": "BE",
    },
    "meta_data": [{"id": 1, "key": "_delivery_date", "value": "2026-12-22T00:00:00"}],
    "line_items": [{"sku": "WID", "quantity": 3, "price": 99.5}],
}


def _sign_shop(secret, raw):
    return base64.b64encode(hmac.new(secret.encode(), raw.encode(), hashlib.sha256).digest()).decode()


@needs_node
def test_shop_orders_normalise_into_the_documented_payload(tmp_path):
    script = (
        library(FILE, ["normaliseChannelOrder", "verifyShopSignature"])
        + f"""
const shopify = lib.normaliseChannelOrder({{ 'X-Shopify-Topic': 'orders/create' }}, {json.dumps(SHOPIFY)}, 'shop');
const woo = lib.normaliseChannelOrder({{ 'x-wc-webhook-topic': 'order.created' }}, {json.dumps(WOOCOMMERCE)}, 'woo');
const broken = lib.normaliseChannelOrder({{}}, {{ line_items: [{{ quantity: 1 }}] }}, 'shop');
const other = lib.normaliseChannelOrder({{}}, {{ webhook_id: 3 }}, 'shop');
const raw = '{{"id":1}}';
console.log(JSON.stringify({{ shopify, woo, broken, other, signatures: [
  lib.verifyShopSignature('shh', raw, {json.dumps(_sign_shop("shh", '{"id":1}'))}),
  lib.verifyShopSignature('shh', raw + ' ', {json.dumps(_sign_shop("shh", '{"id":1}'))}),
  lib.verifyShopSignature('other', raw, {json.dumps(_sign_shop("shh", '{"id":1}'))}),
  lib.verifyShopSignature('shh', raw, ''),
] }}));
"""
    )
    result = run_node(tmp_path, script)
    assert result["shopify"]["problems"] == []
    assert result["shopify"]["data"] == {
        "channel": "shop",
        "order_ref": "#1001",
        "customer": {"email": "buyer@key-account.example", "vat": "BE0477472701"},
        "delivery_address": {
            "name": "Kim Peeters",
            "street": "1 Dock Road",
            "zip": "1000",
            "city": "Brussels",
            "country_code": "BE",
        },
        "lines": [
            {"sku": "SHOP-WID-RED", "quantity": 2, "price": 98},
            {"sku": "4006381333931", "quantity": 1, "price": 50},
        ],
        "requested_date": "2026-12-20",
        "notes": "Leave at the dock.",
    }
    assert result["woo"]["platform"] == "woocommerce"
    assert result["woo"]["data"] == {
        "channel": "woo",
        "order_ref": "727",
        "customer": {"email": "buyer@key-account.example"},
        "delivery_address": {
            "name": "Key Account Warehouse",
            "street": "1 Dock Road",
            "street2": "Gate 4",
            "zip": "1000",
            "city": "Brussels",
            "country_code": "BE",
            "phone": "+32 2 555 00 00",
        },
        "lines": [{"sku": "WID", "quantity": 3, "price": 99.5}],
        "requested_date": "2026-12-22",
    }
    # What Odoo's inbox accepts: its own schema validates both payloads.
    for data in (result["shopify"]["data"], result["woo"]["data"]):
        body = {"event_id": "e1", "type": "channel_order", "occurred_at": "2026-11-30T10:00:00Z", "data": data}
        assert inbound.validate("channel_order", body, event_id="e1") == []
    assert result["broken"]["problems"] == ["no order reference", "no customer e-mail or VAT number", "line 1: no SKU"]
    assert result["other"]["problems"] == ["not a Shopify or WooCommerce order"]
    assert result["signatures"] == [True, False, False, False]


@needs_node
def test_code_node_with_n8n_stand_ins_signs_for_odoo(tmp_path):
    raw = json.dumps(SHOPIFY)
    shop_secret = "shop-hook-secret"

    def item(body, signature):
        return {
            "json": {"headers": {"x-shopify-topic": "orders/create", "x-shopify-hmac-sha256": signature}, "body": body},
            "binary": {"data": {"data": base64.b64encode(body_raw(body).encode()).decode()}},
        }

    def body_raw(body):
        return raw if body is SHOPIFY else json.dumps(body)

    env = {
        "ODOO_CHANNEL_SECRET": "chännel-secret",
        "ODOO_BASE_URL": "http://odoo:8069/",
        "CHANNEL_CODE": "shop-eu",
        "SHOP_WEBHOOK_SECRET": shop_secret,
    }
    good = item(SHOPIFY, _sign_shop(shop_secret, raw))
    forged = item(SHOPIFY, _sign_shop("guess", raw))
    ping = {"json": {"headers": {}, "body": {"webhook_id": 4}}}
    unsigned_env = {key: value for key, value in env.items() if key != "SHOP_WEBHOOK_SECRET"}
    script = (
        glue_runner(FILE)
        + f"""
(async () => {{
  const out = await runCodeNode({json.dumps([good])}, {json.dumps(env)}, {{}});
  const pinged = await runCodeNode({json.dumps([ping])}, {json.dumps(unsigned_env)}, {{}});
  const errors = [];
  for (const [items, env] of [[{json.dumps([forged])}, {json.dumps(env)}], [{json.dumps([good])}, {{}}]]) {{
    try {{ await runCodeNode(items, env, {{}}); errors.push(''); }} catch (e) {{ errors.push(e.message); }}
  }}
  console.log(JSON.stringify({{ out, pinged, errors }}));
}})();
"""
    )
    result = run_node(tmp_path, script)
    (signed,) = result["out"]
    envelope = assert_signed_request(
        signed["json"],
        env["ODOO_CHANNEL_SECRET"],
        "http://odoo:8069/distribution/webhook/channel-orders",
        "channel_order",
    )
    assert envelope["data"]["channel"] == "shop-eu"
    assert envelope["data"]["order_ref"] == "#1001"
    assert result["pinged"] == []
    assert "signature does not match" in result["errors"][0]
    assert "ODOO_CHANNEL_SECRET" in result["errors"][1]
