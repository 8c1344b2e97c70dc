"""One process of the cross-process stampede test.

``python -m tests.system.stampede_worker CACHE PREFIX BASE_URL THREADS START_AT``
configures Django with a shared cache (CACHE: a Redis URL, or the JSON of a ``CACHES``
entry), waits for the shared start time, misses one key from THREADS threads at once and
prints the tokens it was given, as JSON. :func:`stampede` starts the processes and reads
what each printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def stampede(
    cache: str, prefix: str, base_url: str, threads: int, processes: int = 2
) -> list[list[str]]:
    """Run ``processes`` workers that start together 3 s from now; each one's tokens."""
    args = [cache, prefix, base_url, str(threads), str(time.time() + 3)]
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
        for _ in range(processes)
    ]
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        outputs.append(json.loads(out))
    return outputs


def main(cache: str, prefix: str, base_url: str, threads: int, start_at: float) -> None:
    if cache.startswith("{"):
        config = json.loads(cache)
    else:
        config = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": cache}
    settings.configure(
        INSTALLED_APPS=["django_workos_pipes"],
        CACHES={"default": {**config, "KEY_PREFIX": prefix}},
        WORKOS_PIPES={"API_KEY": "sk_test_stampede_0123456789", "BASE_URL": base_url},
    )
    django.setup()
    from django_workos_pipes import pipes

    barrier = threading.Barrier(threads)
    tokens: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        time.sleep(max(0.0, start_at - time.time()))
        result = pipes.get_access_token("salesforce", user_id="user_stampede")
        assert result.access_token is not None
        with lock:
            tokens.append(result.access_token.access_token)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=30)
    print(json.dumps(tokens))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
