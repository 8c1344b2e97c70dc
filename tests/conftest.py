"""Shared fixtures: a clean cache per test, and the real Redis when one answers.

Locally, tests marked ``redis`` skip with the reason when no Redis answers at
``REDIS_URL``; under ``CI=true`` a missing Redis is a failure, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.conf import settings
from django.core.cache import caches
from django.test import Client, override_settings

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
WORKOS = "https://api.workos.com"


def require_service(available: bool, reason: str) -> None:
    """Skip locally, fail in CI: a service CI should have started is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: .ci/run must provide it)", pytrace=False)
    pytest.skip(reason)


def redis_answers(url: str = REDIS_URL) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_cache_settings(prefix: str, url: str = REDIS_URL) -> dict[str, Any]:
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": prefix,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }


@pytest.fixture(autouse=True)
def _clear_caches() -> Iterator[None]:
    """Empty the locmem caches after each test (their storage is shared by all threads)."""
    yield
    for alias, config in settings.CACHES.items():
        if config["BACKEND"].endswith("LocMemCache"):
            caches[alias].clear()


@pytest.fixture
def redis_url() -> str:
    require_service(redis_answers(), f"no Redis server answers at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def redis_cache(redis_url: str) -> Iterator[str]:
    """Point the ``default`` cache at Redis under a key prefix of this test's own."""
    import redis

    prefix = f"dwp-test-{uuid.uuid4().hex[:12]}"
    with override_settings(CACHES={"default": redis_cache_settings(prefix, redis_url)}):
        yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def stub_resolver(settings: Any) -> None:
    """WorkOS user ids from ``tests.stubs.USER_RESOLVER`` (``user_<username>``)."""
    from tests.stubs import USER_RESOLVER

    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "USER_ID_RESOLVER": USER_RESOLVER}


@pytest.fixture
def upstream() -> Iterator[responses.RequestsMock]:
    """WorkOS stubbed at the HTTP layer; every stub registered must be called."""
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def ann(client: Client) -> Any:
    """A logged-in user named ann."""
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
