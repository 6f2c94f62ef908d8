"""The read-only doors: what a monitoring system and the dashboard call is served on a read-only cursor
(a streaming replica when the server has ``db_replica_host``), and never falls back to the primary.

Odoo 18 opens the cursor of a ``readonly=True`` route, and of ``/web/dataset/call_kw`` for an
``@api.readonly`` method, on the replica; if the request then writes, PostgreSQL refuses
(ReadOnlySqlTransaction), Odoo logs "retrying with a read/write cursor" and runs the whole request again on
the primary. In tests the read-only cursor is a real ``SET TRANSACTION READ ONLY``: a write fails the same
way. Each door is spied on: the cursor mode of every attempt is recorded, so a door that is not read-only
shows ``[False]`` and a door that writes shows ``[True, False]``."""

import contextlib
import functools
import logging
from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.http import request
from odoo.tests import HttpCase
from odoo.tests import new_test_user
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..controllers.main import METRICS_SCOPE
from ..controllers.main import DistributionObservabilityController
from .rpc import JsonRpcMixin

RETRY_MESSAGE = "retrying with a read/write cursor"


class _RetryLog(logging.Handler):
    """Collects the retry warnings of odoo.http (the server threads of the test log to the same logger)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.retries = []

    def emit(self, record):
        if RETRY_MESSAGE in record.getMessage():
            self.retries.append(record.getMessage())


@tagged("post_install", "-at_install")
class TestReadOnlyDoors(JsonRpcMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(
            cls.env, "replica_manager", groups="distribution_observability.group_distribution_manager"
        )
        expires = fields.Datetime.now() + timedelta(days=1)
        cls.metrics_key = (
            cls.env["res.users.apikeys"].with_user(cls.manager).sudo()._generate(METRICS_SCOPE, "monitoring", expires)
        )
        workflow = cls.env["distribution.workflow"].search([], limit=1)
        cls.env["distribution.workflow.run"].create(
            [
                {"workflow_id": workflow.id, "state": state, "duration_ms": 40, "started_at": fields.Datetime.now()}
                for state in ("success", "failed")
            ]
        )

    @contextlib.contextmanager
    def _attempts(self, cls, name, cursor_of, retry_expected=False):
        """Patch ``cls.name`` to record, on each call, whether its cursor is read-only (one call per attempt
        of the request: a retry on the primary calls it again). Yields the list of modes. Unless a retry is
        expected, also checks that odoo.http logged no retry."""
        modes = []
        original = getattr(cls, name)

        @functools.wraps(original)  # keeps the _api and _readonly markers Odoo routes on
        def spy(this, *args, **kwargs):
            modes.append(cursor_of(this).readonly)
            return original(this, *args, **kwargs)

        retry_log = _RetryLog()
        logger = logging.getLogger("odoo.http")
        if not retry_expected:
            logger.addHandler(retry_log)
        try:
            with patch.object(cls, name, spy):
                yield modes
        finally:
            logger.removeHandler(retry_log)
        self.assertEqual(retry_log.retries, [], "the request wrote and was retried on the primary")

    def _model_attempts(self, model, method):
        return self._attempts(type(self.env[model]), method, lambda records: records.env.cr)

    def _route_attempts(self, retry_expected=False):
        # The controller's first step of both routes: the API key check, on the request's cursor.
        return self._attempts(
            DistributionObservabilityController,
            "_authenticated_env",
            lambda _controller: request.env.cr,
            retry_expected=retry_expected,
        )

    def _get(self, path):
        return self.url_open(path, headers={"Authorization": f"Bearer {self.metrics_key}"})

    def test_health_and_metrics_run_on_a_read_only_cursor(self):
        for path in ("/distribution/health", "/distribution/metrics"):
            with self.subTest(path=path), self._route_attempts() as modes:
                response = self._get(path)
                self.assertIn(response.status_code, (200, 503), response.text[:300])
                self.assertNotIn("error", response.text[:20])
            self.assertEqual(modes, [True], f"{path}: one attempt, on a read-only cursor")

    def test_a_refused_key_is_answered_on_a_read_only_cursor(self):
        with self._route_attempts() as modes:
            response = self.url_open("/distribution/metrics", headers={"Authorization": "Bearer not-a-key"})
        self.assertEqual(response.status_code, 401)
        self.assertEqual(modes, [True])

    def test_dashboard_data_runs_on_a_read_only_cursor(self):
        self.rpc_login(self.manager)
        for period in ("1h", "24h", "7d"):
            with (
                self.subTest(period=period),
                self._model_attempts("distribution.workflow.run", "get_dashboard_data") as modes,
            ):
                data, error = self.rpc("distribution.workflow.run", "get_dashboard_data", period=period)
                self.assertIsNone(error)
                self.assertEqual(data["period"], period)
                self.assertGreaterEqual(data["tiles"]["runs"], 2)
            self.assertEqual(modes, [True])

    def test_dashboard_links_run_on_a_read_only_cursor(self):
        """The dashboard's clicks that only answer an action: a queue's items, a checklist step's screen."""
        self.rpc_login(self.manager)
        monitor = self.env["distribution.queue.monitor"].search([], limit=1)
        self.assertTrue(monitor, "the data of the addon ships monitored queues")
        with self._model_attempts("distribution.queue.monitor", "action_open_items") as modes:
            action, error = self.rpc("distribution.queue.monitor", "action_open_items", monitor.ids)
            self.assertIsNone(error)
            self.assertEqual(action["res_model"], monitor.model_name)
        self.assertEqual(modes, [True])

        Onboarding = self.env["distribution.onboarding"].with_user(self.manager)
        keys = [step["key"] for step in Onboarding._distribution_checklist_steps()]
        for key in keys:  # each addon's steps, whatever is installed (none when this addon is alone)
            with self.subTest(step=key), self._model_attempts("distribution.onboarding", "action_open_step") as modes:
                action, error = self.rpc("distribution.onboarding", "action_open_step", key)
                self.assertIsNone(error)
                self.assertTrue(action["type"].startswith("ir.actions."))
            self.assertEqual(modes, [True])

    def test_a_write_in_a_read_only_door_is_seen(self):
        """The control of the spies above: a door that writes is refused on the read-only cursor and
        retried on the primary, and both the attempts and the log show it."""
        Run = type(self.env["distribution.workflow.run"])
        original = Run._metric_families

        def writing_families(this):
            this.env["ir.config_parameter"].sudo().set_param("distribution_observability.test_replica_write", "1")
            return original(this)

        with (
            patch.object(Run, "_metric_families", writing_families),
            mute_logger("odoo.sql_db"),  # its "bad query" line for the refused INSERT
            self.assertLogs("odoo.http", logging.WARNING) as logs,
            self._route_attempts(retry_expected=True) as modes,
        ):
            response = self._get("/distribution/metrics")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(modes, [True, False], "refused on the read-only cursor, then retried on the primary")
        self.assertTrue(any(RETRY_MESSAGE in line for line in logs.output), logs.output)
