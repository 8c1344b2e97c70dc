"""Every shared cache backend users run, each against a real server the test starts.

Django's ``RedisCache``, this package's client-reusing ``RedisCache``, django-redis,
and Memcached through Django's ``PyMemcacheCache``: hit, miss, invalidation, single
flight across two processes, the webhook's round trips, and the cache going away and
coming back. Servers run on free ports of 127.0.0.1; without a server binary the tests
skip, and under CI=true they fail.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import responses
from django.core.cache import caches
from django.test import Client, override_settings

from django_workos_pipes import pipes
from django_workos_pipes.breaker import CLOSED, OPEN
from django_workos_pipes.service import PipesService
from django_workos_pipes.testing import post_webhook, webhook_event
from tests.servers import LoopbackServer, issuing_tokens
from tests.settings import API_KEY, WEBHOOK_SECRET
from tests.stubs import WORKOS
from tests.system.memcached_server import MemcachedServer
from tests.system.redis_server import RedisServer
from tests.system.stampede_worker import stampede

TOKEN_URL = f"{WORKOS}/data-integrations/salesforce/token"
TIMEOUT = 0.5  # socket timeouts of every backend here
BREAKER = 0.3


@dataclass(frozen=True)
class Backend:
    name: str
    backend: str
    server: str  # "redis" or "memcached"
    options: dict[str, Any]

    def config(self, location: str, **options: Any) -> dict[str, Any]:
        if self.server == "redis":
            location = f"redis://{location}/0"
        return {
            "BACKEND": self.backend,
            "LOCATION": location,
            "OPTIONS": {**self.options, **options},
        }

    def counting_round_trips(self) -> dict[str, Any]:
        """Options that make this Redis backend's connections :class:`CountingConnection`."""
        if self.backend.startswith("django_redis"):
            return {"CONNECTION_POOL_KWARGS": {"connection_class": CountingConnection}}
        return {"connection_class": CountingConnection}


class CountingConnection(redis.Connection):
    """A redis-py connection counting what it sends: one send per round trip (a
    pipeline or a script is one send, whatever it holds)."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.sent += 1
        super().send_packed_command(command, check_health)


REDIS_OPTIONS = {"socket_connect_timeout": TIMEOUT, "socket_timeout": TIMEOUT}
BACKENDS = [
    Backend(
        "django-redis-cache", "django.core.cache.backends.redis.RedisCache", "redis", REDIS_OPTIONS
    ),
    Backend(
        "pipes-redis-cache", "django_workos_pipes.caching.redis.RedisCache", "redis", REDIS_OPTIONS
    ),
    Backend(
        "django-redis",
        "django_redis.cache.RedisCache",
        "redis",
        {"SOCKET_CONNECT_TIMEOUT": TIMEOUT, "SOCKET_TIMEOUT": TIMEOUT},
    ),
    Backend(
        "memcached",
        "django.core.cache.backends.memcached.PyMemcacheCache",
        "memcached",
        # pymemcache keeps a server it saw fail "dead" for dead_timeout (60 s by default).
        {"connect_timeout": TIMEOUT, "timeout": TIMEOUT, "retry_attempts": 1, "dead_timeout": 1},
    ),
]


class Server:
    """The backend's server, started for the module: Redis or Memcached."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.process: RedisServer | MemcachedServer = (
            RedisServer() if kind == "redis" else MemcachedServer()
        )

    @property
    def location(self) -> str:
        return f"127.0.0.1:{self.process.port}"

    def commands(self) -> dict[str, int]:
        """Redis commands run so far, by name (INFO commandstats)."""
        import redis

        stats = redis.Redis(port=self.process.port).info("commandstats")
        return {key.removeprefix("cmdstat_"): value["calls"] for key, value in stats.items()}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Server]]:
    started: dict[str, Server] = {}
    yield started
    for server in started.values():
        if isinstance(server.process, RedisServer):
            server.process.close()
        else:
            server.process.stop()


@pytest.fixture(params=BACKENDS, ids=[backend.name for backend in BACKENDS])
def backend(
    request: pytest.FixtureRequest, servers: dict[str, Server]
) -> Iterator[tuple[Backend, Server]]:
    """The default cache on this backend, under a key prefix of the test's own."""
    spec: Backend = request.param
    if spec.server not in servers:
        servers[spec.server] = Server(spec.server)
    server = servers[spec.server]
    server.process.start()
    options = spec.counting_round_trips() if spec.server == "redis" else {}
    config = {
        **spec.config(server.location, **options),
        "KEY_PREFIX": f"dwp-{uuid.uuid4().hex[:10]}",
    }
    pipes_settings = {
        "API_KEY": API_KEY,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "BACKOFF_FACTOR": 0,
        "MAX_RETRIES": 0,
        "CACHE_BREAKER_SECONDS": BREAKER,
        "WORKOS_BREAKER_SECONDS": BREAKER,
    }
    with override_settings(CACHES={"default": config}, WORKOS_PIPES=pipes_settings):
        yield spec, server


@pytest.fixture
def workos() -> Iterator[list[str]]:
    handed: list[str] = []

    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        handed.append(f"ya29.token-{len(handed) + 1}")
        body = {"active": True, "access_token": {"access_token": handed[-1], "expires_at": None}}
        return 200, {}, json.dumps(body)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_callback(responses.POST, TOKEN_URL, callback=respond)
        yield handed


def token(service: PipesService = pipes, user_id: str = "user_1", org: str | None = None) -> str:
    result = service.get_access_token("salesforce", user_id=user_id, organization_id=org)
    assert result.access_token is not None
    return result.access_token.access_token


def test_miss_then_hits_in_one_round_trip_each(
    backend: tuple[Backend, Server], workos: list[str]
) -> None:
    spec, server = backend
    assert token() == "ya29.token-1"
    if spec.server == "redis":
        before = server.commands()
    assert [token() for _ in range(20)] == ["ya29.token-1"] * 20
    assert workos == ["ya29.token-1"]
    if spec.server == "redis":
        after = server.commands()
        ran = {name: after[name] - before.get(name, 0) for name in after}
        for probe in ("info", "hello", "client|setinfo"):  # commands() connecting
            ran.pop(probe, None)
        assert {name: count for name, count in ran.items() if count} == {"mget": 20}


def test_invalidation_reaches_another_process_sharing_the_cache(
    backend: tuple[Backend, Server], workos: list[str]
) -> None:
    other_host = PipesService()
    assert token(org="org_1") == "ya29.token-1"
    assert token(other_host, org="org_1") == "ya29.token-1"
    assert pipes.invalidate("salesforce", user_id="user_1", organization_id="org_1") is True
    assert token(other_host, org="org_1") == "ya29.token-2"
    assert token(org="org_1") == "ya29.token-2"
    assert token(user_id="user_2", org="org_1") == "ya29.token-3"
    assert other_host.invalidate_organization("salesforce", "org_1") is True
    assert token(user_id="user_2", org="org_1") == "ya29.token-4"
    assert token(org="org_1") == "ya29.token-5"


def test_single_flight_across_two_processes(backend: tuple[Backend, Server]) -> None:
    spec, server = backend
    config = {**spec.config(server.location)}
    prefix = f"dwp-stampede-{uuid.uuid4().hex[:10]}"
    with LoopbackServer(issuing_tokens(delay=0.3)) as upstream:
        outputs = stampede(json.dumps(config), prefix, upstream.url, 16)
        calls = upstream.count
    assert [len(tokens) for tokens in outputs] == [16, 16]
    assert len({value for tokens in outputs for value in tokens}) == 1
    assert calls == 1


def test_the_cache_going_away_and_coming_back(
    backend: tuple[Backend, Server], workos: list[str]
) -> None:
    _, server = backend
    assert token() == "ya29.token-1"
    server.process.stop()
    try:
        # Served straight from WorkOS; the breaker spares the other calls their timeouts.
        assert token() == "ya29.token-2"
        assert pipes.cache_breaker.state == OPEN
        assert token() == "ya29.token-3"
        assert pipes.invalidate("salesforce", user_id="user_1") is False
    finally:
        server.process.start()
    deadline = time.monotonic() + 10
    while pipes.cache_breaker.state != CLOSED:
        assert time.monotonic() < deadline, "the cache never came back"
        time.sleep(BREAKER)
        token()
    calls = len(workos)
    assert token() == token(), "caching resumed"
    assert len(workos) - calls <= 1


@pytest.mark.parametrize(
    "backend",
    [spec for spec in BACKENDS if spec.server == "redis"],
    ids=[spec.name for spec in BACKENDS if spec.server == "redis"],
    indirect=True,
)
def test_a_webhook_event_costs_two_round_trips_on_redis(
    backend: tuple[Backend, Server], workos: list[str]
) -> None:
    """The claim and the invalidation in one script, then the "handled" mark; a repeated
    delivery is one round trip, and invalidates nothing again."""
    assert token() == "ya29.token-1"
    caches["default"].get("warm")  # the connection is open: no HELLO in the counts
    event = webhook_event("disconnected", "salesforce", "user_1")
    client = Client()

    CountingConnection.sent = 0
    assert post_webhook(client, event).content == b"ok"
    assert CountingConnection.sent == 2

    CountingConnection.sent = 0
    assert post_webhook(client, event).content == b"already handled"
    assert CountingConnection.sent == 1

    assert token() == "ya29.token-2"
    assert token() == "ya29.token-2", "the repeated delivery invalidated nothing"
