"""Invalidation that no clock can beat: generations instead of timestamps.

Two services sharing one cache stand for two hosts; ``time_machine`` gives each its own
clock, 120 s apart either way. Every test runs on locmem and on a real Redis.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import responses
import time_machine
from django.core.cache import caches
from django.test import override_settings

from django_workos_pipes.caching.entries import Entry
from django_workos_pipes.caching.keys import WORKOS_DOWN, CacheKeys
from django_workos_pipes.owners import ConnectionRef
from django_workos_pipes.results import AccessToken, TokenResult
from django_workos_pipes.service import PipesService
from tests import caches as test_caches
from tests.stubs import WORKOS

TOKEN_URL = f"{WORKOS}/data-integrations/salesforce/token"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
SKEWS = [timedelta(seconds=120), timedelta(seconds=-120)]


@pytest.fixture(params=["locmem", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    yield request.param


@pytest.fixture
def workos() -> Iterator[list[str]]:
    """WorkOS answering ``ya29.token-1``, ``-2``... (a day's lifetime); the tokens handed
    out, in order."""
    handed: list[str] = []
    lock = threading.Lock()

    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        with lock:
            handed.append(f"ya29.token-{len(handed) + 1}")
            value = handed[-1]
        expires = (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"active": True, "access_token": {"access_token": value, "expires_at": expires}}
        return 200, {}, json.dumps(body)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, TOKEN_URL, callback=respond)
        yield handed


class Host:
    """A service with a clock of its own (``skew`` from the real time)."""

    def __init__(self, skew: timedelta = timedelta(0)) -> None:
        self.service = PipesService()
        self.skew = skew

    def clock(self) -> AbstractContextManager[Any]:
        return time_machine.travel(datetime.now(timezone.utc) + self.skew, tick=True)

    def token(self, user_id: str = "user_1", organization_id: str | None = None) -> str:
        with self.clock():
            result = self.service.get_access_token(
                "salesforce", user_id=user_id, organization_id=organization_id
            )
        assert result.access_token is not None
        return result.access_token.access_token

    def invalidate(self, user_id: str = "user_1", organization_id: str | None = None) -> bool:
        with self.clock():
            return self.service.invalidate(
                "salesforce", user_id=user_id, organization_id=organization_id
            )

    def invalidate_organization(self, organization_id: str) -> bool:
        with self.clock():
            return self.service.invalidate_organization("salesforce", organization_id)


@pytest.mark.parametrize("skew", SKEWS, ids=["fetcher-ahead", "fetcher-behind"])
def test_a_token_fetched_before_an_invalidation_is_never_served_after_it(
    backend: str, workos: list[str], skew: timedelta
) -> None:
    fetcher, webhook_host = Host(skew), Host()
    assert fetcher.token() == "ya29.token-1"
    assert webhook_host.token() == "ya29.token-1"  # one fetch, shared

    assert webhook_host.invalidate() is True

    assert fetcher.token() == "ya29.token-2"
    assert webhook_host.token() == "ya29.token-2"
    assert workos == ["ya29.token-1", "ya29.token-2"]


@pytest.mark.parametrize("skew", SKEWS, ids=["fetcher-ahead", "fetcher-behind"])
def test_an_invalidation_during_the_fetch_wins_whatever_the_clocks(
    backend: str, workos: list[str], skew: timedelta
) -> None:
    """The fetch has begun (its generations are read) when the webhook lands on another
    host; what it brings back is returned to its caller, and served to nobody after."""
    fetcher, webhook_host = Host(skew), Host()
    client = InvalidatedMidFetch(fetcher.service.client, webhook_host)
    with fetcher.service.use_client(client):
        assert fetcher.token() == "ya29.token-1"
    assert client.invalidated
    assert webhook_host.token() == "ya29.token-2"
    assert fetcher.token() == "ya29.token-2"


class InvalidatedMidFetch:
    """The real client, with an invalidation by another host while its answer is in
    flight (after the fetch began, before its answer is stored)."""

    def __init__(self, real: Any, other_host: Host) -> None:
        self.real, self.other_host, self.invalidated = real, other_host, False

    def get_access_token(self, ref: ConnectionRef, **more: Any) -> TokenResult:
        result = self.real.get_access_token(ref, **more)
        self.invalidated = self.other_host.invalidate(ref.user, ref.organization_id)
        return result


@pytest.mark.parametrize("skew", SKEWS, ids=["fetcher-ahead", "fetcher-behind"])
def test_an_organization_invalidation_reaches_entries_of_any_host(
    backend: str, workos: list[str], skew: timedelta
) -> None:
    fetcher, webhook_host = Host(skew), Host()
    assert fetcher.token("u1", "org_1") == "ya29.token-1"
    assert fetcher.token("u2", "org_1") == "ya29.token-2"
    assert fetcher.token("u1", "org_2") == "ya29.token-3"

    assert webhook_host.invalidate_organization("org_1") is True

    assert webhook_host.token("u1", "org_1") == "ya29.token-4"
    assert fetcher.token("u2", "org_1") == "ya29.token-5"
    assert fetcher.token("u1", "org_2") == "ya29.token-3"  # another organization


def test_an_entry_stamped_in_the_future_is_invalidated(backend: str, workos: list[str]) -> None:
    """A host whose clock is a year ahead wrote an entry fresh for a year: the
    invalidation still reaches it (it carried the fetching host's clock before)."""
    host = Host()
    assert host.token() == "ya29.token-1"
    keys = CacheKeys.build("salesforce", "user_1", None)
    cache = caches["default"]
    entry = Entry.decode(cache.get(keys.token))
    assert entry is not None
    year_ahead = (NOW + timedelta(days=365)).timestamp()
    token = AccessToken("ya29.from-the-future", NOW + timedelta(days=400))
    future = Entry(entry.generations, year_ahead, TokenResult.connected(token))
    cache.set(keys.token, future.encode(), 3600)
    assert host.token() == "ya29.from-the-future"

    assert host.invalidate() is True

    assert host.token() == "ya29.token-2"


def test_an_evicted_generation_costs_a_fetch_and_nothing_else(
    backend: str, workos: list[str]
) -> None:
    host = Host()
    keys = CacheKeys.build("salesforce", "user_1", "org_1")
    assert host.token(organization_id="org_1") == "ya29.token-1"
    caches["default"].delete(keys.org_generation)  # evicted, or expired

    assert host.token(organization_id="org_1") == "ya29.token-2"
    assert host.token(organization_id="org_1") == "ya29.token-2"
    assert host.invalidate(organization_id="org_1") is True
    assert host.token(organization_id="org_1") == "ya29.token-3"


def test_invalidating_a_connection_never_read_is_stored(backend: str, workos: list[str]) -> None:
    host = Host()
    assert host.invalidate("user_never_seen") is True
    assert host.token("user_never_seen") == "ya29.token-1"
    assert host.token("user_never_seen") == "ya29.token-1"


@pytest.mark.parametrize(
    "foreign", [1.5, "7", None, b"\x00", [1], 2**70], ids=lambda value: type(value).__name__
)
def test_a_generation_that_is_not_ours_is_replaced(
    backend: str, workos: list[str], foreign: Any
) -> None:
    host = Host()
    keys = CacheKeys.build("salesforce", "user_1", None)
    caches["default"].set(keys.user_generation, foreign, 3600)
    assert host.token() == "ya29.token-1"
    assert host.token() == "ya29.token-1"  # cached under the generation put in its place
    assert isinstance(caches["default"].get(keys.user_generation), int)


@pytest.fixture
def counted() -> Iterator[Callable[[], dict[str, int]]]:
    with override_settings(CACHES=test_caches.counting("generations")):
        test_caches.Calls.take()
        yield test_caches.Calls.take
        caches["default"].clear()


def test_a_hit_is_one_get_many_and_an_invalidation_one_set_many(
    workos: list[str], counted: Callable[[], dict[str, int]]
) -> None:
    host = Host()
    host.token()
    counted()
    host.token()
    assert counted() == {"get_many": 1}
    host.invalidate()  # the connection's generation and its user's listing's
    assert counted() == {"set_many": 1}


def test_a_hit_reads_the_entry_its_generations_and_the_breaker_together(
    workos: list[str],
) -> None:
    keys = CacheKeys.build("salesforce", "user_1", "org_1")
    assert keys.lookup == (keys.token, keys.user_generation, keys.org_generation, WORKOS_DOWN)
