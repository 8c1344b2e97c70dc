"""The secrets audit of the raw cache: no token readable in the Redis server itself.

The fault suite's site serves a few users from the real Redis (a key prefix of this
test's own); the leak guard then reads that server as ``redis-cli --scan`` and ``GET``
would. With ``ENCRYPTION_KEYS`` it finds nothing; without, it finds every token, which
shows the audit reads what it claims to.
"""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from django_workos_pipes.caching.crypto import generate_key
from tests.system.faultkit import API_KEY, LeakGuard, RecordingEmulator
from tests.system.faultsite import pipes_settings

pytestmark = pytest.mark.redis

USERS = ("user_a", "user_b", "user_c")


def serve_from_redis(guard: LeakGuard, redis_url: str, prefix: str, keys: str) -> int:
    """Each user's token fetched, cached and served again; then the raw cache audited."""
    with RecordingEmulator(api_key=API_KEY) as emulator:
        guard.watch_emulator(emulator)
        for user in USERS:
            emulator.connect("salesforce", user)
        settings = pipes_settings(base_url=emulator.url, api_key=API_KEY, encryption_keys=keys)
        with override_settings(ROOT_URLCONF="tests.system.faultsite.urls", WORKOS_PIPES=settings):
            for user in USERS * 2:
                response = Client().get("/salesforce/", {"user": user})
                assert response.status_code == 200
                guard.body(response.content)
        assert emulator.token_calls == len(USERS)  # the second round came from Redis
    return guard.raw_cache("Redis", redis_url, f"{prefix}:*")


def test_with_encryption_no_token_is_in_the_raw_cache(redis_url: str, redis_cache: str) -> None:
    guard = LeakGuard()
    with guard.capturing():
        read = serve_from_redis(guard, redis_url, redis_cache, generate_key())
    assert read >= len(USERS)  # each user's entry at least, beside its generations
    assert len(guard.tokens()) == len(USERS)
    guard.assert_clean()


def test_without_encryption_the_audit_finds_every_token(redis_url: str, redis_cache: str) -> None:
    guard = LeakGuard()
    serve_from_redis(guard, redis_url, redis_cache, "")
    leaks = guard.leaks()
    assert len(leaks) == len(USERS)
    assert all(leak.endswith(" in raw cache Redis") for leak in leaks)
