"""Settings are read at call time, from WORKOS_PIPES first and the environment second."""

from __future__ import annotations

import importlib
import sys

import pytest
from django.test import override_settings

from django_workos_pipes.conf import app_settings
from django_workos_pipes.exceptions import PipesConfigurationError
from django_workos_pipes.masking import mask, mask_id


def test_override_settings_is_seen_immediately() -> None:
    with override_settings(WORKOS_PIPES={"API_KEY": "sk_test_one_1234567", "TIMEOUT": 1.5}):
        assert app_settings.API_KEY == "sk_test_one_1234567"
        assert app_settings.TIMEOUT == 1.5
    with override_settings(WORKOS_PIPES={"API_KEY": "sk_test_two_1234567"}):
        assert app_settings.API_KEY == "sk_test_two_1234567"
        assert app_settings.TIMEOUT == 5.0


def test_environment_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKOS_API_KEY", "sk_test_from_env_123456")
    monkeypatch.setenv("WORKOS_BASE_URL", "http://127.0.0.1:4100/")
    monkeypatch.setenv("WORKOS_WEBHOOK_SECRET", "secret_old, secret_new")
    with override_settings(WORKOS_PIPES={}):
        assert app_settings.API_KEY == "sk_test_from_env_123456"
        assert app_settings.BASE_URL == "http://127.0.0.1:4100"
        assert app_settings.WEBHOOK_SECRETS == ("secret_old", "secret_new")
    with override_settings(WORKOS_PIPES={"API_KEY": "sk_test_dict_wins_1234"}):
        assert app_settings.API_KEY == "sk_test_dict_wins_1234"


def test_webhook_secret_as_list() -> None:
    with override_settings(WORKOS_PIPES={"WEBHOOK_SECRET": ["a_secret", " ", "b_secret"]}):
        assert app_settings.WEBHOOK_SECRETS == ("a_secret", "b_secret")


def test_missing_api_key_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKOS_API_KEY", raising=False)
    with override_settings(WORKOS_PIPES={}), pytest.raises(PipesConfigurationError) as caught:
        app_settings.API_KEY
    assert "WORKOS_PIPES['API_KEY']" in str(caught.value)
    assert "WORKOS_API_KEY" in str(caught.value)


def test_importing_the_package_reads_no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Import happens before settings are usable; no module may touch them at import time."""
    for name in [m for m in sys.modules if m.startswith("django_workos_pipes")]:
        monkeypatch.delitem(sys.modules, name)
    with override_settings(WORKOS_PIPES="this would raise if read"):
        for module in (
            "django_workos_pipes",
            "django_workos_pipes.service",
            "django_workos_pipes.workos.client",
            "django_workos_pipes.checks",
        ):
            importlib.import_module(module)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("ya29.a0AfH6SMBxyz-secret", "ya29\u2026"),
        ("sk_test_abcdefghij", "sk_t\u2026"),
        ("short", "\u2026"),
        ("", "\u2026"),
        (None, "\u2026"),
    ],
)
def test_mask(value: str | None, masked: str) -> None:
    assert mask(value) == masked


def test_mask_id_keeps_the_prefix_only() -> None:
    assert mask_id("user_01HXYZABCDEFG") == "user_01HX\u2026"
    assert mask_id(None) == "-"
