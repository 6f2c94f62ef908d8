"""What the fault tests run against: real Odoo servers (prefork, with a cron worker) on a throw-away copy of the
test database, a local HTTP receiver standing for n8n, the endpoints and products they use (made over JSON-RPC
as a user would), and how they print their figures. Loopback only.

Everything here is bounded: every wait has a deadline, every server started is killed (its whole process
group) by the fixture that started it, whatever the outcome.
"""

import configparser
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections import defaultdict
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import psutil
import psycopg2
import requests

from .odoo_process import ROOT
from .odoo_process import free_port
from .odoo_process import odoo_bin
from .odoo_process import odoo_command
from .odoo_process import odoo_rc
from .services import load_service

signature = load_service("distribution_orchestration", "signature")


# A prefork worker announces itself in the log when it starts.
WORKER_ALIVE = re.compile(r"Worker (WorkerHTTP|WorkerCron) \((\d+)\) alive")
# A log record starts with its timestamp; the lines after it (a traceback) belong to it.
LOG_RECORD = re.compile(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ )")
# The head of a log record: level, database, logger, then the message (and its traceback).
LOG_HEAD = re.compile(r"\S+ \S+ \d+ (ERROR|CRITICAL) (\S+) (\S+): (.*)", re.S)
# The suite's code in a traceback (a file of one of its addons).
OUR_FILES = re.compile(r"/distribution_(?:observability|orchestration|approvals|ai_triage)/")
# What two transactions on the same rows meet: Odoo logs the failed statement, its caller retries.
CONCURRENCY = re.compile(r"could not serialize access|could not obtain lock|deadlock detected")


def ours(record):
    """Whether an ERROR or CRITICAL log record is the suite's: its logger is one of the suite's addons, or a
    file of the suite is in its traceback, or it is a failed statement on one of the suite's tables other than
    a concurrency conflict (Odoo logs every failed statement; a conflict is retried by the caller, and one that
    is not shows as a failed job or request, with its traceback). Not a match on the text alone: the test
    databases' names start with distribution_."""
    head = LOG_HEAD.match(record)
    if not head:
        return bool(OUR_FILES.search(record))
    _level, _db, logger, message = head.groups()
    if logger.startswith("odoo.addons.distribution_") or OUR_FILES.search(message):
        return True
    return logger == "odoo.sql_db" and '"distribution_' in message and not CONCURRENCY.search(message)


def wait_for(what, condition, seconds, interval=0.2):
    """Poll ``condition`` until it answers something true (returned), at most ``seconds``; raise otherwise."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {seconds} s")
        time.sleep(interval)


# -- database -----------------------------------------------------------------------------------------
class Database:
    """A throw-away copy of a template database (createdb -T), dropped by ``drop``; ``query`` reads it
    directly (the checks must work while a server is dead)."""

    def __init__(self, rc, template, name):
        cfg = configparser.ConfigParser()
        cfg.read(rc)
        opt = cfg["options"]
        self.name = name
        self.dsn = {
            "host": opt.get("db_host") or "localhost",
            "port": opt.get("db_port") or "5432",
            "user": opt.get("db_user") or "odoo",
            "password": opt.get("db_password") or "",
        }
        self.env = dict(
            os.environ,
            PGHOST=self.dsn["host"],
            PGPORT=str(self.dsn["port"]),
            PGUSER=self.dsn["user"],
            PGPASSWORD=self.dsn["password"],
            PGOPTIONS="-c client_min_messages=warning",
        )
        self.template = template

    def create(self):
        self.drop()
        # The template must have no session open: retry a little while another one (a test server) leaves it.
        deadline = time.monotonic() + 60
        while True:
            done = subprocess.run(
                ["createdb", "-T", self.template, self.name], env=self.env, capture_output=True, text=True
            )
            if done.returncode == 0:
                return
            if "being accessed by other users" not in done.stderr or time.monotonic() > deadline:
                raise RuntimeError(f"createdb -T {self.template} {self.name}: {done.stderr.strip()}")
            time.sleep(1)

    def drop(self):
        subprocess.run(["dropdb", "--if-exists", "--force", self.name], env=self.env, check=True)

    def execute(self, sql, params=None):
        """Run a statement that answers no rows (the setup of a throw-away copy); answer the rows it touched."""
        with psycopg2.connect(dbname=self.name, **self.dsn) as conn, conn.cursor() as cr:
            cr.execute(sql, params)
            count = cr.rowcount
        conn.close()
        return count

    def wake_crons(self):
        """Wake the servers' cron workers as ``ir.cron._trigger()`` does once its transaction commits: a
        notification on the ``postgres`` database, where they listen (not on this one)."""
        with psycopg2.connect(dbname="postgres", **self.dsn) as conn, conn.cursor() as cr:
            cr.execute("SELECT pg_notify('cron_trigger', %s)", [self.name])
        conn.close()

    def query(self, sql, params=None):
        with psycopg2.connect(dbname=self.name, **self.dsn) as conn, conn.cursor() as cr:
            cr.execute(sql, params)
            rows = cr.fetchall()
        conn.close()
        return rows


# -- the receiver -------------------------------------------------------------------------------------
class Receiver:
    """An HTTP receiver on 127.0.0.1 that checks each request's signature, waits ``delay`` seconds (so that
    deliveries are in flight when a server is killed), answers 200 and records: every delivery per event id,
    the events that arrived while another request of theirs was still in flight, the bad signatures and the
    requests cut short (a killed sender).

    An outage is played with ``answer`` (a status other than 200, e.g. 503: the request is answered so and
    not counted as a delivery) and ``stop_listening`` / ``listen`` (the socket closed: connections are
    refused, and a request on a connection kept alive from before is dropped unanswered). ``arrivals``
    lists every request answered: (time.monotonic(), event id, status)."""

    def __init__(self, secret, delay=0.05):
        self.secret = secret
        self.delay = delay
        self.answer = 200
        self.listening = False
        self.lock = threading.Lock()
        self.deliveries = Counter()  # event id: requests received
        self.in_flight = Counter()  # event id: requests being handled now
        self.overlaps = Counter()  # event id: times a request arrived while another one of it was in flight
        self.arrivals = []  # (time.monotonic(), event id, status answered)
        self.bad_signatures = 0
        self.truncated = 0  # requests cut short by their sender's death
        self.dropped = 0  # requests on a kept-alive connection while the socket was closed
        self.first_at = self.last_at = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the outbox's session expects

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender died in the middle of the request (kill -9): nothing was delivered.
                    with receiver.lock:
                        receiver.truncated += 1
                    self.close_connection = True
                    return
                if not receiver.listening:
                    # The receiver is down: a connection opened before is cut without an answer.
                    with receiver.lock:
                        receiver.dropped += 1
                    self.close_connection = True
                    return
                event_id = self.headers.get(signature.HEADER_EVENT_ID) or json.loads(body or b"{}").get("id")
                try:
                    signature.verify(
                        receiver.secret,
                        self.headers.get(signature.HEADER_TIMESTAMP),
                        body,
                        self.headers.get(signature.HEADER_SIGNATURE),
                        now=time.time(),
                    )
                    valid = True
                except signature.SignatureError:
                    valid = False
                answer = receiver.answer if valid else 401
                with receiver.lock:
                    if receiver.in_flight[event_id]:
                        receiver.overlaps[event_id] += 1
                    receiver.in_flight[event_id] += 1
                    receiver.first_at = receiver.first_at or time.monotonic()
                time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.in_flight[event_id] -= 1
                    if not valid:
                        receiver.bad_signatures += 1
                    elif answer == 200:
                        receiver.deliveries[event_id] += 1
                        receiver.last_at = time.monotonic()
                    receiver.arrivals.append((time.monotonic(), event_id, answer))
                body = b"" if answer < 300 else b"receiver unavailable"
                self.send_response(answer)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                # A connection reset by a killed sender is part of the test, not an error of the receiver.
                receiver.resets += 1

        self.resets = 0
        self._server_class, self._handler = Server, Handler
        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/distribution/events"
        self.thread = None

    def listen(self):
        """Open the socket (again, on the same port) and serve."""
        if self.server is None:
            self.server = self._server_class(("127.0.0.1", self.port), self._handler)
        self.listening = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fault-receiver", daemon=True)
        self.thread.start()

    def stop_listening(self):
        """Close the socket: new connections are refused until ``listen``."""
        self.listening = False
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        self.listen()
        return self

    def __exit__(self, *exc):
        self.stop_listening()

    def snapshot(self):
        with self.lock:
            return Counter(self.deliveries)


# -- Odoo servers ---------------------------------------------------------------------------------------
def server_config(rc, path):
    """A copy of the Odoo configuration for the fault servers: outbound posts to 127.0.0.1 allowed (the
    receiver), the audit chain's head file kept out of the developer's own."""
    cfg = configparser.ConfigParser()
    cfg.read(rc)
    cfg["options"]["distribution_outbound_allow_private"] = "True"
    cfg["options"]["distribution_audit_head_file"] = str(path.parent / "audit-heads.jsonl")
    with path.open("w") as handle:
        cfg.write(handle)
    return path


class OdooServer:
    """One Odoo server in prefork mode (``workers`` HTTP workers, one cron worker) on a free port, started
    in its own process group so that ``kill9`` takes the master, its workers and its gevent process at once."""

    def __init__(self, name, rc, db, log_dir, workers=2, extra_args=()):
        self.name = name
        self.rc = rc
        self.db = db
        self.log_dir = log_dir
        self.workers = workers
        self.extra_args = list(extra_args)  # more odoo-bin options (the soak's --limit-request)
        self.proc = None
        self.starts = 0
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self):
        return self.log_dir / f"{self.name}-{self.starts}.log"

    def start(self, seconds=120):
        self.starts += 1
        self.port = free_port()
        self.proc = subprocess.Popen(
            odoo_command(
                self.rc,
                self.db,
                self.port,
                self.log,
                f"--gevent-port={free_port()}",
                f"--workers={self.workers}",
                "--max-cron-threads=1",
                *self.extra_args,
            ),
            cwd=ROOT,
            start_new_session=True,  # its own process group: the workers are killed with it
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + seconds
        while True:
            try:
                if requests.get(f"{self.url}/web/login", timeout=10).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text()[-3000:] if self.log.exists() else ""
                raise RuntimeError(f"server {self.name} did not answer on {self.url}: {tail}")
            time.sleep(0.3)

    def processes(self):
        """The live processes of the server's group (master, HTTP and cron workers, gevent)."""
        if not self.proc or self.proc.poll() is not None:
            return []
        try:
            master = psutil.Process(self.proc.pid)
            return [master, *master.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def worker_memory(self):
        """{pid: (role, RSS in bytes)} of the live HTTP and cron workers of the server's group. The role comes
        from the server's log ("Worker WorkerHTTP (pid) alive"): prefork workers are forks of the master and
        share its command line (no setproctitle here)."""
        roles = {}
        for start in range(1, self.starts + 1):
            path = self.log_dir / f"{self.name}-{start}.log"
            if path.exists():
                for kind, pid in WORKER_ALIVE.findall(path.read_text(errors="replace")):
                    roles[int(pid)] = "http" if kind == "WorkerHTTP" else "cron"
        memory = {}
        for process in self.processes():
            if process.pid in roles:
                with contextlib.suppress(psutil.NoSuchProcess):
                    memory[process.pid] = (roles[process.pid], process.memory_info().rss)
        return memory

    def connected_to(self, port):
        """Whether one of the server's processes has a connection open to ``port`` on 127.0.0.1 (its cron
        worker posting to the receiver)."""
        for process in self.processes():
            try:
                # psutil 6 renamed connections() (the version Odoo 18 pins) to net_connections().
                connections = getattr(process, "net_connections", None) or process.connections
                connections = connections(kind="tcp")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            if any(c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED for c in connections):
                return True
        return False

    def kill9(self):
        """SIGKILL to the whole process group, as the OOM killer or a pulled plug would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self):
        """Stop it cleanly (SIGTERM to the group), SIGKILL after 30 s; safe to call on a dead server."""
        if not self.proc:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the workers, should one outlive its master
        if self.proc.poll() is None:
            self.proc.wait(timeout=30)

    def outbox_batches(self):
        """(batches, events delivered) that this server's cron worker logged, over all its starts."""
        batches = delivered = 0
        for start in range(1, self.starts + 1):
            path = self.log_dir / f"{self.name}-{start}.log"
            if not path.exists():
                continue
            for line in path.read_text(errors="replace").splitlines():
                if "Outbox batch of " in line:
                    batches += 1
                    delivered += int(line.split(": ", 2)[-1].split(" delivered")[0].split()[-1])
        return batches, delivered

    def log_problems(self):
        """(ours, others): the ERROR and CRITICAL records of the server's logs (all its starts), the suite's (see
        ``ours``) and the rest (Odoo's own jobs, such as its procurement scheduler meeting a concurrent update,
        which it retries at its next run; a statement of the suite meeting one, which its caller retries)."""
        mine, others = [], []
        for start in range(1, self.starts + 1):
            path = self.log_dir / f"{self.name}-{start}.log"
            if not path.exists():
                continue
            for record in LOG_RECORD.split(path.read_text(errors="replace")):
                if " ERROR " in record[:200] or " CRITICAL " in record[:200]:
                    (mine if ours(record) else others).append(record[:2000])
        return mine, others


def start_all(servers):
    """Start several servers side by side (each waits for its own port); raise the first failure."""
    errors = []

    def start(server):
        try:
            server.start()
        except Exception as error:  # reported below, with the server's log
            errors.append(error)

    threads = [threading.Thread(target=start, args=(server,), daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


@contextlib.contextmanager
def database_copy(template, tmp, label):
    """A throw-away copy of ``template`` named after ``label``, and the fault servers' configuration written in
    ``tmp``; yields (configuration path, database). The copy is dropped at the end, whatever happened."""
    rc = server_config(odoo_rc(), tmp / "odoo.conf")
    db = Database(rc, template, f"{template}_{label}_{os.getpid()}")
    db.create()
    try:
        yield rc, db
    finally:
        db.drop()


@contextlib.contextmanager
def servers_on_copy(template, tmp, names=("a", "b"), workers=2, extra_args=(), label="fault"):
    """Servers (prefork, one cron worker each) on a throw-away copy of ``template``; yields (database,
    servers). Every server is stopped and the copy dropped at the end, whatever happened."""
    with database_copy(template, tmp, label) as (rc, db):
        servers = [OdooServer(name, rc, db.name, tmp, workers=workers, extra_args=extra_args) for name in names]
        try:
            start_all(servers)
            yield db, servers
        finally:
            for server in servers:
                server.stop()


# -- what the tests set up over JSON-RPC ----------------------------------------------------------------
def receiver_endpoint(admin, receiver, name, **vals):
    """An outbound endpoint posting to ``receiver`` (its secret, a 2 s timeout, more ``vals``); answer its id."""
    return admin(
        "distribution.outbound.endpoint",
        "create",
        {"name": name, "url": receiver.url, "secret": receiver.secret, "timeout": 2, **vals},
    )


def inbound_endpoint(admin, name, code, handler):
    """A signed inbound endpoint ``/distribution/webhook/<code>`` of ``handler`` with a new secret; answer (its
    id, the secret, the name of its company: what a partner system signs its events with)."""
    secret = secrets.token_urlsafe(24)
    endpoint = admin(
        "distribution.inbound.endpoint",
        "create",
        {"name": name, "code": code, "handler": handler, "secret": secret},
    )
    company = admin("distribution.inbound.endpoint", "read", [endpoint], ["company_id"])[0]["company_id"][1]
    return endpoint, secret, company


def customer_and_service(admin):
    """(partner id, product id): the demo's customer Azure Interior and a service product on sale, what the
    fault tests' orders are made of (an order of a service is never held for stock)."""
    partner = admin("res.partner", "search", [("name", "=", "Azure Interior")], limit=1)[0]
    service = admin("product.product", "search", [("type", "=", "service"), ("sale_ok", "=", True)], limit=1)[0]
    return partner, service


def scarce_product(admin, name):
    """A storable product with no stock: the stock rule holds an order of it (order.held, exception.created)."""
    return admin("product.product", "create", {"name": name, "type": "consu", "is_storable": True})


def report(title, figures):
    """Print ``figures`` ({label: value}) aligned under ``title`` (none: under what was printed before)."""
    width = max(len(key) for key in figures)
    if title:
        print(f"\n--- {title} ---")
    for key, value in figures.items():
        print(f"  {key:<{width}}  {value}")


# -- signed inbound events ------------------------------------------------------------------------------
def signed_event(secret, event_type, data, company, event_id=None, now=None):
    """(event id, body, headers) of one request to ``/distribution/webhook/<code>``, signed as a partner
    system signs it (the contract's envelope and headers)."""
    event_id = event_id or str(uuid.uuid4())
    now = int(now or time.time())
    occurred_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    body = signature.envelope(event_id, event_type, occurred_at, company, data)
    headers = signature.headers(secret, event_type, event_id, now, body)
    headers["Content-Type"] = "application/json"
    return event_id, body, headers


def post_event(url, code, secret, event_type, data, company, event_id=None, timeout=30):
    """Post one signed event; (event id, HTTP status, answer as JSON or None)."""
    event_id, body, headers = signed_event(secret, event_type, data, company, event_id=event_id)
    answer = requests.post(f"{url}/distribution/webhook/{code}", data=body, headers=headers, timeout=timeout)
    try:
        content = answer.json()
    except ValueError:
        content = None
    return event_id, answer.status_code, content


# -- outcomes -------------------------------------------------------------------------------------------
def duplicates(deliveries):
    """{event id: deliveries} of the events delivered more than once."""
    return {event_id: count for event_id, count in deliveries.items() if count > 1}


def group_count(rows):
    counts = defaultdict(int)
    for key, count in rows:
        counts[key] += count
    return dict(counts)


# -- odoo-bin shell, health, PostgreSQL ------------------------------------------------------------------
def odoo_shell(rc, db, script, marker, seconds=180):
    """Run ``script`` in ``odoo-bin shell`` on ``db`` (what an administrator does, as the readmes say) and
    answer the tab-separated fields it printed on the line starting with ``marker``."""
    done = subprocess.run(
        [sys.executable, str(odoo_bin()), "shell", "-c", str(rc), "-d", db, "--no-http", "--log-level=warn"],
        input=script,
        capture_output=True,
        text=True,
        timeout=seconds,
        cwd=ROOT,
    )
    line = next((line for line in done.stdout.splitlines() if line.startswith(marker + "\t")), None)
    if not line:
        raise RuntimeError(f"odoo-bin shell printed no {marker}: {done.stdout[-1000:]} {done.stderr[-2000:]}")
    return line.split("\t")[1:]


def metrics_key(rc, db, login="admin"):
    """A read-only API key of scope distribution_metrics for ``login`` (a Distribution Manager), made as
    distribution_observability's CONFIGURE says."""
    script = f"""
from datetime import timedelta
from odoo import fields
user = env["res.users"].search([("login", "=", {login!r})])
key = env["res.users.apikeys"].with_user(user).sudo()._generate(
    "distribution_metrics", "fault tests", fields.Datetime.now() + timedelta(days=1))
env.cr.commit()
print("FAULT-KEY", key, sep="\\t")
"""
    return odoo_shell(rc, db, script, "FAULT-KEY")[0]


def health(url, key):
    """(HTTP status, body) of GET /distribution/health with the API key."""
    response = requests.get(f"{url}/distribution/health", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    return response.status_code, response.json()


class PostgresCluster:
    """The local PostgreSQL cluster serving ``port`` (Debian's pg_lsclusters / pg_ctlcluster), restarted as
    root; ``why_not`` says why it cannot be (not root, no such tools, not a local cluster)."""

    def __init__(self, dsn):
        self.dsn = dsn
        self.version = self.name = None
        self.why_not = None
        if dsn["host"] not in ("localhost", "127.0.0.1", "::1", "") and not dsn["host"].startswith("/"):
            self.why_not = f"the database server {dsn['host']} is not on this machine"
        elif os.geteuid() != 0:
            self.why_not = "restarting PostgreSQL needs root (pg_ctlcluster)"
        else:
            try:
                listing = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout
            except (OSError, subprocess.CalledProcessError) as exc:
                self.why_not = f"no pg_lsclusters here ({exc})"
                return
            for line in listing.splitlines():
                version, name, port, status, *_rest = line.split()
                if port == str(dsn["port"]) and status.startswith("online"):
                    self.version, self.name = version, name
            if not self.name:
                self.why_not = f"no online local cluster on port {dsn['port']}: {listing.strip()}"

    def accepts(self):
        try:
            psycopg2.connect(dbname="postgres", connect_timeout=2, **self.dsn).close()
            return True
        except psycopg2.OperationalError:
            return False

    def restart(self):
        """pg_ctlcluster restart (fast shutdown: every session on the machine is cut); answer its duration."""
        started = time.monotonic()
        subprocess.run(["pg_ctlcluster", self.version, self.name, "restart"], check=True, timeout=120)
        return time.monotonic() - started
