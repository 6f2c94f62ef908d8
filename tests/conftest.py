"""Shared fixtures of the root test suite.

The HTTP smoke test needs a database where the four addons are installed: `make test` passes it
as DISTRIBUTION_TEST_DB together with the Odoo configuration (ODOO_RC) written by scripts/setup.sh.
"""

import ast

import pytest

from .odoo_process import ROOT
from .odoo_process import database_under_test
from .odoo_process import odoo_rc
from .odoo_process import running_odoo

ADDONS = {
    "distribution_observability": 0,
    "distribution_orchestration": 1,
    "distribution_approvals": 2,
    "distribution_ai_triage": 2,
}


def manifest(addon):
    return ast.literal_eval((ROOT / addon / "__manifest__.py").read_text())


# One server per test module, stopped when the module ends: a server kept for the whole session holds
# connections to the test database, and the fault and replica tests copy it (a template must have none).
@pytest.fixture(scope="module")
def odoo_server(tmp_path_factory):
    """A real Odoo server on a free port of 127.0.0.1, serving the test database; yields its base URL."""
    db = database_under_test()
    log = tmp_path_factory.mktemp("odoo") / "server.log"
    with running_odoo(odoo_rc(), db, log) as url:
        yield url


def pytest_collection_modifyitems(items):
    """A test marked pg_restart (tests/test_fault_postgres.py) restarts PostgreSQL, which cuts every database
    session: it runs after every other test of the run (a stable sort keeps the order of the others)."""
    items.sort(key=lambda item: item.get_closest_marker("pg_restart") is not None)
