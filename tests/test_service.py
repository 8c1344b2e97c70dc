"""The token service: caching, expiry, invalidation, single flight, failure modes.

Every cache test runs twice: on the locmem cache and on a real Redis server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from datetime import timedelta
from typing import Any

import pytest
import responses
import time_machine
from django.core.cache import CacheKeyWarning, caches
from django.test import override_settings

from django_workos_pipes import pipes
from django_workos_pipes.caching.keys import CacheKeys
from django_workos_pipes.exceptions import PipesConfigurationError, PipesUnavailable
from django_workos_pipes.service import PipesService
from tests.builders import inactive_answer, token_answer
from tests.environment import DEAD_REDIS
from tests.freshness import LIFETIMES, NOW, Lifetime, check_refusal_kept_for_inactive_ttl
from tests.settings import API_KEY
from tests.stubs import WORKOS, issue_tokens
from tests.threads import run_at_once, wait_for_waiters

TOKEN_URL = f"{WORKOS}/data-integrations/salesforce/token"


def token_value(
    provider: str = "salesforce", user_id: str = "user_1", organization_id: str | None = None
) -> str:
    result = pipes.get_access_token(provider, user_id=user_id, organization_id=organization_id)
    assert result.access_token is not None
    return result.access_token.access_token


def test_default_service_is_built_lazily_and_named_in_settings() -> None:
    import django_workos_pipes

    assert django_workos_pipes.pipes is pipes
    assert isinstance(pipes, PipesService)


def test_missing_api_key_is_a_clear_error_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKOS_API_KEY", raising=False)
    with (
        override_settings(WORKOS_PIPES={}),
        pytest.raises(PipesConfigurationError, match="WORKOS_API_KEY"),
    ):
        pipes.get_access_token("salesforce", user_id="user_1")


def test_api_key_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, workos_stub: responses.RequestsMock
) -> None:
    monkeypatch.setenv("WORKOS_API_KEY", "sk_test_from_environment_123")
    monkeypatch.setenv("WORKOS_BASE_URL", "https://workos.example.test/")
    workos_stub.post(
        "https://workos.example.test/data-integrations/salesforce/token",
        json=inactive_answer("not_installed"),
    )
    with override_settings(WORKOS_PIPES={}):
        assert pipes.get_access_token("salesforce", user_id="u").error == "not_installed"
    assert (
        workos_stub.calls[0].request.headers["Authorization"]
        == "Bearer sk_test_from_environment_123"
    )


def test_explicit_arguments_win_over_settings(workos_stub: responses.RequestsMock) -> None:
    workos_stub.post(
        "http://127.0.0.1:9/data-integrations/hubspot/token",
        json=inactive_answer("not_installed"),
    )
    service = PipesService(
        api_key="sk_test_explicit_key_0001", base_url="http://127.0.0.1:9", cache_alias="default"
    )
    assert service.get_access_token("hubspot", user_id="u").error == "not_installed"
    assert (
        workos_stub.calls[0].request.headers["Authorization"] == "Bearer sk_test_explicit_key_0001"
    )


def test_one_upstream_call_for_a_thousand_sequential_reads(
    cache_backend: str, workos_stub: responses.RequestsMock
) -> None:
    issue_tokens(workos_stub)
    values = {token_value() for _ in range(1000)}
    assert values == {"ya29.token-1"}
    assert len(workos_stub.calls) == 1


def test_keys_are_per_provider_user_and_organization(
    cache_backend: str, workos_stub: responses.RequestsMock
) -> None:
    issue_tokens(workos_stub)
    workos_stub.add_callback(
        responses.POST,
        f"{WORKOS}/data-integrations/hubspot/token",
        callback=lambda r: (200, {}, json.dumps(token_answer("ya29.hubspot", expires_at=None))),
    )
    first = token_value("salesforce", "user_1", None)
    assert token_value("salesforce", "user_1", "org_1") != first
    assert token_value("salesforce", "user_2", None) != first
    assert token_value("hubspot", "user_1", None) == "ya29.hubspot"
    assert token_value("salesforce", "user_1", None) == first
    assert len(workos_stub.calls) == 4


@pytest.mark.parametrize("lifetime", LIFETIMES.values(), ids=LIFETIMES.keys())
def test_a_token_is_refetched_at_the_end_of_its_lifetime(
    cache_backend: str, workos_stub: responses.RequestsMock, lifetime: Lifetime
) -> None:
    issue_tokens(workos_stub, expires_in=lifetime.expires_in)
    lifetime.check(token_value, ("ya29.token-1", "ya29.token-2"))
    assert len(workos_stub.calls) == 2


def test_inactive_answers_are_cached_briefly(
    cache_backend: str, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.post(TOKEN_URL, json=inactive_answer("not_installed"))
    check_refusal_kept_for_inactive_ttl(
        lambda: pipes.get_access_token("salesforce", user_id="u").error,
        lambda: len(workos_stub.calls),
    )


def test_invalidate_forces_a_new_upstream_call(
    cache_backend: str, workos_stub: responses.RequestsMock
) -> None:
    issue_tokens(workos_stub)
    assert token_value(organization_id="org_1") == "ya29.token-1"
    pipes.invalidate("salesforce", user_id="user_1", organization_id="org_1")
    assert token_value(organization_id="org_1") == "ya29.token-2"
    assert token_value(organization_id="org_1") == "ya29.token-2"
    assert len(workos_stub.calls) == 2


def test_invalidate_organization_reaches_every_user_of_it(
    cache_backend: str, workos_stub: responses.RequestsMock
) -> None:
    issue_tokens(workos_stub)
    before = {user: token_value(user_id=user, organization_id="org_1") for user in ("u1", "u2")}
    other_org = token_value(user_id="u1", organization_id="org_2")
    pipes.invalidate_organization("salesforce", "org_1")
    after = {user: token_value(user_id=user, organization_id="org_1") for user in ("u1", "u2")}
    assert all(before[user] != after[user] for user in before)
    assert token_value(user_id="u1", organization_id="org_2") == other_org


def test_answer_fetched_before_an_invalidation_is_not_kept(
    cache_backend: str, workos_stub: responses.RequestsMock
) -> None:
    """A webhook lands while a request is still waiting on WorkOS: its answer is stale."""
    counter = iter(range(1, 100))

    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        n = next(counter)
        if n == 1:
            time.sleep(0.01)
            pipes.invalidate("salesforce", user_id="user_1")
            time.sleep(0.01)
        return (
            200,
            {},
            json.dumps(token_answer(f"ya29.token-{n}", expires_at=NOW + timedelta(days=3650))),
        )

    workos_stub.add_callback(responses.POST, TOKEN_URL, callback=respond)
    assert token_value() == "ya29.token-1"  # the caller still gets what it asked for
    assert token_value() == "ya29.token-2"  # but nobody else is served it afterwards
    assert token_value() == "ya29.token-2"


def test_single_flight_across_threads(
    cache_backend: str, workos_stub: responses.RequestsMock
) -> None:
    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        wait_for_waiters(31)
        return (
            200,
            {},
            json.dumps(token_answer("ya29.only-one", expires_at=NOW + timedelta(days=3650))),
        )

    workos_stub.add_callback(responses.POST, TOKEN_URL, callback=respond)
    results = run_at_once(32, token_value)
    assert results == ["ya29.only-one"] * 32
    assert len(workos_stub.calls) == 1


def test_single_flight_shares_a_failure(
    cache_backend: str, workos_stub: responses.RequestsMock
) -> None:
    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        wait_for_waiters(15)
        return 503, {}, "{}"

    workos_stub.add_callback(responses.POST, TOKEN_URL, callback=respond)
    with override_settings(WORKOS_PIPES={"API_KEY": API_KEY, "MAX_RETRIES": 0}):
        results = run_at_once(16, lambda: _outcome(token_value))
    assert results == ["PipesUnavailable"] * 16
    assert len(workos_stub.calls) == 1


def test_requests_served_a_stale_token_by_a_peers_failure_name_the_connection(
    cache_backend: str, workos_stub: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    """The waiters' warning used to say ``provider=- user=-``."""
    workos_stub.post(
        TOKEN_URL, json=token_answer("ya29.stale-but-valid", expires_at=NOW + timedelta(days=3650))
    )

    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        wait_for_waiters(7)
        return 503, {}, "{}"

    workos_stub.add_callback(responses.POST, TOKEN_URL, callback=respond)
    settings = {"API_KEY": API_KEY, "MAX_RETRIES": 0, "TOKEN_TTL": 0.05}
    with override_settings(WORKOS_PIPES=settings), caplog.at_level(logging.WARNING):
        assert token_value() == "ya29.stale-but-valid"
        time.sleep(0.1)  # past TOKEN_TTL: due for a refresh, which fails
        results = run_at_once(8, token_value)
    assert results == ["ya29.stale-but-valid"] * 8
    assert len(workos_stub.calls) == 2
    served = [r.getMessage() for r in caplog.records if "serving the cached" in r.getMessage()]
    assert len(served) == 8
    assert all("provider=salesforce user=user_1" in message for message in served), served


def test_crashed_lock_holder_blocks_nobody_past_lock_timeout(
    cache_backend: str, workos_stub: responses.RequestsMock
) -> None:
    issue_tokens(workos_stub)
    keys = CacheKeys.build("salesforce", "user_1", None)
    caches["default"].add(keys.lock, "a-process-that-died", 60)
    with override_settings(WORKOS_PIPES={"API_KEY": API_KEY, "LOCK_TIMEOUT": 0.1}):
        started = time.monotonic()
        assert token_value() == "ya29.token-1"
    assert time.monotonic() - started < 2


def test_stale_token_is_served_while_workos_is_down(
    cache_backend: str, workos_stub: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    workos_stub.post(
        TOKEN_URL, json=token_answer("ya29.stale-but-valid", expires_at=NOW + timedelta(minutes=10))
    )
    workos_stub.post(TOKEN_URL, status=503)
    with override_settings(
        WORKOS_PIPES={"API_KEY": API_KEY, "MAX_RETRIES": 0, "EXPIRY_LEEWAY": 120}
    ):
        with time_machine.travel(NOW, tick=False) as traveller:
            assert token_value() == "ya29.stale-but-valid"
            traveller.shift(timedelta(minutes=9))  # within leeway: refresh is due, and fails
            assert token_value() == "ya29.stale-but-valid"
            assert "serving the cached token" in caplog.text
            traveller.shift(timedelta(minutes=2))  # really expired now
            with pytest.raises(PipesUnavailable):
                token_value()


def test_unavailable_with_nothing_cached_raises(workos_stub: responses.RequestsMock) -> None:
    workos_stub.post(TOKEN_URL, status=500)
    with override_settings(WORKOS_PIPES={"API_KEY": API_KEY, "MAX_RETRIES": 0}):
        with pytest.raises(PipesUnavailable):
            token_value()


def test_cache_down_means_straight_to_workos(
    workos_stub: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    issue_tokens(workos_stub)
    service = PipesService()  # its own warning clock, whatever other tests did
    with override_settings(CACHES={"default": DEAD_REDIS}):
        for expected in ("ya29.token-1", "ya29.token-2"):
            result = service.get_access_token("salesforce", user_id="user_1")
            assert result.access_token is not None
            assert result.access_token.access_token == expected
        service.invalidate("salesforce", user_id="user_1")
    assert len(workos_stub.calls) == 2
    warnings_logged = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "unavailable" in r.getMessage()
    ]
    assert len(warnings_logged) == 1, "one warning, not one per request"


@pytest.mark.parametrize(
    ("user_id", "organization_id"),
    [
        ("user with spaces", "org\twith\ncontrol"),
        ("ü" * 400, None),
        ("x" * 5000, "y" * 5000),
        ("", ""),
    ],
)
def test_cache_keys_are_safe_for_every_backend(
    workos_stub: responses.RequestsMock, user_id: str, organization_id: str | None
) -> None:
    issue_tokens(workos_stub)
    keys = CacheKeys.build("salesforce", user_id, organization_id)
    for key in (keys.token, keys.user_generation, keys.org_generation, keys.lock, keys.failure):
        assert len(key) < 200 and key.isascii() and " " not in key and key.isprintable()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)  # locmem warns on memcached-unsafe keys
        assert token_value(user_id=user_id, organization_id=organization_id) == "ya29.token-1"
        assert token_value(user_id=user_id, organization_id=organization_id) == "ya29.token-1"


def test_async_twins_do_not_block_the_event_loop(workos_stub: responses.RequestsMock) -> None:
    slow = [0.3]  # the awaited call only

    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        time.sleep(slow.pop() if slow else 0)
        return 200, {}, json.dumps(token_answer("ya29.async", expires_at=None))

    workos_stub.add_callback(responses.POST, TOKEN_URL, callback=respond)

    async def main() -> tuple[str, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        result = await pipes.aget_access_token("salesforce", user_id="user_1")
        await pipes.ainvalidate("salesforce", user_id="user_1")
        task.cancel()
        assert result.access_token is not None
        return result.access_token.access_token, ticks

    value, ticks = asyncio.run(main())
    assert value == "ya29.async"
    assert ticks >= 10, "the loop kept running while the token was fetched"
    assert token_value() == "ya29.async"
    assert len(workos_stub.calls) == 2, "ainvalidate dropped the cached answer"


def test_cached_entry_is_small(
    redis_cache: str, workos_stub: responses.RequestsMock, redis_url: str
) -> None:
    import redis

    issue_tokens(workos_stub)
    token_value()
    client = redis.Redis.from_url(redis_url)
    (key,) = [k for k in client.scan_iter(f"{redis_cache}:*") if b":t:" in k]
    assert client.memory_usage(key) <= 1024


def _outcome(fn: Any) -> str:
    try:
        fn()
    except Exception as exc:
        return type(exc).__name__
    return "ok"
