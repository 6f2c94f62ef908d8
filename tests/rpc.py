"""JSON-RPC as the web client calls it: a session logged in through /web/session/authenticate, then model
methods through /web/dataset/call_kw. Loopback only."""

import requests


class RpcError(Exception):
    """The server refused the login or answered a call with an error; ``error`` is its error object as sent
    (None when it sent none)."""

    def __init__(self, message, error=None):
        super().__init__(message)
        self.error = error


class Rpc:
    """A logged-in JSON-RPC session (one per thread: a requests.Session is not shared). ``session`` carries its
    cookie for the web client's other routes; ``timeout`` bounds each request, in seconds."""

    def __init__(self, url, db, login="admin", password="admin", timeout=120):
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        answer = self.session.post(
            f"{url}/web/session/authenticate",
            json={"jsonrpc": "2.0", "params": {"db": db, "login": login, "password": password}},
            timeout=timeout,
        ).json()
        if not answer.get("result", {}).get("uid"):
            raise RpcError(f"login refused: {answer.get('error')}", answer.get("error"))

    def __call__(self, model, method, *args, **kwargs):
        answer = self.session.post(
            f"{self.url}/web/dataset/call_kw/{model}/{method}",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
            },
            timeout=self.timeout,
        ).json()
        if "error" in answer:
            raise RpcError(answer["error"].get("data", {}).get("message") or answer["error"], answer["error"])
        return answer["result"]

    def count(self, model, domain=()):
        return self(model, "search_count", list(domain))

    def xmlid(self, xmlid):
        """The database id of the record named ``module.name``."""
        module, name = xmlid.split(".")
        return self("ir.model.data", "search_read", [("module", "=", module), ("name", "=", name)], fields=["res_id"])[
            0
        ]["res_id"]
