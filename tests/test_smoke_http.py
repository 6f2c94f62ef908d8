"""End-to-end smoke test: the real Odoo server, a real login over HTTP, the Distribution app."""

import pytest
import requests

from .conftest import ADDONS
from .odoo_process import database_under_test
from .rpc import Rpc
from .rpc import RpcError


def test_login_page_answers(odoo_server):
    response = requests.get(f"{odoo_server}/web/login", timeout=10)
    assert response.status_code == 200
    assert 'name="login"' in response.text


def test_wrong_password_is_refused(odoo_server):
    with pytest.raises(RpcError) as refused:
        Rpc(odoo_server, database_under_test(), password="not-the-password", timeout=30)
    assert refused.value.error, "the refusal carries no error from the server"


def test_four_addons_installed_and_distribution_menu_loads(odoo_server):
    rpc = Rpc(odoo_server, database_under_test(), timeout=30)
    modules = rpc("ir.module.module", "search_read", [("name", "in", list(ADDONS))], fields=["name", "state"])
    assert {m["name"]: m["state"] for m in modules} == dict.fromkeys(ADDONS, "installed")

    # The menus as the web client loads them for admin (a Distribution Manager).
    menus = rpc.session.get(f"{odoo_server}/web/webclient/load_menus/smoke", timeout=30)
    assert menus.status_code == 200
    menus = menus.json()
    root = next((m for m in menus.values() if m["name"] == "Distribution" and m.get("appID") == m["id"]), None)
    assert root, "no Distribution app in the main menu"
    children = {menus[str(child)]["name"] for child in root["children"]}
    assert "Configuration" in children
    # The app opens on an action the user may run.
    action = root["actionID"]
    assert action, "the Distribution app has no action to open"
    loaded = rpc.session.post(
        f"{odoo_server}/web/action/load", json={"jsonrpc": "2.0", "params": {"action_id": action}}, timeout=30
    ).json()
    assert "error" not in loaded, loaded.get("error")
    assert loaded["result"]["type"].startswith("ir.actions.")
