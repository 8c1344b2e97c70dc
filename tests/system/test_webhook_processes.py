"""A webhook received by one real server process invalidates a token cached by another.

Two processes of ``tests.system.crossprocess`` share one Redis cache (a key prefix of their
own) and a loopback stand-in for WorkOS that hands out a new token per call.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from tests.servers import Answer, LoopbackServer, token_answer
from tests.system.crossprocess.views import fingerprint
from tests.system.processes import ServerProcess, running_servers

SECRET = "whsec_crossprocess_0123456789abcdef"
SETTINGS = "tests.system.crossprocess.settings"
TOKEN_PATH = "/token/salesforce/?user=user_crossprocess"


class TokenIssuer:
    """WorkOS's token endpoint: ``ya29.crossprocess-1``, ``-2``... one per call."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> Answer:
        with self._lock:
            value = f"ya29.crossprocess-{len(self.issued) + 1}"
            self.issued.append(value)
        return token_answer(value)


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    import redis

    prefix = f"dwp-webhook-processes-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def served_fingerprint(server: ServerProcess) -> str:
    status, body = server.request("GET", TOKEN_PATH)
    assert status == 200, server.log()
    answer = json.loads(body)
    assert answer["active"] is True
    return str(answer["fingerprint"])


@pytest.mark.redis
@pytest.mark.processes
def test_webhook_posted_to_b_makes_a_fetch_afresh(redis_url: str, redis_prefix: str) -> None:
    issuer = TokenIssuer()
    with LoopbackServer(issuer) as workos:
        env = {
            "DWP_REDIS_URL": redis_url,
            "DWP_CACHE_PREFIX": redis_prefix,
            "DWP_WORKOS_URL": workos.url,
            "DWP_WEBHOOK_SECRET": SECRET,
            "NO_PROXY": "127.0.0.1,localhost",
        }
        with running_servers(2, SETTINGS, env=env, threads=2, timeout=15) as (a, b):
            assert served_fingerprint(a) == fingerprint("ya29.crossprocess-1")
            assert workos.count == 1
            assert served_fingerprint(a) == fingerprint("ya29.crossprocess-1")
            assert served_fingerprint(b) == fingerprint("ya29.crossprocess-1")
            assert workos.count == 1

            # The developer's tool posts a signed event to B, as WorkOS would.
            call_command(
                "workos_pipes_send_webhook",
                event="disconnected",
                provider="salesforce",
                user="user_crossprocess",
                url=f"{b.url}/pipes/webhook/",
                secret=SECRET,
                timeout=5,
            )
            assert workos.count == 1  # B invalidated; it fetched nothing itself

            assert served_fingerprint(a) == fingerprint("ya29.crossprocess-2")
            assert workos.count == 2
            assert served_fingerprint(b) == fingerprint("ya29.crossprocess-2")
            assert workos.count == 2
            assert "invalidated provider=salesforce" in b.log()
