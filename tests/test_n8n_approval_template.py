"""The n8n template n8n/workflows/approval-decisions-slack.json: approval events from Odoo become Slack messages
with Approve / Reject buttons, and a click becomes a signed ``approval_decision`` event for Odoo's inbox.

Its two Code nodes are run with Node like the other templates' (tests/test_n8n_templates.py): their pure part
against the contract's test vectors, the whole code with stand-ins for n8n's globals.
"""

import base64
import hashlib
import hmac
import json
import subprocess
import time
import uuid
from urllib.parse import urlencode

import pytest

from .test_n8n_templates import MARKER
from .test_n8n_templates import NODE
from .test_n8n_templates import SIGNATURE_HEADERS
from .test_n8n_templates import VECTORS
from .test_n8n_templates import assert_signed_request
from .test_n8n_templates import glue_runner_of
from .test_n8n_templates import hmac_header
from .test_n8n_templates import needs_node
from .test_n8n_templates import nodes_of_type
from .test_n8n_templates import pure_part
from .test_n8n_templates import run_node
from .test_n8n_templates import workflow

FILENAME = "approval-decisions-slack.json"
REQUEST_NODE = "Verify and build the Slack message"
DECISION_NODE = "Verify Slack and sign the decision"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ODOO_SECRET = "whsec_approvals"
TOKEN_1, TOKEN_2 = "a1" * 32, "b2" * 32
TOKENS = {"alice": TOKEN_1, "bob@example.com": TOKEN_2}


def code_of(name):
    (node,) = [n for n in workflow(FILENAME)["nodes"] if n["name"] == name]
    assert node["type"] == "n8n-nodes-base.code"
    return node["parameters"]["jsCode"]


def library(name, exported):
    return f"const lib = (function () {{\n{pure_part(code_of(name))}\nreturn {{ {', '.join(exported)} }};\n}})();\n"


def glue_runner(name):
    """`runCodeNode(items, env, staticData, nowMs)` of the Code node ``name`` (see test_n8n_templates)."""
    return glue_runner_of(code_of(name))


def raw_item(body, headers):
    return {
        "json": {"headers": headers, "body": {}},
        "binary": {"data": {"data": base64.b64encode(body.encode()).decode(), "mimeType": "application/json"}},
    }


def requested_event():
    return {
        "event_id": str(uuid.uuid4()),
        "type": "approval.requested",
        "occurred_at": "2026-11-30T10:00:00Z",
        "company": "My Company",
        "data": {
            "request": "APR/2026/00042",
            "type": "discount",
            "state": "pending",
            "amount": 1250.0,
            "currency": "EUR",
            "document": {"model": "sale.order", "id": 7, "name": "S00042"},
            "requested_by": "Sam <Sales>",
            "reason": "Discount of 12% for a key account",
            "tier": "Sales",
            "approvers": ["Alice", "Bob"],
            "decision_links": [
                {"approver": "Alice", "login": "alice", "tier": "Sales", "url": "https://odoo/a", "token": TOKEN_1},
                {
                    "approver": "Bob",
                    "login": "bob@example.com",
                    "tier": "Sales",
                    "url": "https://odoo/b",
                    "token": TOKEN_2,
                },
            ],
        },
    }


def slack_click(action, user, comment=None, value=None):
    """The form-encoded body Slack posts when ``user`` clicks ``action`` on the request's message."""
    payload = {
        "type": "block_actions",
        "user": user,
        "trigger_id": "1337.42.abcd",
        "response_url": "https://hooks.slack.com/actions/T1/1/xyz",
        "state": {"values": {"decision_comment": {"comment": {"type": "plain_text_input", "value": comment}}}},
        "actions": [
            {
                "action_id": action,
                "block_id": "decision",
                "value": value or json.dumps({"r": "APR/2026/00042", "t": TOKENS}),
                "action_ts": "1764496800.123",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def slack_headers(body, timestamp, secret=SLACK_SECRET):
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:".encode() + body.encode(), hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": str(timestamp), "x-slack-signature": f"v0={digest}"}


# ---------------------------------------------------------------- structure


def test_template_structure():
    wf = workflow(FILENAME)
    assert {"name", "nodes", "connections", "settings", "active"} <= set(wf)
    assert wf["active"] is False
    names = [n["name"] for n in wf["nodes"]]
    assert len(set(names)) == len(names) and len({n["id"] for n in wf["nodes"]}) == len(names)
    for node in wf["nodes"]:
        assert {"id", "name", "type", "typeVersion", "position", "parameters"} <= set(node), node["name"]
        assert node["type"].startswith("n8n-nodes-base.")
        uuid.UUID(node["id"])
    targets = {t["node"] for o in wf["connections"].values() for b in o.values() for br in b for t in br}
    assert set(wf["connections"]) <= set(names) and targets <= set(names)
    assert set(wf["connections"]) | targets == set(names), "every node is connected"
    hooks = nodes_of_type(wf, "n8n-nodes-base.webhook")
    assert {h["parameters"]["path"] for h in hooks} == {"distribution-approvals", "distribution-approvals-slack"}
    for hook in hooks:
        assert hook["parameters"]["responseMode"] == "responseNode"
        assert hook["parameters"]["options"]["rawBody"] is True, "signatures are checked on the raw body"
    for node in nodes_of_type(wf, "n8n-nodes-base.code"):
        assert MARKER in node["parameters"]["jsCode"]
    responders = nodes_of_type(wf, "n8n-nodes-base.respondToWebhook")
    codes = sorted(n["parameters"]["options"]["responseCode"] for n in responders)
    assert codes == [200, 200, 401, 401]


def test_the_decision_is_posted_to_odoo_exactly_as_signed():
    wf = workflow(FILENAME)
    js = code_of(DECISION_NODE)
    assert js.count("JSON.stringify(") == 1, "one serialisation: the envelope that is signed"
    assert "signedRequest(options.secret, options.type, eventId, timestamp, body)" in js
    assert "crypto.timingSafeEqual" in js and "$env.SLACK_SIGNING_SECRET" in js
    (post,) = [n for n in wf["nodes"] if n["name"] == "POST decision to Odoo"]
    params = post["parameters"]
    assert (params["contentType"], params["rawContentType"], params["body"]) == (
        "raw",
        "application/json",
        "={{ $json.body }}",
    )
    headers = {h["name"]: h["value"] for h in params["headerParameters"]["parameters"]}
    assert headers == {h: f"={{{{ $json.headers['{h}'] }}}}" for h in SIGNATURE_HEADERS}
    # The click is acknowledged to Slack before Odoo is called (Slack wants an answer within 3 s).
    assert wf["connections"]["Slack signature valid?"]["main"][0][0]["node"] == "Respond 200 to Slack"
    (slack,) = [n for n in wf["nodes"] if n["name"] == "Post to Slack"]
    assert "$env.SLACK_WEBHOOK_URL" in slack["parameters"]["url"]


# ---------------------------------------------------------------- JavaScript run with Node


@needs_node
@pytest.mark.parametrize("name", [REQUEST_NODE, DECISION_NODE])
def test_code_node_javascript_parses_and_signs_like_the_contract(tmp_path, name):
    path = tmp_path / "wrapped.js"
    path.write_text(f"(async function () {{\n{code_of(name)}\n}});\n")
    result = subprocess.run([NODE, "--check", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    script = library(name, ["signEvent"]) + (
        f"const vectors = {json.dumps(VECTORS)};\n"
        "console.log(JSON.stringify(vectors.map((v) => lib.signEvent(v.secret, v.timestamp, v.body))));\n"
    )
    assert run_node(tmp_path, script) == [v["header"]["X-Distribution-Signature"] for v in VECTORS]


@needs_node
def test_request_node_verifies_odoo_and_builds_the_buttons(tmp_path):
    vector = VECTORS[0]
    stamp = int(vector["timestamp"])
    event = requested_event()
    body = json.dumps(event, separators=(",", ":"))
    secret = "whsec_router"

    def item(raw, timestamp, signature):
        return raw_item(raw, {"x-distribution-timestamp": str(timestamp), "x-distribution-signature": signature})

    decided = dict(event, type="approval.rejected", data=dict(event["data"], decision_comment="Too <low>"))
    decided_body = json.dumps(decided)
    items = [
        item(body, stamp, hmac_header(secret, stamp, body)),
        item(body.replace("S00042", "S00043"), stamp, hmac_header(secret, stamp, body)),
        item(body, stamp - 400, hmac_header(secret, stamp - 400, body)),
        item(decided_body, stamp, hmac_header(secret, stamp, decided_body)),
    ]
    script = (
        library(REQUEST_NODE, ["verifySignature"])
        + glue_runner(REQUEST_NODE)
        + f"""
(async () => {{
  const vectors = {json.dumps(VECTORS)};
  const checks = vectors.map((v) => [lib.verifySignature(v.secret, v.timestamp, v.body,
    v.header['X-Distribution-Signature'], Number(v.timestamp)).ok, lib.verifySignature(v.secret, v.timestamp,
    v.body + ' ', v.header['X-Distribution-Signature'], Number(v.timestamp)).ok]);
  const out = await runCodeNode({json.dumps(items)}, {{ DISTRIBUTION_WEBHOOK_SECRET: {json.dumps(secret)} }},
                                {{}}, {stamp * 1000});
  console.log(JSON.stringify({{ checks, out }}));
}})();
"""
    )
    result = run_node(tmp_path, script)
    assert result["checks"] == [[True, False]] * len(VECTORS)
    out = [i["json"] for i in result["out"]]
    assert [o["verified"] for o in out] == [True, False, False, True]
    assert out[1]["reason"] == "signature does not match" and out[1]["slack"] is None
    assert "away from the n8n clock" in out[2]["reason"]
    blocks = out[0]["slack"]["blocks"]
    assert "APR/2026/00042" in blocks[0]["text"]["text"] and "Sam &lt;Sales&gt;" in blocks[0]["text"]["text"]
    assert "<https://odoo/a|Alice>" in blocks[1]["elements"][0]["text"]
    assert blocks[2]["type"] == "input" and blocks[2]["element"]["action_id"] == "comment"
    buttons = blocks[3]["elements"]
    assert [(b["action_id"], b["style"]) for b in buttons] == [("approve", "primary"), ("reject", "danger")]
    assert json.loads(buttons[0]["value"]) == {"r": "APR/2026/00042", "t": TOKENS}
    assert out[3]["slack"]["text"] == "*APR/2026/00042* (S00042) rejected: Too &lt;low&gt;"


@needs_node
def test_decision_node_signs_the_clickers_own_decision(tmp_path):
    now = int(time.time())
    env = {
        "ODOO_APPROVAL_SECRET": ODOO_SECRET,
        "SLACK_SIGNING_SECRET": SLACK_SECRET,
        "ODOO_BASE_URL": "http://odoo:8069/",
        "DISTRIBUTION_SLACK_USERS": json.dumps({"U0BOB": "bob@example.com"}),
    }
    clicks = [
        slack_click("approve", {"id": "U0ALICE", "username": "alice"}),  # not mapped: the username is the login
        slack_click("reject", {"id": "U0BOB", "username": "bobby"}, comment="  Margin too thin "),
        slack_click("reject", {"id": "U0ALICE", "username": "alice"}, comment="  "),
        slack_click("approve", {"id": "U0EVE", "username": "eve"}),  # not an approver: her click sends nothing
    ]
    items = [raw_item(body, slack_headers(body, now)) for body in clicks]
    items.append(raw_item(clicks[0], slack_headers(clicks[0], now, secret="forged")))
    items.append(raw_item(clicks[0], slack_headers(clicks[0], now - 400)))
    script = (
        glue_runner(DECISION_NODE)
        + f"""
(async () => {{
  const env = {json.dumps(env)};
  const out = await runCodeNode({json.dumps(items)}, env);
  const again = await runCodeNode({json.dumps(items[:1])}, env);
  let error = '';
  try {{ await runCodeNode({json.dumps(items[:1])}, {{}}); }} catch (e) {{ error = e.message; }}
  console.log(JSON.stringify({{ out, again, error }}));
}})();
"""
    )
    result = run_node(tmp_path, script)
    out = [i["json"] for i in result["out"]]
    assert [(o["verified"], o["ready"]) for o in out] == [
        (True, True),
        (True, True),
        (True, False),
        (True, False),
        (False, False),
        (False, False),
    ]
    url = "http://odoo:8069/distribution/webhook/approvals"
    approve = assert_signed_request(out[0], ODOO_SECRET, url, "approval_decision")
    reject = assert_signed_request(out[1], ODOO_SECRET, url, "approval_decision")
    assert approve["data"] == {
        "request": "APR/2026/00042",
        "token": TOKEN_1,
        "decision": "approve",
        "comment": None,
        "actor": "alice",
        "channel": "slack via n8n",
    }
    assert reject["data"] == dict(
        approve["data"], token=TOKEN_2, decision="reject", comment="Margin too thin", actor="bob@example.com"
    )
    assert out[0]["response_url"] == "https://hooks.slack.com/actions/T1/1/xyz"
    assert out[0]["reply"] == "Your approval of APR/2026/00042 was sent to Odoo."
    assert "write a comment" in out[2]["reply"]
    assert out[3]["reply"] == "You (eve) are not an approver of APR/2026/00042."
    assert "url" not in out[3] and "token" not in json.dumps(out[3])
    assert out[4]["reason"] == "Slack signature does not match"
    assert "away from the n8n clock" in out[5]["reason"]
    # Slack's retry of one click is one event for Odoo (answered "duplicate"); the signature is fresh.
    assert result["again"][0]["json"]["event_id"] == out[0]["event_id"]
    assert "ODOO_APPROVAL_SECRET" in result["error"]
