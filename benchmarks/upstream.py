#!/usr/bin/env python3
"""Upstream calls: how many times WorkOS is asked, counted by the emulator.

    .venv/bin/python benchmarks/upstream.py warm|users|stampede [--redis URL]

- ``warm``: 1,000 requests by one user through the decorated view (target 1);
- ``users``: 200 users x 20 requests each through the decorated view (target 200);
- ``stampede``: 2 processes x 16 threads, first request at once, Redis cache (target 1).
  This script starts the two processes itself (``stampede-worker``).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import site
from benchmarks.redis_server import private_redis
from django_workos_pipes.emulator import Emulator

# Each cached connection takes two keys (its entry and its generation), and locmem's
# default MAX_ENTRIES (300) would cull 200 users' 400 keys at random: every request a miss.
LOCMEM = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "OPTIONS": {"MAX_ENTRIES": 10_000},
}


def warm(emulator: Emulator) -> dict[str, int]:
    site.configure(cache=LOCMEM, base_url=emulator.url)
    emulator.connect("salesforce", "user_bench_1", scopes=["api"])
    send = site.requester("/piped/", site.login_cookie())
    statuses = send(1000)
    assert statuses == ["200 OK"] * 1000, set(statuses)
    return {"requests": 1000, "upstream_calls": emulator.token_calls}


def users(emulator: Emulator) -> dict[str, int]:
    site.configure(cache=LOCMEM, base_url=emulator.url)
    senders = []
    for number in range(200):
        cookie = site.login_cookie(f"bench{number}")
        senders.append(site.requester("/piped/", cookie))
    for number in range(1, 201):
        emulator.connect("salesforce", f"user_bench_{number}", scopes=["api"])
    for _ in range(20):
        for send in senders:
            assert send(1) == ["200 OK"]
    return {"users": 200, "requests": 4000, "upstream_calls": emulator.token_calls}


def stampede(emulator: Emulator) -> dict[str, int]:
    emulator.connect("salesforce", "user_stampede", scopes=["api"])
    with private_redis() as url:
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        start_at = f"{time.time() + 3:.3f}"
        command = [sys.executable, __file__, "stampede-worker", url, prefix, emulator.url, start_at]
        workers = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        served = sum(int(worker.communicate(timeout=60)[0]) for worker in workers)
    return {"processes": 2, "threads": 16, "served": served, "upstream_calls": emulator.token_calls}


def stampede_worker(redis_url: str, prefix: str, base_url: str, start_at: float) -> None:
    """One of the two stampede processes: 16 threads miss one key at ``start_at``."""
    cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    site.configure(cache={**cache, "KEY_PREFIX": prefix}, base_url=base_url)
    from django_workos_pipes import pipes

    served = []

    def worker() -> None:
        time.sleep(max(0.0, start_at - time.time()))
        if pipes.get_access_token("salesforce", user_id="user_stampede").active:
            served.append(1)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    print(len(served))


def main() -> None:
    if sys.argv[1:2] == ["stampede-worker"]:
        url, prefix, base_url, start_at = sys.argv[2:6]
        stampede_worker(url, prefix, base_url, float(start_at))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", choices=["warm", "users", "stampede"])
    args = parser.parse_args()
    scenarios = {"warm": warm, "users": users, "stampede": stampede}
    with Emulator(api_key=site.API_KEY) as emulator:
        # The emulator answers slowly, like the real API, so that a stampede overlaps.
        emulator.inject_fault("latency", count=1_000_000, delay=0.05)
        print(json.dumps({"scenario": args.scenario, **scenarios[args.scenario](emulator)}))


if __name__ == "__main__":
    main()
