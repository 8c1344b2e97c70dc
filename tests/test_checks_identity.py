"""The checks of issue 13: who the user is (W003, E009) and what the cache needs (E008).

Each is proven bound by running ``call_command("check")``, the way ``manage.py check``
and ``runserver`` run it.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import Any

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_workos_pipes import checks
from django_workos_pipes.service import PipesService
from tests.builders import token_answer
from tests.settings import API_KEY, WEBHOOK_SECRET
from tests.stubs import token_url

GOOD = {"API_KEY": API_KEY, "WEBHOOK_SECRET": WEBHOOK_SECRET}
REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379",
    }
}


def check_output(**settings: Any) -> str:
    """What ``manage.py check`` prints (warnings only: errors raise)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with override_settings(**settings):
        call_command("check", stdout=stdout, stderr=stderr)
    return stdout.getvalue() + stderr.getvalue()


@pytest.fixture
def no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    """``redis`` can't be imported, as in a project installed without the extra."""
    monkeypatch.setitem(sys.modules, "redis", None)


# W003: the default resolver, and a user model without workos_user_id.


def test_django_users_with_the_default_resolver_get_a_warning_with_the_way_out() -> None:
    output = check_output(WORKOS_PIPES=GOOD, CACHES=REDIS)
    assert "workos_pipes.W003" in output
    assert "auth.User has no such field" in output
    assert "django_workos_pipes.identity.linked_user_id" in output
    assert "PROVISION_USERS" in output


@pytest.mark.parametrize(
    "resolver", ["django_workos_pipes.identity.linked_user_id", "tests.views.workos_user_id"]
)
def test_any_other_resolver_silences_it(resolver: str) -> None:
    settings = {**GOOD, "USER_ID_RESOLVER": resolver}
    assert "W003" not in check_output(WORKOS_PIPES=settings, CACHES=REDIS)


def test_a_user_model_with_the_field_silences_it(monkeypatch: pytest.MonkeyPatch) -> None:
    class SignsInWithWorkOS:
        workos_user_id = None

    monkeypatch.setattr(checks, "get_user_model", lambda: SignsInWithWorkOS)
    with override_settings(WORKOS_PIPES=GOOD):
        assert checks.check_user_model() == []


def test_it_can_be_silenced_by_its_id() -> None:
    output = check_output(
        WORKOS_PIPES=GOOD, CACHES=REDIS, SILENCED_SYSTEM_CHECKS=["workos_pipes.W003"]
    )
    assert "W003" not in output


# E008: the cache backend's client library.


@pytest.mark.usefixtures("no_redis")
def test_a_missing_redis_is_an_error_naming_the_module_and_the_extra() -> None:
    with override_settings(WORKOS_PIPES=GOOD, CACHES=REDIS):
        with pytest.raises(SystemCheckError) as caught:
            call_command("check")
        (error,) = checks.check_cache()
    assert "workos_pipes.E008" in str(caught.value)
    assert error.id == "workos_pipes.E008"
    assert "'redis'" in error.msg
    assert error.hint == 'pip install "django-workos-pipes[redis]"'


def test_a_backend_that_cannot_be_imported_names_its_module() -> None:
    caches = {"default": {"BACKEND": "django.core.cache.backends.memcached.PyLibMCCache"}}
    with override_settings(WORKOS_PIPES=GOOD, CACHES=caches):
        (error,) = checks.check_cache()
    assert error.id == "workos_pipes.E008"
    assert "'pylibmc'" in error.msg
    assert error.hint == "pip install pylibmc"


def test_installed_backends_pass() -> None:
    with override_settings(WORKOS_PIPES=GOOD, CACHES=REDIS):
        assert checks.check_cache() == []


@pytest.mark.usefixtures("no_redis")
def test_the_runtime_warning_names_the_module_too(caplog: pytest.LogCaptureFixture) -> None:
    service = PipesService()
    with (
        override_settings(WORKOS_PIPES=GOOD, CACHES=REDIS),
        responses.RequestsMock() as workos,
        caplog.at_level(logging.WARNING, "django_workos_pipes"),
    ):
        workos.post(token_url("salesforce"), json=token_answer())
        assert service.get_access_token("salesforce", user_id="user_ann").active
    (warning,) = caplog.records
    message = warning.getMessage()
    assert "'redis' module, which is not installed" in message
    assert 'pip install "django-workos-pipes[redis]"' in message


# E009 and E005 for the linking settings.


def test_linked_organizations_need_their_external_id_setting() -> None:
    settings = {
        **GOOD,
        "ORGANIZATION_ID_RESOLVER": "django_workos_pipes.identity.linked_organization_id",
    }
    with override_settings(WORKOS_PIPES=settings, CACHES=REDIS):
        with pytest.raises(SystemCheckError, match=r"workos_pipes\.E009"):
            call_command("check")
    settings["ORGANIZATION_EXTERNAL_ID"] = "tests.test_identity.team_of"
    assert "E009" not in check_output(WORKOS_PIPES=settings, CACHES=REDIS)


def test_an_external_id_callable_that_cannot_be_imported() -> None:
    settings = {**GOOD, "USER_EXTERNAL_ID": "nowhere.external_id"}
    with override_settings(WORKOS_PIPES=settings, CACHES=REDIS):
        with pytest.raises(SystemCheckError, match=r"workos_pipes\.E005"):
            call_command("check")


def test_a_negative_link_ttl() -> None:
    with override_settings(WORKOS_PIPES={**GOOD, "USER_LINK_TTL": -1}):
        assert [m.id for m in checks.check_settings()] == ["workos_pipes.E003"]
