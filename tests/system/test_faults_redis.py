"""Redis misbehaving: stopped, killed, frozen or cut off mid-run, then back.

Every test runs its own ``redis-server`` on a free port of 127.0.0.1 (the shared one is
never touched), reached through a :class:`~tests.system.redis_server.Link` that can be cut like
a network partition, with short socket timeouts. Requests must keep being served
straight from WorkOS while Redis is gone (no 500: the emulator's token calls rise), and
caching must resume by itself once Redis is back (the token calls stop rising).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_lib
from django.test import Client, override_settings

from django_workos_pipes import service
from django_workos_pipes.testing import post_webhook, webhook_event
from tests.system.faultkit import (
    API_KEY,
    WEBHOOK_SECRET,
    EmulatedWorkOS,
    LeakGuard,
    report,
)
from tests.system.faultsite import pipes_settings
from tests.system.faultsite.views import fingerprint
from tests.system.processes import ServerProcess, running_servers
from tests.system.redis_server import Link, RedisServer

SOCKET_TIMEOUT = 0.25
PROVIDERS = ("salesforce", "hubspot", "slack")
pytestmark = pytest.mark.redis


def cache_settings(url: str, prefix: str) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
            "OPTIONS": {
                "socket_connect_timeout": SOCKET_TIMEOUT,
                "socket_timeout": SOCKET_TIMEOUT,
            },
        }
    }


@pytest.fixture(autouse=True)
def _restore_the_cache_warning_clock() -> Iterator[None]:
    """The service warns at most every 30 s that the cache is down; these tests make it
    warn, so its clock is put back for the tests that follow (and count warnings)."""
    saved = service.pipes._cache_guard._last_warning
    yield
    service.pipes._cache_guard._last_warning = saved


@pytest.fixture
def link(private_redis: RedisServer) -> Iterator[Link]:
    with Link(private_redis.port) as cuttable:
        yield cuttable


@pytest.fixture
def site_over_link(link: Link, emulated_workos: EmulatedWorkOS) -> Iterator[Client]:
    """The fault site, in-process, its cache a Redis reached through the cuttable link."""
    settings = pipes_settings(
        base_url=emulated_workos.url, api_key=API_KEY, webhook_secret=WEBHOOK_SECRET
    )
    with override_settings(
        ROOT_URLCONF="tests.system.faultsite.urls",
        CACHES=cache_settings(link.url, f"dwp-faults-{uuid.uuid4().hex[:8]}"),
        WORKOS_PIPES=settings,
    ):
        yield Client()


class Round:
    """One request per connected user; checks each answer is that user's token."""

    def __init__(self, client: Client, workos: EmulatedWorkOS, guard: LeakGuard, users: list[str]):
        self.client, self.workos, self.guard, self.users = (
            client,
            workos,
            guard,
            users,
        )
        self.longest = 0.0

    def __call__(self) -> int:
        """The token calls this round cost."""
        before = self.workos.emulator.token_calls
        for user in self.users:
            started = time.monotonic()
            response = self.client.get("/salesforce/", {"user": user})
            self.longest = max(self.longest, time.monotonic() - started)
            self.guard.body(response.content)
            assert response.status_code == 200, response.content[:300]
            connection = self.workos.emulator.connection("salesforce", user)
            assert connection is not None
            assert json.loads(response.content)["fingerprint"] == fingerprint(
                connection.access_token
            )
        return self.workos.emulator.token_calls - before


def resumes(round_: Round, attempts: int = 4) -> int:
    """Rounds until one costs no token call (caching has resumed); fails if none does."""
    for done in range(1, attempts + 1):
        if round_() == 0:
            return done
    raise AssertionError(f"caching did not resume within {attempts} rounds")


def cache_warnings(guard: LeakGuard) -> int:
    return sum(
        "unavailable" in record and "asking WorkOS directly" in record for record in guard.records
    )


GONE = {
    "terminated": "SIGTERM, started again empty on the same port",
    "killed": "SIGKILL, started again empty on the same port",
    "partitioned": "link cut (network partition), mended with the data intact",
}


@pytest.mark.parametrize("how", list(GONE))
def test_redis_gone_and_back_in_process(
    how: str,
    private_redis: RedisServer,
    link: Link,
    emulated_workos: EmulatedWorkOS,
    site_over_link: Client,
    leak_guard: LeakGuard,
) -> None:
    users = emulated_workos.connect_all(
        [f"user_redis_{i}_{uuid.uuid4().hex[:6]}" for i in range(5)]
    )
    round_ = Round(site_over_link, emulated_workos, leak_guard, users)
    assert round_() == len(users)
    assert round_() == 0, "cached in Redis"

    {"terminated": private_redis.stop, "killed": private_redis.kill, "partitioned": link.cut}[how]()
    down = [round_() for _ in range(3)]
    assert down == [len(users)] * 3, "every request asks WorkOS directly"
    assert cache_warnings(leak_guard) <= 1, "one warning per 30 s, not one per request"

    if how == "partitioned":
        link.mend()
    else:
        private_redis.start()
    rounds_to_resume = resumes(round_)
    assert [round_() for _ in range(2)] == [0, 0]
    assert redis_lib.Redis.from_url(private_redis.url).dbsize() > 0, "tokens are in Redis"
    report(
        "redis_fault",
        mode="in-process",
        fault=f"redis {how}: {GONE[how]}",
        calls_while_down=down,
        rounds_to_resume=rounds_to_resume,
        longest_request_s=round(round_.longest, 3),
    )


def test_redis_frozen_and_thawed_in_process(
    private_redis: RedisServer,
    emulated_workos: EmulatedWorkOS,
    site_over_link: Client,
    leak_guard: LeakGuard,
) -> None:
    """A Redis that accepts connections but never answers (SIGSTOP): a request waits
    one socket timeout, then is served straight from WorkOS."""
    users = emulated_workos.connect_all(
        [f"user_frozen_{i}_{uuid.uuid4().hex[:6]}" for i in range(2)]
    )
    round_ = Round(site_over_link, emulated_workos, leak_guard, users)
    assert round_() == len(users)

    private_redis.freeze()
    try:
        round_.longest = 0.0
        assert round_() == len(users), "every request asks WorkOS directly"
        frozen_longest = round_.longest
    finally:
        private_redis.thaw()
    # One cache call waits its timeout, then the request goes straight to WorkOS: not
    # the five calls (read, lock, read, store, unlock) a request makes on a miss.
    assert frozen_longest < 2 * SOCKET_TIMEOUT
    rounds_to_resume = resumes(round_)
    report(
        "redis_fault",
        mode="in-process",
        fault="redis frozen (SIGSTOP)",
        longest_request_s=round(frozen_longest, 3),
        rounds_to_resume=rounds_to_resume,
    )


def test_a_webhook_is_not_acknowledged_while_redis_cannot_store_it(
    link: Link,
    emulated_workos: EmulatedWorkOS,
    site_over_link: Client,
    leak_guard: LeakGuard,
) -> None:
    """A disconnect that arrives while Redis is cut off (its data intact) must not be
    acknowledged: otherwise WorkOS never delivers it again, and once Redis is reachable
    the disconnected user's cached token is served until it expires."""
    user = f"user_webhook_{uuid.uuid4().hex[:8]}"
    emulated_workos.emulator.connect("salesforce", user)
    Round(site_over_link, emulated_workos, leak_guard, [user])()
    event = webhook_event("disconnected", "salesforce", user)

    link.cut()
    emulated_workos.emulator.disconnect("salesforce", user)
    first = post_webhook(site_over_link, event, secret=WEBHOOK_SECRET)
    leak_guard.body(first.content)
    link.mend()
    assert first.status_code == 503, "not acknowledged, so WorkOS delivers it again"

    redelivered = post_webhook(site_over_link, event, secret=WEBHOOK_SECRET)
    leak_guard.body(redelivered.content)
    assert (redelivered.status_code, redelivered.content) == (200, b"ok")
    response = site_over_link.get("/salesforce/", {"user": user})
    leak_guard.body(response.content)
    assert response.status_code == 302 and "/pipes/connect/salesforce/" in response["Location"]


# Two real server processes sharing the private Redis, under steady load.


class Load:
    """Client threads sending requests to the servers until stopped; counts everything."""

    def __init__(
        self,
        servers: list[ServerProcess],
        workos: EmulatedWorkOS,
        guard: LeakGuard,
        users: list[str],
    ) -> None:
        self.servers, self.workos, self.guard, self.users = (
            servers,
            workos,
            guard,
            users,
        )
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []
        self.wrong_tokens = 0
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(8)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self, seed: int) -> None:
        pick = random.Random(seed)
        sent = 0
        while not self.stop.is_set() and sent < 20_000:
            sent += 1
            server = self.servers[sent % len(self.servers)]
            provider, user = pick.choice(PROVIDERS), pick.choice(self.users)
            try:
                status, body = server.request("GET", f"/{provider}/?user={user}", timeout=10)
            except OSError as exc:
                with self._lock:
                    self.errors.append(type(exc).__name__)
                continue
            self.guard.body(body)
            connection = self.workos.emulator.connection(provider, user)
            ok = (
                status == 200
                and connection is not None
                and json.loads(body)["fingerprint"] == fingerprint(connection.access_token)
            )
            with self._lock:
                self.statuses[status] += 1
                self.wrong_tokens += status == 200 and not ok

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.statuses.values())


def calls_during(workos: EmulatedWorkOS, seconds: float) -> int:
    before = workos.emulator.token_calls
    time.sleep(seconds)
    return workos.emulator.token_calls - before


@pytest.mark.processes
def test_redis_killed_and_restarted_under_load_of_two_processes(
    private_redis: RedisServer,
    emulated_workos: EmulatedWorkOS,
    leak_guard: LeakGuard,
) -> None:
    users = emulated_workos.connect_all([f"user_load_{i}" for i in range(10)], PROVIDERS)
    env = {
        "DWP_WORKOS_URL": emulated_workos.url,
        "DWP_API_KEY": API_KEY,
        "DWP_REDIS_URL": private_redis.url,
        "DWP_CACHE_PREFIX": f"dwp-faults-{uuid.uuid4().hex[:8]}",
        "DWP_CACHE_TIMEOUT": str(SOCKET_TIMEOUT),
        "DWP_TIMEOUT": "2",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    connections = len(users) * len(PROVIDERS)
    with running_servers(2, "tests.system.faultsite.settings", env=env, threads=4) as servers:

        def sweep() -> int:
            """Ask both servers for every connection once: the token calls it cost."""
            before = emulated_workos.emulator.token_calls
            for server in servers:
                for provider in PROVIDERS:
                    for user in users:
                        status, body = server.request("GET", f"/{provider}/?user={user}")
                        leak_guard.body(body)
                        assert status == 200, body
            return emulated_workos.emulator.token_calls - before

        try:
            assert sweep() == connections, "one call per connection, for both servers"
            started = time.monotonic()
            with Load(servers, emulated_workos, leak_guard, users) as load:
                time.sleep(0.5)
                warm = calls_during(emulated_workos, 0.5)
                private_redis.kill()
                down_at = load.total
                down = calls_during(emulated_workos, 1.5)
                served_while_down = load.total - down_at
                private_redis.start()
                restarted = time.monotonic()
                sweeps = [sweep()]  # until a sweep of every connection costs no call
                while sweeps[-1] and len(sweeps) < 5:
                    sweeps.append(sweep())
                resumed_after = time.monotonic() - restarted
                after = calls_during(emulated_workos, 1.0)
            duration = time.monotonic() - started
        finally:
            for n, server in enumerate(servers):
                leak_guard.server_log(f"server {n}", server.log())
    logs = "\n".join(leak_guard.server_logs.values())

    assert not load.errors, Counter(load.errors)
    assert set(load.statuses) == {200}, load.statuses
    assert load.wrong_tokens == 0
    assert "-> 500" not in logs and "Traceback" not in logs
    assert warm == 0, "all cached before Redis went away"
    assert down > connections, "token calls rise while Redis is down"
    assert served_while_down > 0
    assert sweeps[-1] == 0, f"caching did not resume: {sweeps}"
    assert after == 0, "caching resumed: token calls stopped rising"
    report(
        "redis_fault",
        mode="2 processes x 4 threads, 8 client threads",
        fault="redis killed (SIGKILL) under load, restarted on the same port",
        requests=load.total,
        statuses=dict(load.statuses),
        served_while_down=served_while_down,
        token_calls_while_down_1_5s=down,
        token_calls_per_sweep_after_restart=sweeps,
        token_calls_after_resume_1s=after,
        resumed_within_s=round(resumed_after, 2),
        duration_s=round(duration, 2),
    )
