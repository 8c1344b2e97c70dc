"""WorkOS misbehaving, seen through real ``@require_pipe`` views.

Each fault of the issue (5xx, 429 with ``Retry-After``, answers slower than ``TIMEOUT``,
connection refused, connections dropped before and halfway through the answer, a 200
with a malformed body) is injected by the emulator and checked four ways:

- attempts: one request makes 1 + ``MAX_RETRIES`` attempts (1 for a malformed 200,
  which is an answer, not a transient failure), and takes no longer than those
  attempts allow;
- stale-if-error: a cached token whose refresh is due, but which has not expired, is
  still served;
- nothing cached: the 503 page, never a 500 or a traceback;
- recovery: once the fault ends, the next request gets a fresh token by itself.

Once in-process through Django's test client, and once through a real server process.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import time_machine
from django.test import Client, override_settings

from tests.system.faultkit import (
    API_KEY,
    EmulatedWorkOS,
    LeakGuard,
    WorkosFault,
    guarding,
    report,
    retry_warnings,
    workos_faults,
)
from tests.system.faultsite import pipes_settings
from tests.system.faultsite.views import fingerprint
from tests.system.processes import ServerProcess, start_server

TIMEOUT = 0.3
MAX_RETRIES = 2
BACKOFF_MAX = 0.1
FAULTS = workos_faults(TIMEOUT)
# The emulator's tokens live an hour; the client refreshes them a minute before expiry.
# 3550 s later a refresh is due but the cached token is still valid for 50 s.
REFRESH_DUE = 3550.0
EXPIRED = 3700.0
UNAVAILABLE_TEXT = "This page is temporarily unavailable"
PROVIDER = "salesforce"


def request_budget(fault: WorkosFault) -> float:
    """The longest one request may take: each attempt's timeout and wait, plus slack."""
    return fault.attempts(MAX_RETRIES) * (TIMEOUT + BACKOFF_MAX) + 0.5


def report_fault(
    fault: WorkosFault, mode: str, attempts: tuple[int, int], seconds: list[float]
) -> None:
    """The figures of one fault, once the test has asserted them: the stale token served,
    the 503 page with nothing cached, recovery; ``attempts`` as (stale, cold)."""
    report(
        "workos_fault",
        mode=mode,
        fault=fault.name,
        configured=fault.attempts(MAX_RETRIES),
        attempts_stale=attempts[0],
        attempts_cold=attempts[1],
        stale_served=True,
        no_cache_status=503,
        recovered=True,
        seconds=[round(t, 3) for t in seconds],
    )


def new_user(label: str) -> str:
    return f"user_{label}_{uuid.uuid4().hex[:10]}"


def connected_users(workos: EmulatedWorkOS, *labels: str) -> list[str]:
    """A new user per label, each with a Salesforce connection at the emulator."""
    return workos.connect_all([new_user(label) for label in labels], [PROVIDER])


class Attempts:
    """How many attempts reached WorkOS since the last look.

    With WorkOS up, the emulator counts token calls; with it down (connection
    refused), each logical call logs one line and urllib3 one warning per retry.
    """

    def __init__(self, workos: EmulatedWorkOS, log: Callable[[], str]) -> None:
        self.workos = workos
        self.log = log  # the log text so far
        self._calls = workos.emulator.token_calls
        self._emulator = workos.emulator
        self._log_mark = len(log())

    def take(self, fault: WorkosFault) -> int:
        text = self.log()
        new, self._log_mark = text[self._log_mark :], len(text)
        if fault.kind is None:
            return new.count("WorkOS token provider=") + retry_warnings(new)
        emulator = self.workos.emulator
        if emulator is not self._emulator:  # restarted: it counts from zero
            self._emulator, self._calls = emulator, 0
        calls = emulator.token_calls
        delta, self._calls = calls - self._calls, calls
        return delta


# In-process: Django's test client.


@pytest.fixture
def fault_site(emulated_workos: EmulatedWorkOS, leak_guard: LeakGuard) -> Iterator[Client]:
    """The fault site, in-process, with the short timeouts and retries of these tests."""
    settings = pipes_settings(
        base_url=emulated_workos.url,
        api_key=API_KEY,
        timeout=TIMEOUT,
        max_retries=MAX_RETRIES,
        backoff_max=BACKOFF_MAX,
    )
    with override_settings(ROOT_URLCONF="tests.system.faultsite.urls", WORKOS_PIPES=settings):
        yield Client()


def get(client: Client, guard: LeakGuard, path: str, user: str) -> Any:
    response = client.get(path, {"user": user})
    guard.body(response.content)
    return response


def served(response: Any) -> str:
    assert response.status_code == 200, response.content[:300]
    return str(json.loads(response.content)["fingerprint"])


def assert_unavailable_page(response: Any) -> None:
    body = response.content.decode()
    assert response.status_code == 503, body[:300]
    assert "workos_pipes/unavailable.html" in [t.name for t in response.templates]
    assert UNAVAILABLE_TEXT in body
    assert "Traceback" not in body and "PipesUnavailable" not in body


def current_token(workos: EmulatedWorkOS, user: str) -> str:
    connection = workos.emulator.connection(PROVIDER, user)
    assert connection is not None
    return fingerprint(connection.access_token)


@pytest.mark.parametrize("path", ["/salesforce/", "/async/salesforce/"], ids=["sync", "async"])
@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_fault_through_the_view(
    fault: WorkosFault,
    path: str,
    emulated_workos: EmulatedWorkOS,
    fault_site: Client,
    leak_guard: LeakGuard,
) -> None:
    cached, cold = connected_users(emulated_workos, "cached", "cold")
    old = served(get(fault_site, leak_guard, path, cached))
    assert old == current_token(emulated_workos, cached)
    attempts = Attempts(emulated_workos, lambda: "\n".join(leak_guard.records))
    expected = fault.attempts(MAX_RETRIES)
    timings = []

    with time_machine.travel(time.time() + REFRESH_DUE, tick=True):
        with fault.active(emulated_workos):
            started = time.monotonic()
            stale = get(fault_site, leak_guard, path, cached)
            timings.append(time.monotonic() - started)
            assert served(stale) == old, "the cached token is served while WorkOS fails"
            stale_attempts = attempts.take(fault)

            started = time.monotonic()
            assert_unavailable_page(get(fault_site, leak_guard, path, cold))
            timings.append(time.monotonic() - started)
            cold_attempts = attempts.take(fault)

        # The fault is over: both users get a fresh token, with no help.
        assert served(get(fault_site, leak_guard, path, cold)) == current_token(
            emulated_workos, cold
        )
        fresh = served(get(fault_site, leak_guard, path, cached))
        assert fresh == current_token(emulated_workos, cached) != old, (
            "a fresh token, not the old one"
        )
        recovery_attempts = attempts.take(fault)

    assert (stale_attempts, cold_attempts) == (expected, expected)
    assert recovery_attempts == 2, "one call per user once WorkOS is back"
    assert max(timings) < request_budget(fault), timings
    if fault.retry_after is not None:
        # Retry-After: 1 is honoured, but capped at BACKOFF_MAX: two waits of 0.1 s.
        assert min(timings) >= MAX_RETRIES * BACKOFF_MAX
    mode = "in-process/async" if "async" in path else "in-process/sync"
    report_fault(fault, mode, (stale_attempts, cold_attempts), timings)


def test_an_expired_cached_token_is_never_served(
    emulated_workos: EmulatedWorkOS,
    fault_site: Client,
    leak_guard: LeakGuard,
) -> None:
    """Stale-if-error ends at the token's expiry: after it, the 503 page, not the token."""
    (user,) = connected_users(emulated_workos, "expired")
    served(get(fault_site, leak_guard, "/salesforce/", user))
    with time_machine.travel(time.time() + EXPIRED, tick=True):
        emulated_workos.emulator.inject_fault("status", count=10_000, status=503)
        assert_unavailable_page(get(fault_site, leak_guard, "/salesforce/", user))


def test_a_fault_shorter_than_the_retries_is_invisible(
    emulated_workos: EmulatedWorkOS,
    fault_site: Client,
    leak_guard: LeakGuard,
) -> None:
    """Two failed attempts, then an answer: the retries absorb it, the user sees 200."""
    (user,) = connected_users(emulated_workos, "blip")
    emulated_workos.emulator.inject_fault("status", count=MAX_RETRIES, status=502)
    assert served(get(fault_site, leak_guard, "/salesforce/", user)) == current_token(
        emulated_workos, user
    )
    assert emulated_workos.emulator.token_calls == 1 + MAX_RETRIES


@pytest.mark.parametrize(
    "sequence",
    [
        ["status", "drop_mid_answer", "drop", "status"],
        ["drop_mid_answer", "drop_mid_answer", "drop_mid_answer"],
        ["drop", "drop_mid_answer", "latency", "drop_mid_answer"],
    ],
    ids=["5xx-then-cut", "cut-cut-cut", "drop-cut-slow-cut"],
)
def test_mixed_faults_share_one_budget_of_retries(
    sequence: list[str],
    emulated_workos: EmulatedWorkOS,
    fault_site: Client,
    leak_guard: LeakGuard,
) -> None:
    """Failures before and after the headers count against the same MAX_RETRIES."""
    (user,) = connected_users(emulated_workos, "mixed")
    for kind in sequence:
        emulated_workos.emulator.inject_fault(kind, delay=TIMEOUT + 0.3 if kind == "latency" else 0)
    assert_unavailable_page(get(fault_site, leak_guard, "/salesforce/", user))
    assert emulated_workos.emulator.token_calls == 1 + MAX_RETRIES
    emulated_workos.emulator.clear_faults()
    assert served(get(fault_site, leak_guard, "/salesforce/", user)) == current_token(
        emulated_workos, user
    )


# Through a real server process: the WSGI stack, the process's own session and cache.

PROCESS_TOKEN_TTL = 0.25  # the process can't time-travel: its tokens are due this soon


class ProcessSite:
    def __init__(self, server: ServerProcess, workos: EmulatedWorkOS, guard: LeakGuard) -> None:
        self.server = server
        self.workos = workos
        self.guard = guard

    def get(self, user: str) -> tuple[int, str]:
        status, body = self.server.request("GET", f"/{PROVIDER}/?user={user}", timeout=10)
        self.guard.body(body)
        return status, body.decode("utf-8", "replace")


@pytest.fixture(scope="module")
def process_site() -> Iterator[ProcessSite]:
    with guarding() as guard:
        emulated_workos = EmulatedWorkOS(guard)
        env = {
            "DWP_WORKOS_URL": emulated_workos.url,
            "DWP_API_KEY": API_KEY,
            "DWP_TIMEOUT": str(TIMEOUT),
            "DWP_MAX_RETRIES": str(MAX_RETRIES),
            "DWP_BACKOFF_MAX": str(BACKOFF_MAX),
            "DWP_TOKEN_TTL": str(PROCESS_TOKEN_TTL),
            "NO_PROXY": "127.0.0.1,localhost",
        }
        try:
            server = start_server("tests.system.faultsite.settings", env=env, threads=4)
            try:
                yield ProcessSite(server, emulated_workos, guard)
            finally:
                guard.server_log("fault site", server.log())
                server.stop()
        finally:
            emulated_workos.close()


@pytest.mark.processes
@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_fault_through_a_server_process(fault: WorkosFault, process_site: ProcessSite) -> None:
    site, emulated_workos = process_site, process_site.workos
    cached, cold = connected_users(emulated_workos, "cached", "cold")
    status, body = site.get(cached)
    assert status == 200, body
    old = json.loads(body)["fingerprint"]
    time.sleep(PROCESS_TOKEN_TTL + 0.05)  # the cached token is now due for a refresh
    attempts = Attempts(emulated_workos, site.server.log)
    expected = fault.attempts(MAX_RETRIES)

    with fault.active(emulated_workos):
        started = time.monotonic()
        status, body = site.get(cached)
        elapsed = time.monotonic() - started
        assert (status, json.loads(body)["fingerprint"]) == (200, old), body
        stale_attempts = attempts.take(fault)

        status, body = site.get(cold)
        assert status == 503 and UNAVAILABLE_TEXT in body, body[:300]
        assert "Traceback" not in body
        cold_attempts = attempts.take(fault)

    emulated_workos.emulator.expire(PROVIDER, cached)  # its next token call rotates the token
    status, body = site.get(cold)
    assert (status, json.loads(body)["fingerprint"]) == (200, current_token(emulated_workos, cold))
    status, body = site.get(cached)
    fresh = json.loads(body)["fingerprint"]
    assert status == 200 and fresh == current_token(emulated_workos, cached) != old

    log = site.server.log()
    assert "-> 500" not in log and "Traceback" not in log, log[-2000:]
    assert (stale_attempts, cold_attempts) == (expected, expected)
    assert elapsed < request_budget(fault)
    site.guard.server_log("fault site", log)
    assert not site.guard.leaks(), site.guard.leaks()
    report_fault(fault, "process", (stale_attempts, cold_attempts), [elapsed])
