"""System checks: each is bound (runs through ``call_command("check")``) and has a stable ID."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_workos_pipes.checks import check_cache, check_settings
from tests.settings import API_KEY, WEBHOOK_SECRET

GOOD = {"API_KEY": API_KEY, "WEBHOOK_SECRET": WEBHOOK_SECRET}
REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379",
    }
}


def ids(messages: list) -> list[str]:
    return sorted(message.id for message in messages)


def test_good_settings_pass() -> None:
    with override_settings(WORKOS_PIPES=GOOD, CACHES=REDIS):
        assert check_settings() == []
        assert check_cache() == []
        call_command("check")


def test_missing_api_key_is_reported_by_manage_py_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKOS_API_KEY", raising=False)
    with override_settings(WORKOS_PIPES={"WEBHOOK_SECRET": WEBHOOK_SECRET}, CACHES=REDIS):
        with pytest.raises(SystemCheckError, match=r"workos_pipes\.E001"):
            call_command("check")


def test_api_key_from_environment_satisfies_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKOS_API_KEY", "sk_test_env_key_abcdef")
    with override_settings(WORKOS_PIPES={"WEBHOOK_SECRET": WEBHOOK_SECRET}):
        assert "workos_pipes.E001" not in ids(check_settings())


def test_unknown_cache_alias() -> None:
    with override_settings(WORKOS_PIPES={**GOOD, "CACHE_ALIAS": "tokens"}):
        (error,) = check_cache()
    assert error.id == "workos_pipes.E002"
    assert "'tokens'" in error.msg and "default" in error.hint
    with (
        override_settings(WORKOS_PIPES={**GOOD, "CACHE_ALIAS": "tokens"}),
        pytest.raises(SystemCheckError, match=r"E002"),
    ):
        call_command("check")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("TOKEN_TTL", -1),
        ("INACTIVE_TTL", "30"),
        ("EXPIRY_LEEWAY", -5),
        ("MAX_RETRIES", -1),
        ("TIMEOUT", 0),
        ("WEBHOOK_TOLERANCE", None),
        ("TIMEOUT", True),
    ],
)
def test_bad_numbers(key: str, value: object) -> None:
    with override_settings(WORKOS_PIPES={**GOOD, key: value}):
        messages = check_settings()
    assert ids(messages) == ["workos_pipes.E003"]
    assert key in messages[0].msg


def test_zero_is_fine_where_it_means_off() -> None:
    with override_settings(
        WORKOS_PIPES={**GOOD, "MAX_RETRIES": 0, "EXPIRY_LEEWAY": 0, "INACTIVE_TTL": 0}
    ):
        assert check_settings() == []


@pytest.mark.parametrize("url", ["api.workos.com", "ftp://api.workos.com", "https://", 42])
def test_base_url_must_be_http(url: object) -> None:
    with override_settings(WORKOS_PIPES={**GOOD, "BASE_URL": url}):
        assert ids(check_settings()) == ["workos_pipes.E004"]


def test_resolver_that_cannot_be_imported() -> None:
    with override_settings(WORKOS_PIPES={**GOOD, "USER_ID_RESOLVER": "nowhere.to.be.found"}):
        (error,) = check_settings()
    assert error.id == "workos_pipes.E005"
    assert "USER_ID_RESOLVER" in error.msg


def test_webhook_secret_missing_or_of_the_wrong_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKOS_WEBHOOK_SECRET", raising=False)
    with override_settings(WORKOS_PIPES={"API_KEY": API_KEY}):
        assert ids(check_settings()) == ["workos_pipes.W002"]
    with override_settings(WORKOS_PIPES={"API_KEY": API_KEY, "WEBHOOK_SECRET": 12345}):
        assert ids(check_settings()) == ["workos_pipes.E006"]
    with override_settings(WORKOS_PIPES={"API_KEY": API_KEY, "WEBHOOK_SECRET": ["old", "new"]}):
        assert check_settings() == []


def test_workos_pipes_must_be_a_dict() -> None:
    with override_settings(WORKOS_PIPES="sk_test_oops"):
        assert ids(check_settings()) == ["workos_pipes.E007"]


def test_process_local_cache_warns_outside_debug() -> None:
    with override_settings(WORKOS_PIPES=GOOD, DEBUG=False):
        (warning,) = check_cache()
        assert warning.id == "workos_pipes.W001"
        call_command("check")  # a warning does not fail the check command
    with override_settings(WORKOS_PIPES=GOOD, DEBUG=True):
        assert check_cache() == []


def test_checks_never_show_the_api_key() -> None:
    with override_settings(WORKOS_PIPES={"API_KEY": API_KEY, "TOKEN_TTL": -1, "BASE_URL": "nope"}):
        text = " ".join(f"{m.msg} {m.hint}" for m in check_settings())
    assert API_KEY not in text
