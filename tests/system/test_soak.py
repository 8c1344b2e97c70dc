"""The soak: two server processes under steady load, with a webhook storm halfway.

2 processes x 8 threads share one Redis (a private ``redis-server``) and the emulator,
whose state changes send signed webhooks to process A. 16 client threads send 5,000
requests across 50 users x 3 providers. When half are answered, the storm: connections
are disconnected, flagged for reauthorization, reconnected (a new token), some
disconnected then reconnected; some events are delivered again (to A or B, re-signed
as WorkOS does), and forged requests go to both (wrong secret, an old timestamp, a
tampered body, no or a broken header).

Held: no 5xx and no failed request; every 200 carries a token of that very
connection; every forged request is refused (400) and invalidates nothing; every
duplicate is acknowledged without being handled twice; and after the last webhook no
process serves a token for a connection the emulator reports disconnected, nor an old
token for one it reconnected. Nothing secret in any log record, body or server log, nor
in the raw Redis (the tokens are cached encrypted).
"""

from __future__ import annotations

import http.client
import json
import random
import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from django_workos_pipes.caching.crypto import generate_key
from django_workos_pipes.signatures import HEADER
from django_workos_pipes.testing import sign_webhook, webhook_event
from tests.servers import free_port
from tests.system.faultkit import (
    API_KEY,
    WEBHOOK_SECRET,
    EmulatedWorkOS,
    LeakGuard,
    report,
)
from tests.system.faultsite.views import fingerprint
from tests.system.processes import ServerProcess, running_servers
from tests.system.redis_server import RedisServer

REQUESTS = 5_000
USERS = 50
PROVIDERS = ("salesforce", "hubspot", "slack")
CLIENT_THREADS = 16
SERVER_THREADS = 8
WEBHOOK_PATH = "/pipes/webhook/"

pytestmark = [pytest.mark.processes, pytest.mark.redis]

Key = tuple[str, str]


class Storm:
    """The state changes, duplicated deliveries and forgeries sent halfway."""

    def __init__(self, workos: EmulatedWorkOS, servers: list[ServerProcess], keys: list[Key]):
        self.workos, self.servers = workos, servers
        pick = random.Random(20_240_601)
        chosen = pick.sample(keys, 36)
        self.disconnected = chosen[:15]
        self.reauthorize = chosen[15:24]
        self.reconnected = chosen[24:33]
        self.flapped = chosen[33:36]  # disconnected, then connected again
        self.untouched = [key for key in keys if key not in chosen]
        self.duplicates: list[tuple[str, int, bytes]] = []  # (event id, status, body)
        self.forged: list[tuple[str, int, bytes]] = []  # (kind, status, body)
        self.forged_ids: list[str] = []
        self.seconds = 0.0

    def run(self) -> None:
        started = time.monotonic()
        emulator = self.workos.emulator
        genuine_before = len(emulator.deliveries)
        for provider, user in self.disconnected:
            emulator.disconnect(provider, user)
        for provider, user in self.reauthorize:
            emulator.needs_reauthorization(provider, user)
        for provider, user in self.reconnected:
            emulator.connect(provider, user)
        for provider, user in self.flapped:
            emulator.disconnect(provider, user)
            emulator.connect(provider, user)
        storm = emulator.deliveries[genuine_before:]
        for n, delivery in enumerate(storm[:20]):
            server = self.servers[n % 2]  # the same event again, to A and to B
            status, answer = self._post(
                server, delivery.body, sign_webhook(delivery.body, WEBHOOK_SECRET)
            )
            self.duplicates.append((delivery.event["id"], status, answer))
        self._forge(storm)
        self.seconds = time.monotonic() - started

    def _forge(self, storm: list[Any]) -> None:
        now = time.time()
        attempts: list[tuple[str, bytes, str | None]] = []
        for n, (provider, user) in enumerate(self.untouched[:8]):
            event = webhook_event("disconnected", provider, user)
            self.forged_ids.append(event["id"])
            body = json.dumps(event).encode()
            attempts.append(("wrong secret", body, sign_webhook(body, f"whsec_forged_{n}")))
        for delivery in storm[:8]:
            old = sign_webhook(delivery.body, WEBHOOK_SECRET, timestamp=now - 3600)
            attempts.append(("replayed, an hour old", delivery.body, old))
        for delivery in storm[8:15]:
            signature = sign_webhook(delivery.body, WEBHOOK_SECRET)
            tampered = delivery.body.replace(b'"user_id":"', b'"user_id":"x')
            attempts.append(("tampered body", tampered, signature))
        for n, (provider, user) in enumerate(self.untouched[8:15]):
            event = webhook_event("disconnected", provider, user)
            self.forged_ids.append(event["id"])
            header = None if n % 2 else "t=abc, v1=" + "0" * 64
            attempts.append(("no or broken header", json.dumps(event).encode(), header))
        for n, (kind, body, header) in enumerate(attempts):
            status, answer = self._post(self.servers[n % 2], body, header)
            self.forged.append((kind, status, answer))

    @staticmethod
    def _post(server: ServerProcess, body: bytes, signature: str | None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers[HEADER] = signature
        return server.request("POST", WEBHOOK_PATH, body=body, headers=headers, timeout=10)


class Load:
    """``REQUESTS`` requests from ``CLIENT_THREADS`` threads; ``half`` is set midway."""

    def __init__(
        self,
        servers: list[ServerProcess],
        workos: EmulatedWorkOS,
        guard: LeakGuard,
        keys: list[Key],
    ):
        self.servers, self.workos, self.guard, self.keys = (
            servers,
            workos,
            guard,
            keys,
        )
        self.half = threading.Event()
        self.statuses: Counter[int] = Counter()
        self.errors: Counter[str] = Counter()
        self.foreign_tokens = 0
        self.redirects: Counter[str] = Counter()
        self._next = 0
        self._done = 0
        self._lock = threading.Lock()

    def _take(self) -> int | None:
        with self._lock:
            if self._next >= REQUESTS:
                return None
            self._next += 1
            return self._next - 1

    def worker(self, seed: int) -> None:
        pick = random.Random(seed)
        while (index := self._take()) is not None:
            provider, user = pick.choice(self.keys)
            server = self.servers[index % 2]
            try:
                status, body = server.request("GET", f"/{provider}/?user={user}", timeout=15)
            except OSError as exc:
                with self._lock:
                    self.errors[type(exc).__name__] += 1
                continue
            self.guard.body(body)
            foreign = status == 200 and json.loads(body)["fingerprint"] not in {
                fingerprint(token) for token in self.workos.emulator.tokens_of(provider, user)
            }
            with self._lock:
                self.statuses[status] += 1
                self.foreign_tokens += foreign
                self._done += 1
                if self._done == REQUESTS // 2:
                    self.half.set()

    def run(self) -> None:
        with ThreadPoolExecutor(CLIENT_THREADS, thread_name_prefix="soak-client") as pool:
            for future in [pool.submit(self.worker, seed) for seed in range(CLIENT_THREADS)]:
                future.result()
        self.half.set()


def answer_of(server: ServerProcess, key: Key) -> tuple[int, str]:
    """What a process answers for a connection now: (status, fingerprint or Location)."""
    provider, user = key
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request("GET", f"/{provider}/?user={user}")
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status == 200:
        return 200, str(json.loads(body)["fingerprint"])
    return response.status, response.getheader("Location") or ""


def invalidated_ids(logs: str) -> Counter[str]:
    return Counter(re.findall(r"WorkOS event (\S+) \([^)]*\): invalidated", logs))


def test_soak_two_processes_webhook_storm(
    private_redis: RedisServer,
    leak_guard: LeakGuard,
) -> None:
    keys = [(provider, f"user_soak_{n:02d}") for n in range(USERS) for provider in PROVIDERS]
    workos_port = free_port()
    env = {
        "DWP_WORKOS_URL": f"http://127.0.0.1:{workos_port}",
        "DWP_API_KEY": API_KEY,
        "DWP_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DWP_REDIS_URL": private_redis.url,
        "DWP_CACHE_PREFIX": f"dwp-soak-{uuid.uuid4().hex[:8]}",
        "DWP_CACHE_TIMEOUT": "2",
        "DWP_TIMEOUT": "2",
        "DWP_MAX_RETRIES": "1",
        "NO_PROXY": "127.0.0.1,localhost",
        "DWP_ENCRYPTION_KEYS": generate_key(),
    }
    started = time.monotonic()
    with running_servers(
        2, "tests.system.faultsite.settings", env=env, threads=SERVER_THREADS
    ) as servers:
        a = servers[0]  # receives the emulator's webhooks
        emulated_workos = EmulatedWorkOS(
            leak_guard, webhook_url=a.url + WEBHOOK_PATH, port=workos_port, state=False
        )
        try:
            for provider, user in keys:
                emulated_workos.emulator.connect(provider, user)
            initial_webhooks = len(emulated_workos.emulator.deliveries)
            storm = Storm(emulated_workos, servers, keys)
            load = Load(servers, emulated_workos, leak_guard, keys)
            loader = threading.Thread(target=load.run, name="soak-load")
            load_started = time.monotonic()
            loader.start()
            try:
                assert load.half.wait(60), "the load never reached half way"
                storm.run()
            finally:
                loader.join(120)
            load_seconds = time.monotonic() - load_started
            assert emulated_workos.emulator.wait_for_webhooks(10)

            # After the last webhook, what does each process serve?
            emulator = emulated_workos.emulator
            stale = []
            for server in servers:
                for key in keys:
                    status, what = answer_of(server, key)
                    leak_guard.body(what)
                    connection = emulator.connection(*key)
                    if connection is None:  # the emulator reports it disconnected
                        ok = status == 302 and f"/pipes/connect/{key[0]}/" in what
                    elif connection.state != "connected":
                        ok = status == 302 and f"/pipes/reauthorize/{key[0]}/" in what
                    else:
                        ok = status == 200 and what == fingerprint(connection.access_token)
                    if not ok:
                        stale.append((server.port, key, status, what))
            deliveries = emulator.deliveries
            token_calls = emulator.token_calls
        finally:
            emulated_workos.close()
            for name, server in zip("AB", servers, strict=True):
                leak_guard.server_log(f"server {name}", server.log())
    duration = time.monotonic() - started
    raw_cache_keys = leak_guard.raw_cache("soak Redis", private_redis.url)
    logs = "\n".join(leak_guard.server_logs.values())
    handled = invalidated_ids(logs)

    assert sum(load.statuses.values()) == REQUESTS and not load.errors, (load.statuses, load.errors)
    assert not [status for status in load.statuses if status >= 500], load.statuses
    assert set(load.statuses) <= {200, 302}, load.statuses
    assert load.foreign_tokens == 0, "a 200 carried another connection's token"
    assert "-> 5" not in logs and "Traceback" not in logs
    assert all(delivery.delivered for delivery in deliveries), [d.to_json() for d in deliveries]
    assert [status for _, status, _ in storm.duplicates] == [200] * len(storm.duplicates)
    assert {answer for _, _, answer in storm.duplicates} == {b"already handled"}
    assert [status for _, status, _ in storm.forged] == [400] * len(storm.forged)
    assert not stale, stale
    assert raw_cache_keys >= len(keys), "the raw cache holds every connection's entry"
    genuine = {delivery.event["id"] for delivery in deliveries}
    assert set(handled) == genuine and set(handled.values()) == {1}, "each event handled once"
    assert not set(storm.forged_ids) & set(handled), "a forged event invalidated a token"

    report(
        "soak",
        processes=2,
        server_threads=SERVER_THREADS,
        client_threads=CLIENT_THREADS,
        requests=REQUESTS,
        users=USERS,
        providers=len(PROVIDERS),
        statuses=dict(load.statuses),
        server_errors_5xx=sum(n for status, n in load.statuses.items() if status >= 500),
        request_errors=sum(load.errors.values()),
        webhooks_initial_connects=initial_webhooks,
        webhooks_storm=len(deliveries) - initial_webhooks,
        storm_changes={
            "disconnected": len(storm.disconnected),
            "reauthorization_needed": len(storm.reauthorize),
            "reconnected": len(storm.reconnected),
            "disconnected_then_reconnected": len(storm.flapped),
        },
        duplicates_sent=len(storm.duplicates),
        forged_sent=len(storm.forged),
        forged_kinds=dict(Counter(kind for kind, _, _ in storm.forged)),
        forged_accepted=sum(status != 400 for _, status, _ in storm.forged),
        stale_after_last_webhook=len(stale),
        checked_after_last_webhook=2 * len(keys),
        token_calls=token_calls,
        storm_seconds=round(storm.seconds, 2),
        load_seconds=round(load_seconds, 2),
        requests_per_second=round(REQUESTS / load_seconds),
        raw_cache_keys=raw_cache_keys,
        duration_s=round(duration, 2),
        leak_guard=leak_guard.summary(),
    )
