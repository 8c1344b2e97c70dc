"""What the machine must provide for some tests: Redis, and whether this is CI.

Locally, a test whose service is missing skips with the reason; under ``CI=true`` a
missing service is a failure, never a skip (``.ci/run`` must provide it).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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


def redis_cache_settings(prefix: str, url: str = REDIS_URL, timeout: float = 1) -> dict[str, Any]:
    """A ``CACHES`` entry for Redis at ``url``, keys under ``prefix``, with short timeouts."""
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": url,
        "KEY_PREFIX": prefix,
        "OPTIONS": {"socket_connect_timeout": timeout, "socket_timeout": timeout},
    }


# A Redis cache nothing answers for: the cache is down.
DEAD_REDIS = redis_cache_settings("", "redis://127.0.0.1:1/0", timeout=0.2)


def delete_keys(url: str, prefix: str) -> None:
    """Remove every key a test wrote under ``prefix`` from the shared Redis."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)
