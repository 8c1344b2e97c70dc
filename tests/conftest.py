"""Fixtures shared by the whole suite, each defined once.

Where things are: the test project is ``settings.py``, ``urls.py``, ``views.py`` and
``templates/``; what WorkOS answers and sends is built by ``builders.py``; ``stubs.py``
stubs WorkOS at the HTTP layer (``responses``); ``servers.py`` has loopback servers,
``provider.py`` a provider's API; ``environment.py`` says what the machine provides.
Unit tests mirror the package (``test_service.py``, ``workos/test_client.py``,
``emulator/``, ``testing/``...); the system tests are under ``system/`` (marked
``system``; ``pytest -m "not system"`` skips them). A folder's own fixtures are in its
``conftest.py``. No fixture here shadows one of pytest-django's (``client``, ``rf``,
``settings``, ``db``...).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import responses
from django.conf import settings as django_settings
from django.core.cache import caches
from django.dispatch import Signal
from django.test import Client, override_settings

from django_workos_pipes.signals import connection_changed, webhook_received
from tests.environment import (
    REDIS_URL,
    delete_keys,
    redis_answers,
    redis_cache_settings,
    require_service,
)
from tests.stubs import USER_RESOLVER


@pytest.fixture(autouse=True)
def _clear_caches() -> Iterator[None]:
    """Empty the locmem caches after each test (their storage is shared by all threads)."""
    yield
    for alias, config in django_settings.CACHES.items():
        if config["BACKEND"].endswith("LocMemCache"):
            caches[alias].clear()


# Redis.


@pytest.fixture
def redis_url() -> str:
    """The shared Redis at ``REDIS_URL``: skips without one (fails under ``CI=true``)."""
    require_service(redis_answers(), f"no Redis server answers at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own in the shared Redis; its keys are deleted after."""
    prefix = f"dwp-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_keys(redis_url, prefix)


@pytest.fixture
def redis_cache(redis_url: str, redis_prefix: str) -> Iterator[str]:
    """Point the ``default`` cache at Redis, under the test's own key prefix."""
    with override_settings(CACHES={"default": redis_cache_settings(redis_prefix, redis_url)}):
        yield redis_prefix


@pytest.fixture(params=["locmem", "redis"])
def cache_backend(request: pytest.FixtureRequest) -> str:
    """Run the test on the locmem cache, then on a real Redis."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return str(request.param)


# WorkOS.


@pytest.fixture
def workos_stub() -> Iterator[responses.RequestsMock]:
    """WorkOS stubbed at the HTTP layer; every stub registered must be called, and no
    request gets past it to the network."""
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def lenient_workos_stub(workos_stub: responses.RequestsMock) -> responses.RequestsMock:
    """WorkOS stubbed; a stub registered for a case that doesn't arise may stay unused."""
    workos_stub.assert_all_requests_are_fired = False
    return workos_stub


@pytest.fixture(scope="session")
def workos_sdk() -> Any:
    """The official ``workos`` SDK, offline: it checks webhook signatures and events."""
    from workos import WorkOSClient

    return WorkOSClient(api_key="sk_test_x", client_id="client_x")


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A ``requests`` session for loopback servers (no proxy from the environment)."""
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


# Signals.


@pytest.fixture
def record_signal() -> Iterator[Callable[[Signal], list[dict[str, Any]]]]:
    """``calls = record_signal(signal)``: the keyword arguments (``sender`` and ``signal``
    included) of every send of ``signal`` from then until the test ends."""
    connected: list[tuple[Signal, Callable[..., None]]] = []

    def record(signal: Signal) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []

        def receiver(**kwargs: Any) -> None:
            calls.append(kwargs)

        signal.connect(receiver, weak=False)
        connected.append((signal, receiver))
        return calls

    yield record
    for signal, receiver in connected:
        signal.disconnect(receiver)


@pytest.fixture
def received(record_signal: Callable[[Signal], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every ``webhook_received`` sent during the test, as its kwargs."""
    return record_signal(webhook_received)


@pytest.fixture
def changed(record_signal: Callable[[Signal], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every ``connection_changed`` sent during the test, as its kwargs."""
    return record_signal(connection_changed)


@pytest.fixture
def supports_multiple_connections(settings: Any) -> None:
    """``SUPPORTS_MULTIPLE_CONNECTIONS`` on: several accounts of one provider per user."""
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "SUPPORTS_MULTIPLE_CONNECTIONS": True}


# Users.


@pytest.fixture
def stub_resolver(settings: Any) -> None:
    """WorkOS user ids from ``tests.views.workos_user_id``: Django's ``ann`` is ``user_ann``."""
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "USER_ID_RESOLVER": USER_RESOLVER}


@pytest.fixture
def ann(client: Client, db: None, stub_resolver: None) -> Any:
    """A user named ann, logged in on pytest-django's ``client``; WorkOS knows her as
    ``user_ann``."""
    from django.contrib.auth.models import User

    user = User.objects.create_user("ann")
    client.force_login(user)
    return user


@pytest.fixture(autouse=True)
def _close_the_breakers() -> Iterator[None]:
    """The default service's circuit breakers are per process: one test's outage must
    not make the next test fail fast."""
    from django_workos_pipes import pipes

    yield
    pipes.reset_breakers()
