#!/usr/bin/env python3
"""Cache-hit overhead of ``@require_pipe``: the same view, decorated or not.

    .venv/bin/python benchmarks/views.py --cache BACKEND [--requests 3000] [--rounds 5]

BACKEND is locmem, redis (Django's RedisCache), pipes-redis (this package's
RedisCache), django-redis or memcached (Django's PyMemcacheCache); the servers are
private ones on free loopback ports. Both views run through Django's WSGI handler with
a ``startproject`` middleware stack and a logged-in user; the decorated one finds its
token in the cache (one upstream call before timing starts). A third kind of round times
the decorated view again with ``ENCRYPTION_KEYS`` set, its token encrypted in the cache
(fetched again, untimed, each time encryption is switched on or off, since either mode
reads the other's entry as a miss). Rounds alternate, and the best round of each counts,
so the ratios compare like with like on a noisy machine. With locmem every request is
work of this process alone, so rounds are timed by its CPU time (``--clock cpu``); with
a server, whose round trips are waits, by the wall clock. The same process then times,
in alternating batches, ``check_pipe`` on a hit (the decorator's work) and that
backend's own ``cache.get`` of the cached entry: the hit's cost in gets. Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import site
from benchmarks.redis_server import private_memcached, private_redis
from django_workos_pipes.caching.crypto import generate_key
from django_workos_pipes.caching.keys import CacheKeys
from django_workos_pipes.emulator import Emulator

BACKENDS = {
    "locmem": "django.core.cache.backends.locmem.LocMemCache",
    "redis": "django.core.cache.backends.redis.RedisCache",
    "pipes-redis": "django_workos_pipes.caching.redis.RedisCache",
    "django-redis": "django_redis.cache.RedisCache",
    "memcached": "django.core.cache.backends.memcached.PyMemcacheCache",
}
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = time.perf_counter


def best_rate(send: object, requests: int, rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        started = clock()
        statuses = send(requests)  # type: ignore[operator]
        elapsed = clock() - started
        if any(not status.startswith("200") for status in statuses):
            sys.exit(f"non-200 answers: {sorted(set(statuses))}")
        best = max(best, requests / elapsed)
    return best


def redis_commands(url: str) -> int:
    import redis

    stats = redis.Redis.from_url(url).info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info",))


def token_memory(url: str, user_id: str) -> int:
    """``MEMORY USAGE`` of a user's cached token entry (key, value and overhead)."""
    import redis
    from django.core.cache import cache

    key = cache.make_key(CacheKeys.build("salesforce", user_id, None).token)
    return int(redis.Redis.from_url(url).memory_usage(key) or 0)


def encryption() -> Any:
    """Settings with ``ENCRYPTION_KEYS`` set, as a context manager."""
    from django.conf import settings
    from django.test import override_settings

    return override_settings(
        WORKOS_PIPES={**settings.WORKOS_PIPES, "ENCRYPTION_KEYS": [generate_key()]}
    )


def service_hits(user_id: str, rounds: int, hits: int = 2000) -> dict[str, float]:
    """Microseconds per cache hit of ``pipes.get_access_token`` itself, without and with
    encryption, best of alternating rounds: the cost of decryption without the noise of
    a whole request around it."""
    from django_workos_pipes import pipes

    def per_hit() -> float:
        pipes.get_access_token("salesforce", user_id=user_id)  # untimed: a fetch after a switch
        started = clock()
        for _ in range(hits):
            pipes.get_access_token("salesforce", user_id=user_id)
        return (clock() - started) / hits * 1e6

    plain = encrypted = float("inf")
    for _ in range(rounds * 2):
        plain = min(plain, per_hit())
        with encryption():
            encrypted = min(encrypted, per_hit())
    return {"service_hit_us": plain, "service_hit_encrypted_us": encrypted}


def hit_and_get_seconds(rounds: int, batch: int = 200) -> tuple[float, float]:
    """The best time of one ``check_pipe`` on a cache hit (what ``@require_pipe`` does
    before the view) and of one ``cache.get`` of the same entry, timed in alternating
    batches in this process, so a loaded machine slows both alike."""
    from django.contrib.auth.models import User
    from django.core.cache import caches
    from django.test import RequestFactory

    from django_workos_pipes.caching.keys import CacheKeys
    from django_workos_pipes.decorators import check_pipe

    cache = caches["default"]
    key = CacheKeys.build("salesforce", "user_bench_1", None).token
    assert cache.get(key) is not None, "the decorated view cached its entry"
    request = RequestFactory().get("/piped/")
    request.user = User.objects.get(username="bench")
    assert check_pipe(request, "salesforce") is None, "a hit lets the view run"
    best_hit = best_get = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(batch):
            check_pipe(request, "salesforce")
        best_hit = min(best_hit, (time.perf_counter() - started) / batch)
        started = time.perf_counter()
        for _ in range(batch):
            cache.get(key)
        best_get = min(best_get, (time.perf_counter() - started) / batch)
    return best_hit, best_get


def measure(
    cache: dict[str, object], emulator: Emulator, args: argparse.Namespace
) -> dict[str, float]:
    site.configure(cache=cache, base_url=emulator.url)
    cookie = site.login_cookie()
    emulator.connect("salesforce", "user_bench_1", scopes=["api"])
    plain = site.requester("/plain/", cookie)
    piped = site.requester("/piped/", cookie)
    plain(200), piped(200)  # warm up: imports, URL resolver, the token in the cache
    with encryption():
        piped(200)
    results: dict[str, float] = {"plain_rps": 0.0, "decorated_rps": 0.0, "encrypted_rps": 0.0}
    calls_while_timed = 0

    def timed(name: str, send: Any) -> None:
        nonlocal calls_while_timed
        send(1)  # untimed: after a switch of mode, the token is fetched again
        before = emulator.token_calls
        results[name] = max(results[name], best_rate(send, args.requests, 1))
        calls_while_timed += emulator.token_calls - before

    for _ in range(args.rounds):
        timed("plain_rps", plain)
        timed("decorated_rps", piped)
        with encryption():
            timed("encrypted_rps", piped)
    results["ratio"] = results["decorated_rps"] / results["plain_rps"]
    results["encrypted_ratio"] = results["encrypted_rps"] / results["decorated_rps"]
    if args.cache == "locmem":
        results.update(service_hits("user_bench_1", args.rounds))
    results["upstream_calls_while_timed"] = calls_while_timed
    hit, get = hit_and_get_seconds(rounds=10 * args.rounds)
    results["hit_us"], results["cache_get_us"] = hit * 1e6, get * 1e6
    results["hit_cost_in_gets"] = hit / get
    if args.naive:
        naive = site.requester("/naive/", cookie)
        naive(50)
        results["naive_rps"] = best_rate(naive, max(200, args.requests // 5), args.rounds)
        results["decorated_vs_naive"] = results["decorated_rps"] / results["naive_rps"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", choices=list(BACKENDS), default="locmem")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--naive", action="store_true", help="also time a view calling the official SDK"
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        help="what times a round (default: cpu with locmem, wall with Redis)",
    )
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock or ("cpu" if args.cache == "locmem" else "wall")]
    site.pin_to_one_core()
    backend = BACKENDS[args.cache]
    with Emulator(api_key=site.API_KEY) as emulator:
        if args.cache == "locmem":
            results = measure({"BACKEND": backend}, emulator, args)
        elif args.cache == "memcached":
            with private_memcached() as location:
                if location is None:
                    sys.exit("memcached is not installed")
                results = measure({"BACKEND": backend, "LOCATION": location}, emulator, args)
        else:
            with private_redis() as url:
                results = measure({"BACKEND": backend, "LOCATION": url}, emulator, args)
                site_requests = site.requester("/piped/", site.login_cookie("bench2"))
                emulator.connect("salesforce", "user_bench_2", scopes=["api"])
                site_requests(5)  # the second user's token is cached now
                before = redis_commands(url)
                site_requests(1000)
                results["redis_commands_per_request"] = (redis_commands(url) - before) / 1000
                results["bytes_per_token"] = token_memory(url, "user_bench_2")
                with encryption():
                    site_requests(1)  # the same token, cached encrypted now
                    results["bytes_per_token_encrypted"] = token_memory(url, "user_bench_2")
    print(json.dumps({"cache": args.cache, "clock": clock.__name__, **results}))


if __name__ == "__main__":
    main()
