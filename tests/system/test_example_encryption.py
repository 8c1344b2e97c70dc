"""The example project encrypts cached tokens by default, with a key of its own in
``.state/``, made once and kept across restarts."""

from __future__ import annotations

import os
import runpy
import stat
from pathlib import Path
from typing import Any

import pytest

from django_workos_pipes.caching import crypto
from tests.system.processes import ROOT, run_python

SETTINGS = ROOT / "example_project" / "settings.py"
MANAGE = ROOT / "example_project" / "manage.py"
VARIABLES = ("WORKOS_PIPES_ENCRYPTION_KEYS", "ENCRYPT_TOKENS", "CACHE_URL", "DATABASE_URL")


def example_settings(state_dir: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """``WORKOS_PIPES`` of the example's settings module, run as it is at start-up."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EXAMPLE_STATE_DIR", str(state_dir))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))["WORKOS_PIPES"]


def test_a_key_is_made_on_the_first_run_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (key,) = example_settings(tmp_path, monkeypatch)["ENCRYPTION_KEYS"]
    assert crypto.decode_key(key) is not None
    path = tmp_path / "encryption.key"
    assert path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert example_settings(tmp_path, monkeypatch)["ENCRYPTION_KEYS"] == [key]


def test_keys_from_the_environment_win_and_encryption_can_be_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new, old = crypto.generate_key(), crypto.generate_key()
    pipes = example_settings(tmp_path, monkeypatch, WORKOS_PIPES_ENCRYPTION_KEYS=f"{new},{old}")
    assert pipes["ENCRYPTION_KEYS"] == [new, old]
    assert example_settings(tmp_path, monkeypatch, ENCRYPT_TOKENS="false")["ENCRYPTION_KEYS"] == []
    assert not (tmp_path / "encryption.key").exists()


def deploy_check(state_dir: Path, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    environ.pop("DJANGO_SETTINGS_MODULE", None)
    environ.update(
        EXAMPLE_STATE_DIR=str(state_dir),
        WORKOS_API_KEY="sk_test_check",
        WORKOS_WEBHOOK_SECRET="whsec_check",
        CACHE_URL="redis://127.0.0.1:6379/1",  # shared; the check does not connect
        **env,
    )
    result = run_python(str(MANAGE), "check", "--deploy", env=environ)
    return result.stdout + result.stderr


@pytest.mark.processes
def test_the_example_on_redis_passes_the_encryption_deploy_check(tmp_path: Path) -> None:
    assert "workos_pipes.W010" not in deploy_check(tmp_path)
    assert "workos_pipes.W010" in deploy_check(tmp_path, ENCRYPT_TOKENS="false")
