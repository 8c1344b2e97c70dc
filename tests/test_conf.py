"""Settings are read at call time, from WORKOS_PIPES first and the environment second."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from django.core.cache import caches
from django.test import override_settings

from django_workos_pipes.conf import SETTINGS, app_settings
from django_workos_pipes.exceptions import PipesConfigurationError


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


def test_the_settings_reference_is_generated_from_the_settings_table() -> None:
    """The docs' settings table is conf.SETTINGS itself (``{settings-table}``), so they
    can't drift apart; tests/system/test_docs_site.py reads the built table, row by row."""
    page = (Path(__file__).resolve().parent.parent / "docs/reference/settings.md").read_text()
    assert "```{settings-table}\n```" in page
    assert all(setting.doc.strip() for setting in SETTINGS)


def test_resolvers_are_imported_once_and_forgotten_when_settings_change() -> None:
    with override_settings(WORKOS_PIPES={"USER_ID_RESOLVER": "tests.test_conf.resolver_a"}):
        first = app_settings.USER_ID_RESOLVER
        assert first is resolver_a
        assert app_settings.USER_ID_RESOLVER is first
        with override_settings(WORKOS_PIPES={"USER_ID_RESOLVER": "tests.test_conf.resolver_b"}):
            assert app_settings.USER_ID_RESOLVER is resolver_b
        assert app_settings.USER_ID_RESOLVER is resolver_a


def test_the_service_follows_a_change_of_caches() -> None:
    from django_workos_pipes.service import PipesService

    service = PipesService()
    before = service.cache
    assert service.cache is before
    with override_settings(
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "other",
            }
        }
    ):
        assert service.cache is not before
        service.cache.set("probe", 1)
        assert caches["default"].get("probe") == 1


def resolver_a(request: object) -> str:
    return "user_a"


def resolver_b(request: object) -> str:
    return "user_b"
