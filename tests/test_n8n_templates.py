"""The n8n templates of n8n/workflows: workflow structure, and their Code nodes' JavaScript run with Node.

The JavaScript of each Code node starts with pure functions (signing, verifying, normalising) and ends, after the
marker ``// ---- n8n ----``, with the glue that uses n8n's globals ($input, $env...). The pure part is checked against
the contract's test vectors; the whole code is also run with stand-ins for n8n's globals.
"""

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
import requests

from .conftest import ROOT
from .odoo_process import free_port
from .odoo_process import stop_process
from .odoo_process import wait_until_up

WORKFLOWS = ROOT / "n8n" / "workflows"
MARKER = "// ---- n8n ----"
VECTORS = json.loads((ROOT / "tests" / "contract" / "signature-vectors.json").read_text())["vectors"]
SIGNATURE_HEADERS = (
    "X-Distribution-Event",
    "X-Distribution-Event-Id",
    "X-Distribution-Timestamp",
    "X-Distribution-Signature",
)
EXPECTED_TYPES = {
    "odoo-events-router.json": [
        {"n8n-nodes-base.webhook"},
        {"n8n-nodes-base.code"},
        {"n8n-nodes-base.switch"},
        {"n8n-nodes-base.respondToWebhook"},
        {"n8n-nodes-base.emailSend"},
        {"n8n-nodes-base.slack", "n8n-nodes-base.mattermost"},
    ],
    "carrier-status-poller.json": [
        {"n8n-nodes-base.scheduleTrigger"},
        {"n8n-nodes-base.httpRequest"},
        {"n8n-nodes-base.code"},
    ],
    "supplier-update-normaliser.json": [
        {"n8n-nodes-base.emailReadImap", "n8n-nodes-base.webhook"},
        {"n8n-nodes-base.code"},
        {"n8n-nodes-base.httpRequest"},
    ],
    "channel-order-normaliser.json": [
        {"n8n-nodes-base.webhook"},
        {"n8n-nodes-base.code"},
        {"n8n-nodes-base.httpRequest"},
    ],
}
OUTBOUND = ("carrier-status-poller.json", "supplier-update-normaliser.json", "channel-order-normaliser.json")
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(
    NODE is None, reason="Node.js (`node`) is not on PATH: the Code nodes' JavaScript " "cannot be run"
)


def workflow(filename):
    return json.loads((WORKFLOWS / filename).read_text())


def nodes_of_type(wf, node_type):
    return [n for n in wf["nodes"] if n["type"] == node_type]


def code_node(filename):
    (node,) = nodes_of_type(workflow(filename), "n8n-nodes-base.code")
    return node


def pure_part(js):
    assert MARKER in js, f"the Code node has no {MARKER!r} marker between its pure functions and the n8n glue"
    return js.split(MARKER, 1)[0]


def run_node(tmp_path, script, name="harness.js"):
    path = tmp_path / name
    path.write_text(script)
    result = subprocess.run([NODE, str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def library(filename, exported):
    """JavaScript defining `lib` with the exported pure functions of the template's Code node."""
    pure = pure_part(code_node(filename)["parameters"]["jsCode"])
    return f"const lib = (function () {{\n{pure}\nreturn {{ {', '.join(exported)} }};\n}})();\n"


def glue_runner(filename):
    """JavaScript defining `runCodeNode(items, env, staticData, nowMs)`: the whole Code node with n8n stand-ins."""
    return glue_runner_of(code_node(filename)["parameters"]["jsCode"])


def glue_runner_of(js):
    """`glue_runner` of a Code node's JavaScript ``js`` (a template with several Code nodes names its own)."""
    return f"""
const AsyncFunction = Object.getPrototypeOf(async function () {{}}).constructor;
const CODE = {json.dumps(js)};
async function runCodeNode(items, env, staticData, nowMs) {{
  const realNow = Date.now;
  if (nowMs) {{ Date.now = () => nowMs; }}
  try {{
    const context = {{ helpers: {{ getBinaryDataBuffer: async (index, property) => {{
      const binary = items[index].binary && items[index].binary[property];
      if (!binary) {{ throw new Error('no binary property ' + property); }}
      return Buffer.from(binary.data, 'base64');
    }} }} }};
    const fn = new AsyncFunction('$input', '$env', '$getWorkflowStaticData', 'require', CODE);
    return await fn.call(context, {{ all: () => items }}, env, () => staticData, require);
  }} finally {{
    Date.now = realNow;
  }}
}}
"""


def hmac_header(secret, timestamp, body):
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body.encode(), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


# ---------------------------------------------------------------- structure


@pytest.mark.parametrize("filename", sorted(EXPECTED_TYPES))
def test_template_structure(filename):
    wf = workflow(filename)
    assert {"name", "nodes", "connections", "settings", "active"} <= set(wf)
    assert wf["active"] is False
    names = [n["name"] for n in wf["nodes"]]
    ids = [n["id"] for n in wf["nodes"]]
    assert len(set(names)) == len(names), "node names must be unique"
    assert len(set(ids)) == len(ids), "node ids must be unique"
    for node in wf["nodes"]:
        assert {"id", "name", "type", "typeVersion", "position", "parameters"} <= set(node), node["name"]
        assert node["type"].startswith("n8n-nodes-base."), node["type"]
        assert isinstance(node["typeVersion"], int | float)
        assert len(node["position"]) == 2
        uuid.UUID(node["id"])
    for source, outputs in wf["connections"].items():
        assert source in names, f"connection from unknown node {source!r}"
        for branches in outputs.values():
            for branch in branches:
                for target in branch:
                    assert target["node"] in names, f"connection to unknown node {target['node']!r}"
    types = {n["type"] for n in wf["nodes"]}
    for alternatives in EXPECTED_TYPES[filename]:
        assert types & alternatives, f"{filename} lacks a node of type {sorted(alternatives)}"
    connected = set(wf["connections"]) | {
        t["node"] for o in wf["connections"].values() for b in o.values() for br in b for t in br
    }
    assert connected == set(names), f"unconnected nodes: {set(names) - connected}"
    for node in nodes_of_type(wf, "n8n-nodes-base.code"):
        assert node["parameters"]["mode"] in ("runOnceForAllItems", "runOnceForEachItem")
        assert MARKER in node["parameters"]["jsCode"]


def test_router_webhook_answers_through_respond_nodes():
    wf = workflow("odoo-events-router.json")
    (hook,) = nodes_of_type(wf, "n8n-nodes-base.webhook")
    assert hook["parameters"]["httpMethod"] == "POST"
    assert hook["parameters"]["responseMode"] == "responseNode"
    assert hook["parameters"]["options"]["rawBody"] is True
    responders = nodes_of_type(wf, "n8n-nodes-base.respondToWebhook")
    codes = sorted(n["parameters"]["options"]["responseCode"] for n in responders)
    assert codes == [200, 401]
    js = code_node("odoo-events-router.json")["parameters"]["jsCode"]
    assert "$env.DISTRIBUTION_WEBHOOK_SECRET" in js
    assert "crypto.timingSafeEqual" in js
    assert "crypto.createHmac('sha256'" in js
    # the switch routes to the e-mail node and to the chat node
    switch = nodes_of_type(wf, "n8n-nodes-base.switch")[0]["name"]
    targets = {t["node"] for b in wf["connections"][switch]["main"] for t in b}
    by_name = {n["name"]: n["type"] for n in wf["nodes"]}
    assert {by_name[t] for t in targets} >= {"n8n-nodes-base.emailSend", "n8n-nodes-base.slack"}


@pytest.mark.parametrize("filename", OUTBOUND)
def test_outbound_body_is_serialised_once_and_sent_as_signed(filename):
    wf = workflow(filename)
    js = code_node(filename)["parameters"]["jsCode"]
    # one serialisation, in buildEnvelope, and the signature is computed over that very string
    assert js.count("JSON.stringify(") == 1
    assert "function buildEnvelope(" in js
    assert "const body = buildEnvelope(" in js
    assert "signedRequest(options.secret, options.type, eventId, timestamp, body)" in js
    assert "signEvent(secret, timestamp, rawBody)" in js
    assert "body: rawBody" in js
    assert "crypto.randomUUID()" in js
    post = next(n for n in nodes_of_type(wf, "n8n-nodes-base.httpRequest") if n["parameters"].get("method") == "POST")
    params = post["parameters"]
    assert params["sendBody"] is True
    assert params["contentType"] == "raw", "the body must be a raw string, not JSON re-serialised by n8n"
    assert params["rawContentType"] == "application/json"
    assert params["body"] == "={{ $json.body }}"
    assert params["sendHeaders"] is True
    headers = {h["name"]: h["value"] for h in params["headerParameters"]["parameters"]}
    assert headers == {h: f"={{{{ $json.headers['{h}'] }}}}" for h in SIGNATURE_HEADERS}
    assert params["url"] == "={{ $json.url }}"


def test_carrier_poller_polls_the_configured_carrier_api():
    wf = workflow("carrier-status-poller.json")
    get = next(n for n in nodes_of_type(wf, "n8n-nodes-base.httpRequest") if n["parameters"]["method"] == "GET")
    assert "$env.CARRIER_API_URL" in get["parameters"]["url"]


# ---------------------------------------------------------------- JavaScript run with Node


@needs_node
@pytest.mark.parametrize("filename", sorted(EXPECTED_TYPES))
def test_code_node_javascript_parses(tmp_path, filename):
    js = code_node(filename)["parameters"]["jsCode"]
    path = tmp_path / "wrapped.js"
    path.write_text(f"(async function () {{\n{js}\n}});\n")
    result = subprocess.run([NODE, "--check", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@needs_node
@pytest.mark.parametrize("filename", sorted(EXPECTED_TYPES))
def test_signing_reproduces_vectors(tmp_path, filename):
    script = (
        library(filename, ["signEvent"])
        + f"""
const vectors = {json.dumps(VECTORS)};
console.log(JSON.stringify(vectors.map((v) => lib.signEvent(v.secret, v.timestamp, v.body))));
"""
    )
    assert run_node(tmp_path, script) == [v["header"]["X-Distribution-Signature"] for v in VECTORS]


@needs_node
def test_router_verifier_against_vectors(tmp_path):
    script = (
        library("odoo-events-router.json", ["verifySignature"])
        + f"""
const vectors = {json.dumps(VECTORS)};
const out = vectors.map((v) => {{
  const t = Number(v.timestamp);
  const h = v.header['X-Distribution-Signature'];
  return {{
    at: lib.verifySignature(v.secret, v.timestamp, v.body, h, t),
    at_buffer: lib.verifySignature(v.secret, v.timestamp, Buffer.from(v.body, 'utf8'), h, t + 299),
    past_299: lib.verifySignature(v.secret, v.timestamp, v.body, h, t - 299),
    tampered: lib.verifySignature(v.secret, v.timestamp, v.body + ' ', h, t),
    wrong_secret: lib.verifySignature(v.secret + 'x', v.timestamp, v.body, h, t),
    late_301: lib.verifySignature(v.secret, v.timestamp, v.body, h, t + 301),
    early_301: lib.verifySignature(v.secret, v.timestamp, v.body, h, t - 301),
    short_header: lib.verifySignature(v.secret, v.timestamp, v.body, h.slice(0, -1), t),
    missing: lib.verifySignature(v.secret, v.timestamp, v.body, '', t),
  }};
}});
console.log(JSON.stringify(out));
"""
    )
    for result in run_node(tmp_path, script):
        assert result["at"] == {"ok": True, "reason": ""}
        assert result["at_buffer"]["ok"] and result["past_299"]["ok"]
        for case in ("tampered", "wrong_secret", "short_header"):
            assert result[case] == {"ok": False, "reason": "signature does not match"}, case
        for case in ("late_301", "early_301"):
            assert not result[case]["ok"]
            assert "301 s away" in result[case]["reason"], case
        assert result["missing"] == {"ok": False, "reason": "signature or timestamp header missing"}


@needs_node
def test_router_code_node_with_n8n_stand_ins(tmp_path):
    vector = VECTORS[0]
    stamp = int(vector["timestamp"])

    def webhook_item(body, timestamp, signature):
        headers = {
            "x-distribution-event": "exception.created",
            "x-distribution-timestamp": str(timestamp),
            "x-distribution-signature": signature,
            "x-distribution-event-id": "e",
        }
        return {
            "json": {"headers": headers, "body": json.loads(body)},
            "binary": {"data": {"data": base64.b64encode(body.encode()).decode(), "mimeType": "application/json"}},
        }

    header = vector["header"]["X-Distribution-Signature"]
    items = [
        webhook_item(vector["body"], stamp, header),
        webhook_item(vector["body"].replace("credit", "debit"), stamp, header),
        webhook_item(vector["body"], stamp - 400, header),
    ]
    script = (
        glue_runner("odoo-events-router.json")
        + f"""
(async () => {{
  const out = await runCodeNode({json.dumps(items)}, {{ DISTRIBUTION_WEBHOOK_SECRET: {json.dumps(vector["secret"])} }},
                                 {{}}, {stamp * 1000});
  const none = await runCodeNode({json.dumps(items[:1])}, {{}}, {{}}, {stamp * 1000});
  console.log(JSON.stringify({{ out, none }}));
}})();
"""
    )
    result = run_node(tmp_path, script)
    out = [item["json"] for item in result["out"]]
    assert [o["verified"] for o in out] == [True, False, False]
    assert out[0]["type"] == "exception.created"
    assert out[0]["event"] == json.loads(vector["body"])
    assert out[1]["reason"] == "signature does not match"
    assert "away from the n8n clock" in out[2]["reason"]
    assert out[1]["event"] is None and out[1]["type"] == ""
    assert result["none"][0]["json"]["verified"] is False
    assert "DISTRIBUTION_WEBHOOK_SECRET" in result["none"][0]["json"]["reason"]


def assert_signed_request(item, secret, url, event_type):
    assert item["url"] == url
    assert item["type"] == event_type
    headers = item["headers"]
    assert set(headers) == set(SIGNATURE_HEADERS)
    assert headers["X-Distribution-Event"] == event_type
    assert headers["X-Distribution-Event-Id"] == item["event_id"]
    uuid.UUID(item["event_id"])
    assert abs(int(headers["X-Distribution-Timestamp"]) - time.time()) < 60
    # independent check with Python's hmac over the exact string that the HTTP node sends
    assert headers["X-Distribution-Signature"] == hmac_header(secret, headers["X-Distribution-Timestamp"], item["body"])
    envelope = json.loads(item["body"])
    assert list(envelope) == ["event_id", "type", "occurred_at", "company", "data"]
    assert envelope["event_id"] == item["event_id"] and envelope["type"] == event_type
    assert item["body"] == json.dumps(envelope, separators=(",", ":"), ensure_ascii=False), "body must be compact"
    return envelope


@needs_node
def test_carrier_poller_code(tmp_path):
    exported = ["mapCarrierStatus", "normaliseEta", "carrierStatusData", "buildEnvelope", "signedRequest"]
    vector = VECTORS[1]
    script = (
        library("carrier-status-poller.json", exported)
        + f"""
const v = {json.dumps(vector)};
const env = JSON.parse(v.body);
console.log(JSON.stringify({{
  statuses: ['in transit', 'OUT-FOR-DELIVERY', 'Delivered', 'rescheduled', 'failed_attempt', 'LABEL_CREATED', '']
    .map(lib.mapCarrierStatus),
  eta: [lib.normaliseEta('2026-12-03'), lib.normaliseEta('2026-12-03T08:30:00+01:00'), lib.normaliseEta('soon')],
  data: lib.carrierStatusData({{ tracking_number: '1Z9', status: 'Delayed', estimated_delivery: '2026-12-03' }}),
  skipped: lib.carrierStatusData({{ tracking_number: '1Z9', status: 'label created' }}),
  rebuilt: lib.buildEnvelope(env.event_id, env.type, env.occurred_at, env.company, env.data),
  request: lib.signedRequest(v.secret, env.type, env.event_id, v.timestamp, v.body),
}}));
"""
    )
    result = run_node(tmp_path, script)
    assert result["statuses"] == ["in_transit", "in_transit", "delivered", "delayed", "exception", None, None]
    assert result["eta"] == ["2026-12-03", "2026-12-03T07:30:00Z", None]
    assert result["data"] == {"tracking_ref": "1Z9", "status": "delayed", "eta": "2026-12-03"}
    assert result["skipped"] is None
    assert result["rebuilt"] == vector["body"], "buildEnvelope must serialise like the contract (compact, in order)"
    assert result["request"] == {"headers": vector["header"], "body": vector["body"]}


@needs_node
def test_carrier_poller_code_node_with_n8n_stand_ins(tmp_path):
    shipments = {
        "shipments": [
            {
                "tracking_number": "1Z999AA10123456784",
                "status": "DELAYED",
                "estimated_delivery": "2026-12-03",
                "event_time": "2026-11-30T11:00:00Z",
            },
            {"tracking_number": "1Z000", "status": "LABEL_CREATED"},
            {"reference": "WH/OUT/00012", "status": "delivered"},
        ]
    }
    env = {"ODOO_CARRIER_SECRET": "s3crét", "ODOO_BASE_URL": "http://odoo:8069/", "DISTRIBUTION_COMPANY": "Société"}
    script = (
        glue_runner("carrier-status-poller.json")
        + f"""
(async () => {{
  const staticData = {{}};
  const items = [{{ json: {json.dumps(shipments)} }}];
  const first = await runCodeNode(items, {json.dumps(env)}, staticData);
  const again = await runCodeNode(items, {json.dumps(env)}, staticData);
  let error = '';
  try {{ await runCodeNode(items, {{}}, {{}}); }} catch (e) {{ error = e.message; }}
  console.log(JSON.stringify({{ first, again, error }}));
}})();
"""
    )
    result = run_node(tmp_path, script)
    url = "http://odoo:8069/distribution/webhook/carrier"
    envelopes = [
        assert_signed_request(i["json"], env["ODOO_CARRIER_SECRET"], url, "carrier_status") for i in result["first"]
    ]
    assert [e["data"] for e in envelopes] == [
        {
            "tracking_ref": "1Z999AA10123456784",
            "status": "delayed",
            "eta": "2026-12-03",
            "occurred_at": "2026-11-30T11:00:00Z",
        },
        {"picking": "WH/OUT/00012", "status": "delivered"},
    ]
    assert envelopes[0]["company"] == "Société"
    assert envelopes[0]["event_id"] != envelopes[1]["event_id"]
    assert result["again"] == [], "an unchanged status is not sent twice"
    assert "ODOO_CARRIER_SECRET" in result["error"]


@needs_node
def test_supplier_normaliser_code(tmp_path):
    exported = [
        "normaliseDate",
        "normaliseLeadTime",
        "normaliseSupplierUpdate",
        "parseSupplierEmail",
        "buildEnvelope",
        "signedRequest",
    ]
    vector = VECTORS[2]
    dates = [
        "2026-12-20",
        "2026-12-20T09:00:00Z",
        "20/12/2026",
        "20.12.2026",
        "12/20/2026",
        "20261220",
        "2026/12/20",
        "20 Dec 2026",
        "December 20, 2026",
        "20-12-26",
        "31/02/2026",
        "soon",
        "",
    ]
    email = (
        "Hello,\nplease find our confirmation.\nLead time: 3 weeks\n\n"
        "FURN_8888; 20/12/2026; 5\n- FURN_9999 | 2026-12-22 | 2,5\nRegards"
    )
    script = (
        library("supplier-update-normaliser.json", exported)
        + f"""
const v = {json.dumps(vector)};
const env = JSON.parse(v.body);
console.log(JSON.stringify({{
  dates: {json.dumps(dates)}.map((d) => lib.normaliseDate(d)),
  mdy: [lib.normaliseDate('12/01/2026', 'MDY'), lib.normaliseDate('13/01/2026', 'MDY')],
  lead: [21, '21', '21 days', '3 weeks', '3w', '2,5 wk', 'later', null].map(lib.normaliseLeadTime),
  edi: lib.normaliseSupplierUpdate({{ po_number: 'P00042', leadTime: '3 weeks',
    items: [{{ sku: 'FURN_8888', delivery_date: '20261220', qty: '5' }}] }}),
  bad: lib.normaliseSupplierUpdate({{ items: [{{ qty: 1, date: 'whenever' }}] }}),
  email: lib.normaliseSupplierUpdate(lib.parseSupplierEmail('Order confirmation PO P00042', {json.dumps(email)})),
  rebuilt: lib.buildEnvelope(env.event_id, env.type, env.occurred_at, env.company, env.data),
  request: lib.signedRequest(v.secret, env.type, env.event_id, v.timestamp, v.body),
}}));
"""
    )
    result = run_node(tmp_path, script)
    assert result["dates"] == ["2026-12-20"] * 10 + [None, None, None]
    assert result["mdy"] == ["2026-12-01", "2026-01-13"]
    assert result["lead"] == [21, 21, 21, 21, 21, 18, None, None]
    assert result["edi"] == {
        "problems": [],
        "data": json.loads(vector["body"])["data"]
        | {
            "purchase_order": "P00042",
            "lines": [{"product_code": "FURN_8888", "planned_date": "2026-12-20", "quantity": 5}],
            "lead_time_days": 21,
        },
    }
    assert result["bad"]["problems"] == [
        "line 1: no product code",
        'line 1: date "whenever" not understood',
        "no purchase order reference",
    ]
    assert result["email"] == {
        "problems": [],
        "data": {
            "purchase_order": "P00042",
            "lead_time_days": 21,
            "lines": [
                {"product_code": "FURN_8888", "planned_date": "2026-12-20", "quantity": 5},
                {"product_code": "FURN_9999", "planned_date": "2026-12-22", "quantity": 2.5},
            ],
        },
    }
    assert result["rebuilt"] == vector["body"]
    assert result["request"] == {"headers": vector["header"], "body": vector["body"]}


@needs_node
def test_supplier_normaliser_code_node_with_n8n_stand_ins(tmp_path):
    imap_item = {
        "json": {"subject": "Confirmation PO P00042", "textPlain": "Lead time: 10 days\nFURN_8888; 20.12.2026; 5"}
    }
    edi_item = {"json": {"headers": {}, "body": [{"purchase_order": "P00043", "lead_time_days": "14"}]}}
    bad_item = {"json": {"subject": "Thanks!", "textPlain": "See you"}}
    env = {
        "ODOO_SUPPLIER_SECRET": "whsec_supplier",
        "ODOO_BASE_URL": "http://localhost:8069",
        "ODOO_SUPPLIER_ENDPOINT_CODE": "acme",
    }
    script = (
        glue_runner("supplier-update-normaliser.json")
        + f"""
(async () => {{
  const out = await runCodeNode({json.dumps([imap_item, edi_item])}, {json.dumps(env)}, {{}});
  let error = '';
  try {{ await runCodeNode({json.dumps([bad_item])}, {json.dumps(env)}, {{}}); }} catch (e) {{ error = e.message; }}
  console.log(JSON.stringify({{ out, error }}));
}})();
"""
    )
    result = run_node(tmp_path, script)
    url = "http://localhost:8069/distribution/webhook/acme"
    envelopes = [
        assert_signed_request(i["json"], env["ODOO_SUPPLIER_SECRET"], url, "supplier_update") for i in result["out"]
    ]
    assert [e["data"] for e in envelopes] == [
        {
            "purchase_order": "P00042",
            "lines": [{"product_code": "FURN_8888", "planned_date": "2026-12-20", "quantity": 5}],
            "lead_time_days": 10,
        },
        {"purchase_order": "P00043", "lines": [], "lead_time_days": 14},
    ]
    assert "Supplier update not understood (Thanks!)" in result["error"]
    assert "no purchase order reference" in result["error"]


# ---------------------------------------------------------------- real n8n


@pytest.mark.skipif(
    shutil.which("n8n") is None,
    reason="n8n is not on PATH: it does not install from npm on these machines (its isolated-vm "
    "dependency fails to compile and xlsx comes from an unreachable CDN)",
)
def test_end_to_end_with_real_n8n(tmp_path):
    """Imports the three templates into a throw-away n8n 1.x, activates the router and posts signed events to it."""
    n8n = shutil.which("n8n")
    secret = "whsec_e2e"
    port = free_port()
    env = dict(
        os.environ,
        N8N_USER_FOLDER=str(tmp_path),
        N8N_PORT=str(port),
        N8N_LISTEN_ADDRESS="127.0.0.1",
        DISTRIBUTION_WEBHOOK_SECRET=secret,
        NODE_FUNCTION_ALLOW_BUILTIN="crypto",
        N8N_BLOCK_ENV_ACCESS_IN_NODE="false",
        N8N_DIAGNOSTICS_ENABLED="false",
        N8N_RUNNERS_ENABLED="false",
        DB_TYPE="sqlite",
    )
    for index, filename in enumerate(sorted(EXPECTED_TYPES)):
        wf = workflow(filename) | {"id": f"distributiontest{index}"}
        path = tmp_path / filename
        path.write_text(json.dumps(wf))
        subprocess.run(
            [n8n, "import:workflow", f"--input={path}"], env=env, check=True, capture_output=True, timeout=300
        )
    router_id = f"distributiontest{sorted(EXPECTED_TYPES).index('odoo-events-router.json')}"
    subprocess.run(
        [n8n, "update:workflow", f"--id={router_id}", "--active=true"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    log = (tmp_path / "n8n.log").open("w")
    proc = subprocess.Popen([n8n, "start"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", proc, tmp_path / "n8n.log", 180)
        stamp = str(int(time.time()))
        body = json.dumps(
            {
                "event_id": str(uuid.uuid4()),
                "type": "order.held",
                "occurred_at": "2026-11-30T10:00:00Z",
                "company": "My Company",
                "data": {"order": "S00001"},
            },
            separators=(",", ":"),
        )
        headers = {
            "Content-Type": "application/json",
            "X-Distribution-Event": "order.held",
            "X-Distribution-Event-Id": json.loads(body)["event_id"],
            "X-Distribution-Timestamp": stamp,
            "X-Distribution-Signature": hmac_header(secret, stamp, body),
        }
        url = f"{base}/webhook/distribution-events"
        deadline = time.monotonic() + 60
        while (ok := requests.post(url, data=body.encode(), headers=headers, timeout=30)).status_code == 404:
            assert time.monotonic() < deadline, "the router's webhook was never registered"
            time.sleep(1)
        assert ok.status_code == 200, ok.text
        bad = requests.post(url, data=(body + " ").encode(), headers=headers, timeout=30)
        assert bad.status_code == 401, bad.text
        stale = dict(headers, **{"X-Distribution-Timestamp": str(int(stamp) - 400)})
        stale["X-Distribution-Signature"] = hmac_header(secret, stale["X-Distribution-Timestamp"], body)
        late = requests.post(url, data=body.encode(), headers=stale, timeout=30)
        assert late.status_code == 401, late.text
    finally:
        stop_process(proc)
        log.close()
