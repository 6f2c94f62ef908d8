"""The door an attacker uses: JSON-RPC over HTTP, logged in as a real user, with a context of the
caller's choosing. Mixed into an ``HttpCase``; the call runs in the server, through the same routing,
session and access checks as a browser's."""

import json


class JsonRpcMixin:
    def rpc_login(self, user, password=None):
        """Log the HTTP session in as ``user`` (``new_test_user`` makes the password the login)."""
        self.authenticate(user.login, password or user.login)

    def rpc(self, model, method, *args, context=None, **kwargs):
        """Call ``model.method(*args, **kwargs)`` through ``/web/dataset/call_kw``. Answer
        ``(result, error)``: error is None on success, else the JSON-RPC error's data (``name``:
        the exception class path, ``message``: the text the user is shown)."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": 1,
            "params": {
                "model": model,
                "method": method,
                "args": list(args),
                "kwargs": dict(kwargs, context=dict(context or {})),
            },
        }
        response = self.url_open(
            f"/web/dataset/call_kw/{model}/{method}",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        )
        self.assertEqual(response.status_code, 200, response.text[:300])
        body = response.json()
        # The server wrote in the shared test transaction: read it afresh.
        self.env.invalidate_all()
        error = body.get("error")
        return body.get("result"), (error.get("data") or error) if error else None

    def assertRpcRefused(self, model, method, *args, context=None, **kwargs):
        """The call fails with an access or user error (not a crash): answer the error's message."""
        result, error = self.rpc(model, method, *args, context=context, **kwargs)
        self.assertIsNotNone(error, f"{model}.{method} went through and answered {result!r}")
        self.assertIn(
            error.get("name"),
            (
                "odoo.exceptions.AccessError",
                "odoo.exceptions.UserError",
                "odoo.exceptions.ValidationError",
                "odoo.exceptions.MissingError",
            ),
            error,
        )
        return error.get("message", "")
