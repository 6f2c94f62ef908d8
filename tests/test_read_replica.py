"""A real read replica: a second PostgreSQL cluster streaming from the primary (``pg_basebackup -R``), an Odoo
server with ``db_replica_host``/``db_replica_port`` on it, and proof from the replica's own statement log and
statistics that the dashboard's data, /distribution/health and /distribution/metrics are read there while the
primary takes signed webhook posts.

It runs only with DISTRIBUTION_REPLICA_TEST=1 (about a minute: it copies the whole primary cluster), as root
on a machine whose PostgreSQL is local (the replica's server runs as the ``postgres`` system user, and a
temporary replication role is made through its peer login unless DISTRIBUTION_REPLICATION_USER and
DISTRIBUTION_REPLICATION_PASSWORD name one). It never changes the primary's configuration: a primary that
cannot stream (``wal_level`` minimal, no free WAL sender, no pg_hba ``replication`` line for 127.0.0.1) is a
skip with the reason, because fixing it needs a restart or a configuration edit that a test must not make.
Everything it makes (the replica's data directory and server, the database copy, the role, the Odoo server)
is removed in ``finally`` blocks."""

import configparser
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
import requests

from .odoo_process import ROOT
from .odoo_process import database_under_test
from .odoo_process import free_port
from .odoo_process import odoo_bin
from .odoo_process import odoo_rc
from .odoo_process import running_odoo
from .rpc import Rpc
from .services import load_service

pytestmark = pytest.mark.skipif(
    os.environ.get("DISTRIBUTION_REPLICA_TEST") != "1",
    reason="the read replica proof copies the whole cluster: run it with DISTRIBUTION_REPLICA_TEST=1",
)

PRIMARY = {"host": os.environ.get("PGHOST", "localhost"), "port": int(os.environ.get("PGPORT", "5432"))}
PG_USER = os.environ.get("PGUSER", "odoo")
PG_PASSWORD = os.environ.get("PGPASSWORD", "odoo")
WEBHOOKS = int(os.environ.get("DISTRIBUTION_REPLICA_WEBHOOKS", "300"))
ENDPOINT_CODE = "replica_proof"
PG_VARIABLES = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
# Settings a hot standby must have at least as high as its primary's, or it refuses to start.
STANDBY_MINIMUMS = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)


def _connect(dbname="postgres", port=None, user=PG_USER, password=PG_PASSWORD):
    conn = psycopg2.connect(host="127.0.0.1", port=port or PRIMARY["port"], user=user, password=password, dbname=dbname)
    conn.autocommit = True
    return conn


def _query(conn, sql, args=None):
    with conn.cursor() as cr:
        cr.execute(sql, args)
        return cr.fetchall() if cr.description else []


def _as_postgres(*cmd, env=None, timeout=120, check=True):
    """Run a command as the postgres system user (a PostgreSQL server refuses to run as root)."""
    extra = [f"{k}={v}" for k, v in (env or {}).items()]
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", "env", *(f"-u{name}" for name in PG_VARIABLES), *extra, *cmd],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def _pg_bindir(version_num):
    bindir = Path(f"/usr/lib/postgresql/{version_num // 10000}/bin")
    if not (bindir / "pg_ctl").exists():
        pytest.skip(f"no PostgreSQL {version_num // 10000} binaries in {bindir}")
    return bindir


@contextlib.contextmanager
def _replication_role(primary):
    """(user, password) of a role that may stream: the one the environment names, odoo itself when it has
    REPLICATION, else a temporary role made through the postgres system user's peer login (dropped after)."""
    if os.environ.get("DISTRIBUTION_REPLICATION_USER"):
        yield os.environ["DISTRIBUTION_REPLICATION_USER"], os.environ.get("DISTRIBUTION_REPLICATION_PASSWORD", "")
        return
    if _query(primary, "SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user")[0][0]:
        yield PG_USER, PG_PASSWORD
        return
    if os.geteuid() != 0 or not shutil.which("runuser"):
        pytest.skip(f"{PG_USER} has no REPLICATION and this is not root: set DISTRIBUTION_REPLICATION_USER/_PASSWORD")
    role, password = f"dc_replica_{os.getpid()}", secrets.token_urlsafe(24)
    # The postgres superuser's peer login on the default Unix socket (_as_postgres drops the PG* variables).
    psql = ("psql", "-p", str(PRIMARY["port"]), "-d", "postgres")
    made = _as_postgres(
        *psql,
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        f"CREATE ROLE {role} LOGIN REPLICATION PASSWORD '{password}'",
        check=False,
    )
    if made.returncode:
        pytest.skip(f"cannot make a replication role through the postgres user: {made.stderr.strip()[:200]}")
    try:
        yield role, password
    finally:
        _as_postgres(*psql, "-c", f"DROP ROLE IF EXISTS {role}", check=False)


@contextlib.contextmanager
def _database_copy(primary, template):
    name = f"dc_replica_{os.getpid()}"
    _query(primary, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield name
    finally:
        _query(primary, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _replica_cluster(primary, bindir, role, password):
    """A hot standby of the primary on a free port of 127.0.0.1, logging every statement; yields
    (port, path of its log)."""
    settings = dict(
        _query(primary, "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)", [list(STANDBY_MINIMUMS)])
    )
    parent = Path(tempfile.mkdtemp(prefix="dc_replica_"))
    shutil.chown(parent, "postgres", "postgres")
    data, log = parent / "data", parent / "replica.log"
    port = free_port()
    started = False
    try:
        backup = _as_postgres(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(PRIMARY["port"]),
            "-U",
            role,
            "-D",
            str(data),
            "-R",  # standby.signal and primary_conninfo: the copy streams from the primary once started
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
            env={"PGPASSWORD": password},
            timeout=90,
            check=False,
        )
        if backup.returncode:
            reason = backup.stderr.strip()[-300:]
            if "pg_hba.conf" in reason or "wal_level" in reason or "number of requested standby" in reason:
                pytest.skip(f"the primary cannot stream to a replica without a configuration change: {reason}")
            pytest.fail(f"pg_basebackup failed: {reason}")
        # Debian keeps postgresql.conf and pg_hba.conf outside the data directory: the copy gets its own.
        conf = {
            "port": port,
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{parent}'",
            "hot_standby": "on",
            "shared_buffers": "'32MB'",
            "fsync": "off",
            "log_statement": "'all'",
            "log_line_prefix": "'%m [%p] db=%d app=%a '",
            **settings,
        }
        (data / "postgresql.conf").write_text("".join(f"{key} = {value}\n" for key, value in conf.items()))
        (data / "pg_hba.conf").write_text("local all postgres peer\nhost all all 127.0.0.1/32 scram-sha-256\n")
        for name in ("postgresql.conf", "pg_hba.conf"):
            shutil.chown(data / name, "postgres", "postgres")
        _as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", timeout=90)
        started = True
        yield port, log
    finally:
        if started:
            _as_postgres(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop", timeout=60, check=False)
        shutil.rmtree(parent, ignore_errors=True)


def _wait_replayed(primary, replica, seconds=60):
    """Wait until the replica has replayed the primary's WAL up to now; answer the wait in seconds."""
    target = _query(primary, "SELECT pg_current_wal_lsn()")[0][0]
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        caught_up = _query(replica, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target])[0][0]
        if caught_up:
            return time.monotonic() - start
        time.sleep(0.2)
    pytest.fail(f"the replica did not replay {target} in {seconds} s")


def _prepare_with_shell(rc, db):
    """A distribution_metrics API key of admin (a Distribution Manager) and an inbound endpoint, made the way
    the readme says, in ``odoo-bin shell``: (key, endpoint secret)."""
    script = f"""
from datetime import timedelta
from odoo import fields
admin = env.ref("base.user_admin")
key = env["res.users.apikeys"].with_user(admin).sudo()._generate(
    "distribution_metrics", "replica proof", fields.Datetime.now() + timedelta(days=1))
endpoint = env["distribution.inbound.endpoint"].create(
    {{"name": "Replica proof", "code": "{ENDPOINT_CODE}", "handler": "carrier_status"}})
env.cr.commit()
print("REPLICA-PROOF", key, endpoint.secret, endpoint.company_id.name, sep="\\t")
"""
    done = subprocess.run(
        [sys.executable, str(odoo_bin()), "shell", "-c", rc, "-d", db, "--no-http", "--log-level=warn"],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    line = next((line for line in done.stdout.splitlines() if line.startswith("REPLICA-PROOF\t")), None)
    assert line, f"odoo-bin shell made no key: {done.stdout[-1000:]} {done.stderr[-2000:]}"
    _tag, key, secret, company = line.split("\t")
    return key, secret, company


def _post_webhooks(url, secret, company, count, answers):
    signature = load_service("distribution_orchestration", "signature")
    session = requests.Session()
    for sequence in range(count):
        event_id = str(uuid.uuid4())
        now = time.time()
        occurred_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        data = {"tracking_ref": f"REPLICA-{sequence:05d}", "status": "in_transit", "occurred_at": occurred_at}
        body = signature.envelope(event_id, "carrier.status", occurred_at, company, data)
        headers = {
            "Content-Type": "application/json",
            **signature.headers(secret, "carrier.status", event_id, int(now), body),
        }
        response = session.post(f"{url}/distribution/webhook/{ENDPOINT_CODE}", data=body, headers=headers, timeout=30)
        answers.append(response.status_code)


def _replica_xacts(replica, db):
    return _query(replica, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", [db])[0][0]


def test_dashboard_health_and_metrics_read_on_the_replica(tmp_path):
    template = database_under_test()
    rc = odoo_rc()
    began = time.monotonic()
    primary = _connect()
    settings = dict(
        _query(
            primary,
            "SELECT name, setting FROM pg_settings"
            " WHERE name IN ('wal_level', 'max_wal_senders', 'server_version_num')",
        )
    )
    if settings["wal_level"] not in ("replica", "logical"):
        pytest.skip(f"the primary has wal_level={settings['wal_level']}: streaming needs 'replica' and a restart")
    senders = _query(primary, "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender'")[0][0]
    if int(settings["max_wal_senders"]) <= senders:
        pytest.skip(f"the primary's {settings['max_wal_senders']} WAL senders are all busy")
    bindir = _pg_bindir(int(settings["server_version_num"]))

    with (
        _replication_role(primary) as (role, password),
        _database_copy(primary, template) as db,
    ):
        key, secret, company = _prepare_with_shell(rc, db)
        filestore = None
        data_dir = configparser.ConfigParser()
        data_dir.read(rc)
        source = Path(data_dir.get("options", "data_dir", fallback="/nonexistent")) / "filestore"
        if (source / template).is_dir():  # the web assets of the template, so that the copy serves pages too
            filestore = source / db
            shutil.copytree(source / template, filestore)
        try:
            backup_began = time.monotonic()
            with _replica_cluster(primary, bindir, role, password) as (replica_port, replica_log):
                replica_ready = time.monotonic() - backup_began
                replica = _connect(db, port=replica_port)
                assert _query(replica, "SELECT pg_is_in_recovery()")[0][0], "the copy is not a standby"
                catch_up = _wait_replayed(primary, replica)
                odoo_log = tmp_path / "odoo.log"
                with running_odoo(
                    rc,
                    db,
                    odoo_log,
                    "--db_replica_host=127.0.0.1",
                    f"--db_replica_port={replica_port}",
                    ready="/web/health",
                    env=dict(os.environ, ODOO_PGAPPNAME="dc-replica-proof-{pid}"),
                ) as url:
                    _prove(
                        url, db, key, secret, company, primary, replica, replica_log, odoo_log, replica_ready, catch_up
                    )
                replica.close()
        finally:
            if filestore:
                shutil.rmtree(filestore, ignore_errors=True)
    primary.close()
    print(f"\n[replica] whole proof in {time.monotonic() - began:.1f} s")


def _prove(url, db, key, secret, company, primary, replica, replica_log, odoo_log, replica_ready, catch_up):
    rpc = Rpc(url, db, timeout=60)
    log_offset = replica_log.stat().st_size
    xacts_before = _replica_xacts(replica, db)

    answers = []
    sender = threading.Thread(target=_post_webhooks, args=(url, secret, company, WEBHOOKS, answers), daemon=True)
    sender.start()
    reads = {"dashboard": 0, "health": 0, "metrics": 0}
    periods = ("1h", "24h", "7d")
    lags = []
    while sender.is_alive() or reads["dashboard"] < 3:
        period = periods[reads["dashboard"] % 3]
        assert rpc("distribution.workflow.run", "get_dashboard_data", period=period)["period"] == period
        reads["dashboard"] += 1
        auth = {"Authorization": f"Bearer {key}"}
        health = requests.get(f"{url}/distribution/health", headers=auth, timeout=30)
        assert health.status_code in (200, 503), health.text[:300]
        assert health.json()["status"] in ("ok", "warning", "failing")
        reads["health"] += 1
        metrics = requests.get(f"{url}/distribution/metrics", headers=auth, timeout=30)
        assert metrics.status_code == 200, metrics.text[:300]
        assert "distribution_workflow_runs" in metrics.text
        reads["metrics"] += 1
        lags.append(_query(replica, "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())")[0][0])
    sender.join(timeout=120)
    assert answers.count(202) == WEBHOOKS, f"webhook answers: {sorted(set(answers))}"
    # The events are stored on the primary ...
    primary_db = _connect(db)
    try:
        stored = _query(
            primary_db,
            "SELECT count(*) FROM distribution_inbound_event e JOIN distribution_inbound_endpoint p"
            " ON p.id = e.endpoint_id WHERE p.code = %s",
            [ENDPOINT_CODE],
        )[0][0]
    finally:
        primary_db.close()
    assert stored == WEBHOOKS
    # ... and streamed to the replica.
    replayed = _wait_replayed(primary, replica)
    xacts = _replica_xacts(replica, db) - xacts_before

    # The replica's statement log: what Odoo's read-only pool ran there, per door.
    with replica_log.open("rb") as handle:
        handle.seek(log_offset)
        text = handle.read().decode(errors="replace")
    # One entry per log line prefix: Odoo's statements span several lines.
    entries = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text)
    ours = [entry for entry in entries if f"db={db} app=dc-replica-proof-" in entry and "statement:" in entry]
    figures = {
        "dashboard slots (width_bucket)": sum("width_bucket" in entry for entry in ours),
        "workflow KPIs (percentile_cont)": sum("percentile_cont" in entry for entry in ours),
        "API key checks (res_users_apikeys)": sum("res_users_apikeys" in entry for entry in ours),
        "writes (INSERT/UPDATE/DELETE)": sum(
            bool(re.search(r"statement:\s*(INSERT|UPDATE|DELETE)\b", entry, re.I)) for entry in ours
        ),
    }
    odoo_text = odoo_log.read_text(errors="replace")
    retries = odoo_text.count("retrying with a read/write cursor")
    fallbacks = odoo_text.count("Failed to open a readonly cursor")
    print(
        f"\n[replica] base backup and start {replica_ready:.1f} s, first catch-up {catch_up:.2f} s;"
        f" {WEBHOOKS} webhooks answered 202 and stored on the primary, replayed {replayed:.2f} s after the last;"
        f" reads {reads}; replay lag seen by the reads max {max(lags or [0]) or 0:.2f} s;"
        f" replica transactions in {db}: {xacts}; replica statements of Odoo: {len(ours)}, {figures};"
        f" Odoo log: {retries} retries on the primary, {fallbacks} fallbacks"
    )
    # Each dashboard call runs its one slot query on the replica, each health and metrics call its one key
    # check: all of them ran there, none on the primary.
    assert figures["dashboard slots (width_bucket)"] == reads["dashboard"]
    assert figures["API key checks (res_users_apikeys)"] == reads["health"] + reads["metrics"]
    assert figures["workflow KPIs (percentile_cont)"] >= 2 * reads["dashboard"] + reads["health"] + reads["metrics"]
    assert figures["writes (INSERT/UPDATE/DELETE)"] == 0
    assert retries == 0, "a read-only door wrote and was retried on the primary"
    assert fallbacks == 0, "Odoo could not open a replica cursor and read from the primary"
