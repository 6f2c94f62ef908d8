"""Shared fixtures of the root test suite.

The HTTP smoke test needs a database where the four addons are installed: `make test` passes it
as DISTRIBUTION_TEST_DB together with the Odoo configuration (ODOO_RC) written by scripts/setup.sh.
"""

import ast
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
ADDONS = {
    "distribution_observability": 0,
    "distribution_orchestration": 1,
    "distribution_approvals": 2,
    "distribution_ai_triage": 2,
}


def manifest(addon):
    return ast.literal_eval((ROOT / addon / "__manifest__.py").read_text())


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url, proc, log, seconds):
    """Poll ``url`` until it answers 200; fail with the end of ``log`` if ``proc`` dies or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"nothing answered on {url}: {log.read_text()[-3000:] if log.exists() else ''}")
        time.sleep(0.5)


# One server per test module, stopped when the module ends: a server kept for the whole session holds
# connections to the test database, and the fault and replica tests copy it (a template must have none).
@pytest.fixture(scope="module")
def odoo_server(tmp_path_factory):
    """A real Odoo server on a free port of 127.0.0.1, serving the test database; yields its base URL."""
    db = os.environ.get("DISTRIBUTION_TEST_DB")
    rc = os.environ.get("ODOO_RC", str(ROOT / ".local" / "odoo-local.conf"))
    odoo_bin = Path(os.environ.get("ODOO_PATH", "/opt/odoo")) / "odoo-bin"
    if not db:
        pytest.fail("DISTRIBUTION_TEST_DB is not set: run the suite through `make test`")
    port = _free_port()
    log = tmp_path_factory.mktemp("odoo") / "server.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            str(odoo_bin),
            "-c",
            rc,
            "-d",
            db,
            f"--db-filter=^{db}$",
            "--http-interface=127.0.0.1",
            f"--http-port={port}",
            "--max-cron-threads=0",
            f"--logfile={log}",
        ],
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/web/login", proc, log, 120)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def pytest_collection_modifyitems(items):
    """A test marked pg_restart (tests/test_fault_postgres.py) restarts PostgreSQL, which cuts every database
    session: it runs after every other test of the run (a stable sort keeps the order of the others)."""
    items.sort(key=lambda item: item.get_closest_marker("pg_restart") is not None)
