"""A webhook received by one real server process invalidates a token cached by another.

Two processes of ``tests.system.faultsite`` share one Redis cache (a key prefix of their
own) and a loopback stand-in for WorkOS that hands out a new token per call.
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from tests.servers import LoopbackServer, issuing_tokens
from tests.system.faultsite.views import fingerprint
from tests.system.processes import ServerProcess, running_servers

SECRET = "whsec_crossprocess_0123456789abcdef"
SETTINGS = "tests.system.faultsite.settings"
TOKEN_PATH = "/token/salesforce/?user=user_crossprocess"


def served_fingerprint(server: ServerProcess) -> str:
    status, body = server.request("GET", TOKEN_PATH)
    assert status == 200, server.log()
    answer = json.loads(body)
    assert answer["active"] is True
    return str(answer["fingerprint"])


@pytest.mark.redis
@pytest.mark.processes
def test_webhook_posted_to_b_makes_a_fetch_afresh(redis_url: str, redis_prefix: str) -> None:
    with LoopbackServer(issuing_tokens("ya29.crossprocess-")) as workos:
        env = {
            "DWP_REDIS_URL": redis_url,
            "DWP_CACHE_PREFIX": redis_prefix,
            "DWP_CACHE_TIMEOUT": "2",
            "DWP_WORKOS_URL": workos.url,
            "DWP_API_KEY": "sk_test_crossprocess_0123456789",
            "DWP_TIMEOUT": "2",
            "DWP_MAX_RETRIES": "0",
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
