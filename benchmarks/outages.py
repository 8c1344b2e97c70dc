#!/usr/bin/env python3
"""Outage budgets, measured: render times of a page with ten ``{% pipe_status %}`` tags.

    .venv/bin/python benchmarks/outages.py [--json FILE]

The README's settings: ``TIMEOUT`` 1 s, Redis socket timeouts 1 s, the package's
``RedisCache`` on a private redis-server, WorkOS played by the emulator, the breakers'
defaults (5 s). One user, ten connected providers. Each scenario runs in a process of
its own and renders the page again and again for ``--seconds``, half a second apart:

- ``redis-frozen``: the tokens are cached, then Redis is stopped with SIGSTOP (it
  accepts connections and never answers);
- ``workos-503``: nothing cached, every token call answered 503;
- ``workos-timeout``: nothing cached, every token call answered after 2 s (past
  ``TIMEOUT``);

and once more with the breakers off (0 s), which is how every render went before them.
Prints a table of render times, and the figures as JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import site
from benchmarks.redis_server import redis_process

TIMEOUT = 1.0
SCENARIOS = ("redis-frozen", "workos-503", "workos-timeout")
USER = "user_bench_1"


def render(handler: Any, cookie: str) -> tuple[str, str]:
    """GET /status/ through Django's WSGI handler: (status line, body)."""
    statuses: list[str] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/status/",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "HTTP_COOKIE": cookie,
        "REMOTE_ADDR": "127.0.0.1",
    }
    response = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
    body = b"".join(response).decode()
    response.close()
    return statuses[0], body


def run(scenario: str, breakers: bool, seconds: float) -> dict[str, Any]:
    from django_workos_pipes.emulator import Emulator

    period = 5.0 if breakers else 0.0
    with Emulator(api_key=site.API_KEY) as emulator, redis_process() as (url, redis):
        cache = {
            "BACKEND": "django_workos_pipes.caching.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": TIMEOUT, "socket_timeout": TIMEOUT},
        }
        site.configure(
            cache=cache,
            base_url=emulator.url,
            TIMEOUT=TIMEOUT,
            WORKOS_BREAKER_SECONDS=period,
            CACHE_BREAKER_SECONDS=period,
        )
        from django.core.handlers.wsgi import WSGIHandler

        from benchmarks.urls import STATUS_PROVIDERS

        cookie = site.login_cookie()
        for provider in STATUS_PROVIDERS:
            emulator.connect(provider, USER)
        handler = WSGIHandler()
        if scenario == "redis-frozen":
            render(handler, cookie)  # every token cached
            redis.send_signal(signal.SIGSTOP)
        elif scenario == "workos-503":
            emulator.inject_fault("status", count=10**6, status=503)
        else:
            emulator.inject_fault("latency", count=10**6, delay=2 * TIMEOUT)
        renders = []
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            calls = emulator.token_calls
            at = time.monotonic() - started
            status, body = render(handler, cookie)
            elapsed = time.monotonic() - started - at
            shown = [line.split(" ", 1)[1] for line in body.strip().splitlines()]
            renders.append(
                {
                    "at_s": round(at, 2),
                    "render_s": round(elapsed, 3),
                    "status": status.split()[0],
                    "connected": shown.count("connected"),
                    "unknown": shown.count("unknown"),
                    "workos_calls": emulator.token_calls - calls,
                }
            )
            if not breakers and elapsed > 5:
                break  # one render says it all, and the next would take as long
            time.sleep(0.5)
        redis.send_signal(signal.SIGCONT)
    return {"scenario": scenario, "breakers": breakers, "renders": renders}


def scenario_process(scenario: str, breakers: bool, seconds: float) -> dict[str, Any]:
    args = [sys.executable, __file__, "--scenario", scenario, "--seconds", str(seconds)]
    args += [] if breakers else ["--breakers-off"]
    output = subprocess.run(args, check=True, capture_output=True, text=True, timeout=300)
    return json.loads(output.stdout.strip().splitlines()[-1])


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| scenario | breakers | renders (seconds since the fault: render time, WorkOS calls) |",
        "|---|---|---|",
    ]
    for result in results:
        cells = ", ".join(
            f"{r['at_s']:.1f}: **{r['render_s']:.3f} s** ({r['workos_calls']})"
            for r in result["renders"]
        )
        lines.append(
            f"| {result['scenario']} | {'on (5 s)' if result['breakers'] else 'off'} | {cells} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenario", choices=SCENARIOS)
    parser.add_argument("--breakers-off", action="store_true")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--json", metavar="FILE", help="also write the figures there")
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(run(args.scenario, not args.breakers_off, args.seconds)))
        return
    results = [scenario_process(name, True, args.seconds) for name in SCENARIOS]
    results += [scenario_process(name, False, args.seconds) for name in SCENARIOS]
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
