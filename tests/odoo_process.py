"""The processes the root suite starts (an Odoo server, n8n): where Odoo and the test database are, a free port
of 127.0.0.1, waiting until a process answers, stopping it."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


def database_under_test():
    """The database with the four addons and demo installed (DISTRIBUTION_TEST_DB, set by `make test`)."""
    db = os.environ.get("DISTRIBUTION_TEST_DB")
    if not db:
        pytest.fail("DISTRIBUTION_TEST_DB is not set: run the suite through `make test`")
    return db


def odoo_rc():
    """The Odoo configuration file (ODOO_RC, else the one scripts/setup.sh writes)."""
    return os.environ.get("ODOO_RC", str(ROOT / ".local" / "odoo-local.conf"))


def odoo_bin():
    return Path(os.environ.get("ODOO_PATH", "/opt/odoo")) / "odoo-bin"


def free_port():
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


def stop_process(proc):
    """SIGTERM, then SIGKILL if it has not ended within 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def odoo_command(rc, db, port, log, *options):
    """The command line of an Odoo server serving only ``db`` on ``port`` of 127.0.0.1, logging to ``log``. The
    database is named by ``-d`` alone, as the shipped odoo.conf and `make run` serve theirs: with a
    ``--db-filter`` as well, Odoo would list the databases with a query on a new connection for every request
    without a session (every webhook), a cost no production set-up pays."""
    return [
        sys.executable,
        str(odoo_bin()),
        "-c",
        str(rc),
        "-d",
        db,
        "--http-interface=127.0.0.1",
        f"--http-port={port}",
        f"--logfile={log}",
        *options,
    ]


@contextlib.contextmanager
def running_odoo(rc, db, log, *options, ready="/web/login", env=None):
    """An Odoo server (threaded, no cron thread) on a free port of 127.0.0.1 serving ``db``, with more odoo-bin
    ``options``; yields its base URL once ``ready`` answers, and stops it at the end, whatever happened."""
    port = free_port()
    proc = subprocess.Popen(odoo_command(rc, db, port, log, "--max-cron-threads=0", *options), cwd=ROOT, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}{ready}", proc, log, 120)
        yield url
    finally:
        stop_process(proc)
