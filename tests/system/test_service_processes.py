"""Single flight across real processes sharing a real Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import LoopbackServer, issuing_tokens

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.redis
@pytest.mark.processes
def test_two_processes_of_32_threads_make_one_upstream_call(
    redis_url: str, redis_prefix: str
) -> None:
    with LoopbackServer(issuing_tokens(delay=0.3)) as workos:
        start_at = time.time() + 3
        args = [redis_url, redis_prefix, workos.url, "32", str(start_at)]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.system.stampede_worker", *args],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = []
        for worker in workers:
            out, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err
            outputs.append(json.loads(out))
        calls = workos.count

    assert [len(tokens) for tokens in outputs] == [32, 32]
    assert {token for tokens in outputs for token in tokens} == {"ya29.loopback-1"}
    assert calls == 1
