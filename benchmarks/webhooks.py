#!/usr/bin/env python3
"""Verified webhook events handled per second, in one process on one core.

    .venv/bin/python benchmarks/webhooks.py [--events 5000] [--redis redis://...] [--profile]

Each event is a distinct signed pipes event (so every one is verified, parsed, claimed,
invalidated, signalled and marked handled), posted straight to Django's WSGI handler
through a middleware stack like ``startproject``'s. Signing happens before the clock
starts: it is WorkOS's work, not ours.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import site

SECRET = site.WEBHOOK_SECRET

PREFIX = f"dwp-bench-{os.getpid()}"


def configure(redis_url: str | None) -> None:
    """The benchmark site (``benchmarks/site.py``), with a Redis cache if asked."""
    cache: dict[str, Any] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    if redis_url:
        cache = {
            "BACKEND": "django_workos_pipes.caching.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": PREFIX,
        }
    site.configure(cache=cache, base_url="http://127.0.0.1:9")  # WorkOS is never called


def environs(count: int) -> list[dict[str, Any]]:
    from django.urls import reverse

    from django_workos_pipes.testing import EVENT_TYPES, sign_webhook, webhook_event

    path = reverse("workos_pipes:webhook")
    kinds = list(EVENT_TYPES)
    prepared = []
    for number in range(count):
        event = webhook_event(
            kinds[number % len(kinds)], "salesforce", f"user_{number % 500}", "org_bench"
        )
        body = json.dumps(event).encode()
        prepared.append(
            {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": path,
                "SERVER_NAME": "testserver",
                "SERVER_PORT": "443",
                "wsgi.url_scheme": "https",
                "CONTENT_TYPE": "application/json",
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_WORKOS_SIGNATURE": sign_webhook(body, SECRET),
                "REMOTE_ADDR": "127.0.0.1",
                "_body": body,
            }
        )
    return prepared


def run(handler: Any, prepared: list[dict[str, Any]]) -> None:
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    for template in prepared:
        environ = dict(template)
        environ["wsgi.input"] = io.BytesIO(environ.pop("_body"))
        response = handler(environ, start_response)
        response.close()
    failed = [status for status in statuses if not status.startswith("200")]
    if failed:
        sys.exit(f"{len(failed)} events were not handled: {failed[:3]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--redis", metavar="URL", help="use a Redis cache instead of locmem")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    arguments = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    configure(arguments.redis)
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    run(handler, environs(50))  # warm up imports, URL resolver, caches
    prepared = environs(arguments.events)

    profiler = cProfile.Profile() if arguments.profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    run(handler, prepared)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started

    cache = "redis" if arguments.redis else "locmem"
    rate = arguments.events / elapsed
    if arguments.json:
        print(json.dumps({"cache": cache, "events": arguments.events, "events_per_second": rate}))
        return
    print(
        f"{arguments.events} verified webhook events in {elapsed:.2f} s: {rate:,.0f} events/s "
        f"(one core, {cache} cache)"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    if arguments.redis:
        import redis

        client = redis.Redis.from_url(arguments.redis)
        keys = list(client.scan_iter(f"{PREFIX}:*"))
        if keys:
            client.delete(*keys)  # this run's keys only; cache.clear() would flush the db


if __name__ == "__main__":
    main()
