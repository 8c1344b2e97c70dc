"""Single flight across real processes sharing a real Redis."""

from __future__ import annotations

import pytest

from tests.servers import LoopbackServer, issuing_tokens
from tests.system.stampede_worker import stampede


@pytest.mark.redis
@pytest.mark.processes
def test_two_processes_of_32_threads_make_one_upstream_call(
    redis_url: str, redis_prefix: str
) -> None:
    with LoopbackServer(issuing_tokens(delay=0.3)) as workos:
        outputs = stampede(redis_url, redis_prefix, workos.url, 32)
        calls = workos.count

    assert [len(tokens) for tokens in outputs] == [32, 32]
    assert {token for tokens in outputs for token in tokens} == {"ya29.loopback-1"}
    assert calls == 1
