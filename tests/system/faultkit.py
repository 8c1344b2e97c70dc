"""Shared pieces of the fault suite: the emulator that remembers every token it handed
out, the leak guard, WorkOS outages, and the figures the tests report.

The leak guard is the secrets check of the fault suite: it captures every log record of
the test process at DEBUG (the package's loggers, ``django.request``, the emulator's,
urllib3's...), and collects the response bodies, server-process logs and raw cache
contents (every key and value of a Redis server, read as ``redis-cli`` would) a test
feeds it; at the end it asserts that the API key, the webhook secret and every access
token the emulator handed out appear in none of them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django_workos_pipes.emulator import Emulator
from django_workos_pipes.emulator.state import Connection
from django_workos_pipes.masking import mask

API_KEY = "sk_test_faults_" + secrets.token_hex(12)
WEBHOOK_SECRET = "whsec_faults_" + secrets.token_hex(16)

# Loggers set to DEBUG while a guard captures (their levels are restored afterwards).
CAPTURED_LOGGERS = (
    "",
    "django",
    "django.request",
    "django_workos_pipes",
    "django_workos_pipes.emulator",
    "django_workos_pipes.webhooks",
    "urllib3",
)
_STANDARD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class RecordingEmulator(Emulator):
    """The emulator, remembering every access token it minted or handed out."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._tokens_lock = threading.Lock()
        self.tokens: set[str] = set()
        self._by_connection: dict[tuple[str, str, str | None], set[str]] = {}
        super().__init__(*args, **kwargs)
        for connection in self.connections():  # restored from a state file
            self._remember(connection)

    def connect(self, *args: Any, **kwargs: Any) -> Connection:
        return self._remember(super().connect(*args, **kwargs))

    def issue_token(self, *args: Any, **kwargs: Any) -> Connection | None:
        connection = super().issue_token(*args, **kwargs)
        return None if connection is None else self._remember(connection)

    def __enter__(self) -> RecordingEmulator:
        self.start()
        return self

    def handed_out(self) -> set[str]:
        with self._tokens_lock:
            return set(self.tokens)

    def tokens_of(
        self, provider: str, user_id: str, organization_id: str | None = None
    ) -> set[str]:
        """Every token this connection has had."""
        with self._tokens_lock:
            return set(self._by_connection.get((provider, user_id, organization_id), ()))

    def _remember(self, connection: Connection) -> Connection:
        with self._tokens_lock:
            self.tokens.add(connection.access_token)
            self._by_connection.setdefault(connection.key, set()).add(connection.access_token)
        return connection


class _Capture(logging.Handler):
    """Keeps each record as text: the formatted line with its traceback, the raw
    arguments and any extra attributes (``django.request`` adds the request)."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            extra = {
                key: value
                for key, value in record.__dict__.items()
                if key not in _STANDARD_ATTRIBUTES
            }
            self.sink.append(f"{self.format(record)} | args={record.args!r} | extra={extra!r}")
        except Exception:  # a record that can't be shown must not break the test
            self.handleError(record)


class LeakGuard:
    """Collects what a test could leak through, and finds secrets in it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watched: dict[str, str] = {}
        self._emulators: list[RecordingEmulator] = []
        self.records: list[str] = []
        self.bodies: list[str] = []
        self.server_logs: dict[str, str] = {}
        self.raw_caches: dict[str, str] = {}

    # What must stay secret.

    def watch(self, label: str, value: str) -> None:
        self._watched[label] = value

    def watch_emulator(self, emulator: RecordingEmulator) -> None:
        self._emulators.append(emulator)

    def tokens(self) -> set[str]:
        found: set[str] = set()
        for emulator in self._emulators:
            found |= emulator.handed_out()
        return found

    def secrets(self) -> dict[str, str]:
        watched = dict(self._watched)
        for token in self.tokens():
            # The digest tells tokens with the same prefix apart; it reveals nothing.
            digest = hashlib.sha256(token.encode()).hexdigest()[:8]
            watched[f"access token {mask(token)} ({digest})"] = token
        return watched

    # Where it could show.

    def body(self, content: bytes | str) -> None:
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        with self._lock:
            self.bodies.append(text)

    def server_log(self, name: str, text: str) -> None:
        with self._lock:
            self.server_logs[name] = text

    def raw_cache(self, name: str, url: str, pattern: str = "*") -> int:
        """Read every key matching ``pattern`` and its value straight from the Redis
        server at ``url`` (``SCAN`` and ``GET``, as ``redis-cli --scan`` would); returns
        how many keys were read."""
        import redis

        client = redis.Redis.from_url(url)
        dump = [(key, client.get(key) or b"") for key in client.scan_iter(pattern, count=1000)]
        text = b"\n".join(key + b" " + value for key, value in dump)
        with self._lock:
            self.raw_caches[name] = text.decode("utf-8", "replace")
        return len(dump)

    @contextlib.contextmanager
    def capturing(self) -> Iterator[LeakGuard]:
        """Capture every log record of this process at DEBUG while inside."""
        handler = _Capture(self.records)
        loggers = [logging.getLogger(name) for name in CAPTURED_LOGGERS]
        levels = [logger.level for logger in loggers]
        for logger in loggers:
            logger.setLevel(logging.DEBUG)
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            yield self
        finally:
            root.removeHandler(handler)
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)

    # The verdict.

    def leaks(self) -> list[str]:
        with self._lock:
            places = {
                "log records": "\n".join(self.records),
                "response bodies": "\n".join(self.bodies),
                **{f"log of {name}": text for name, text in self.server_logs.items()},
                **{f"raw cache {name}": text for name, text in self.raw_caches.items()},
            }
        return [
            f"{label} in {place}"
            for label, value in self.secrets().items()
            for place, text in places.items()
            if value and value in text
        ]

    def assert_clean(self) -> None:
        leaks = self.leaks()
        assert not leaks, "secrets leaked: " + "; ".join(leaks)
        assert self._watched or self._emulators, "the guard watched nothing"

    def summary(self) -> dict[str, int]:
        with self._lock:
            return {
                "log_records": len(self.records),
                "bodies": len(self.bodies),
                "server_log_bytes": sum(len(text) for text in self.server_logs.values()),
                "raw_cache_bytes": sum(len(text) for text in self.raw_caches.values()),
                "secrets": len(self._watched) + len(self.tokens()),
            }


@contextlib.contextmanager
def guarding() -> Iterator[LeakGuard]:
    """A guard watching the API key and webhook secret, checked on leaving."""
    guard = LeakGuard()
    guard.watch("API key", API_KEY)
    guard.watch("webhook secret", WEBHOOK_SECRET)
    with guard.capturing():
        yield guard
    guard.assert_clean()


class EmulatedWorkOS:
    """The emulator standing in for WorkOS, on a port that stays the same when it is
    taken down (connection refused) and brought back with its state."""

    def __init__(
        self,
        guard: LeakGuard,
        *,
        webhook_url: str | None = None,
        port: int = 0,
        state: bool = True,
    ) -> None:
        self.guard = guard
        self.webhook_url = webhook_url
        self._dir = tempfile.TemporaryDirectory(prefix="dwp-faults-") if state else None
        self.emulator = self._start(port)
        self.url = self.emulator.url

    def _start(self, port: int) -> RecordingEmulator:
        state_file = Path(self._dir.name) / "state.json" if self._dir else None
        emulator = RecordingEmulator(
            api_key=API_KEY,
            webhook_url=self.webhook_url,
            webhook_secret=WEBHOOK_SECRET if self.webhook_url else None,
            port=port,
            state_file=state_file,
        )
        self.guard.watch_emulator(emulator)
        emulator.start()
        return emulator

    def connect_all(
        self, users: list[str], providers: Iterable[str] = ("salesforce",)
    ) -> list[str]:
        """Give each user a connection to each provider; the users."""
        for provider in providers:
            for user in users:
                self.emulator.connect(provider, user)
        return users

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """WorkOS unreachable: nothing listens on its port until the block ends."""
        port = self.emulator.port
        self.emulator.stop()
        try:
            yield
        finally:
            self.emulator = self._start(port)

    def close(self) -> None:
        self.emulator.stop()
        if self._dir is not None:
            self._dir.cleanup()


@dataclass(frozen=True)
class WorkosFault:
    """One way WorkOS misbehaves, and what the client should make of it."""

    name: str
    kind: str | None  # an emulator fault kind; None: connection refused (emulator down)
    status: int = 503
    retry_after: int | None = None
    delay: float = 0.0
    retried: bool = True

    def attempts(self, max_retries: int) -> int:
        """The attempts one request should make: 1 + MAX_RETRIES, or 1 if not retried."""
        return 1 + max_retries if self.retried else 1

    @contextlib.contextmanager
    def active(self, workos: EmulatedWorkOS) -> Iterator[None]:
        """The fault lasts while inside, for every token call; it ends on leaving."""
        if self.kind is None:
            with workos.down():
                yield
            return
        workos.emulator.inject_fault(
            self.kind,
            count=10_000,
            status=self.status,
            retry_after=self.retry_after,
            delay=self.delay,
        )
        try:
            yield
        finally:
            workos.emulator.clear_faults()


def workos_faults(timeout: float) -> list[WorkosFault]:
    """Every fault of the issue, for a client whose ``TIMEOUT`` is ``timeout``."""
    return [
        WorkosFault("500", "status", status=500),
        WorkosFault("502", "status", status=502),
        WorkosFault("503", "status", status=503),
        WorkosFault("504", "status", status=504),
        WorkosFault("429-retry-after", "status", status=429, retry_after=1),
        WorkosFault("latency", "latency", delay=timeout + 0.3),
        WorkosFault("refused", None),
        WorkosFault("drop", "drop"),
        WorkosFault("drop-mid-answer", "drop_mid_answer"),
        WorkosFault("malformed-200", "malformed", retried=False),
    ]


def retry_warnings(lines: list[str] | str) -> int:
    """urllib3's "Retrying (...) after connection broken" warnings: connection retries."""
    text = lines if isinstance(lines, str) else "\n".join(lines)
    return text.count("Retrying (")


def report(name: str, **figures: Any) -> None:
    """Print a test's figures; with ``DWP_RELIABILITY_LOG`` set, also append them there
    as one JSON line (``docs/reliability.md`` is written from those lines)."""
    line = json.dumps({"test": name, "at": round(time.time(), 1), **figures}, sort_keys=True)
    print(f"\nRELIABILITY {line}")
    path = os.environ.get("DWP_RELIABILITY_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(line + "\n")


# ``python -m tests.system.faultkit FILE``: the tables of docs/reliability.md from the JSON lines
# the tests appended to FILE (``DWP_RELIABILITY_LOG=FILE``).


def _span(values: list[Any]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}–{high}"


def summarise(lines: list[dict[str, Any]]) -> str:
    out: list[str] = []
    workos = [line for line in lines if line["test"] == "workos_fault"]
    if workos:
        out += [
            "| fault | mode | attempts per request, observed (configured) | cached token "
            "served | nothing cached | recovery | longest request (s) | runs |",
            "|---|---|---|---|---|---|---|---|",
        ]
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for line in workos:
            groups.setdefault((line["fault"], line["mode"]), []).append(line)
        for (fault, mode), runs in groups.items():
            attempts = [run["attempts_stale"] for run in runs] + [
                run["attempts_cold"] for run in runs
            ]
            served = sum(run["stale_served"] for run in runs)
            statuses = {run["no_cache_status"] for run in runs}
            recovered = sum(run["recovered"] for run in runs)
            longest = max(max(run["seconds"]) for run in runs)
            out.append(
                f"| {fault} | {mode} | {_span(attempts)} ({runs[0]['configured']}) | "
                f"{served}/{len(runs)} | {'/'.join(map(str, sorted(statuses)))} page | "
                f"{recovered}/{len(runs)} | {longest:.2f} | {len(runs)} |"
            )
        out.append("")
    redis = [line for line in lines if line["test"] == "redis_fault"]
    if redis:
        out += ["| Redis fault | mode | runs | figures (range over runs) |", "|---|---|---|---|"]
        rgroups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for line in redis:
            rgroups.setdefault((line["fault"], line["mode"]), []).append(line)
        skip = {"test", "at", "fault", "mode"}
        for (fault, mode), runs in rgroups.items():
            keys = [key for key in runs[0] if key not in skip]
            figures = "; ".join(
                f"{key}: {_span([json.dumps(run[key]) if isinstance(run[key], (list, dict)) else run[key] for run in runs])}"
                for key in keys
            )
            out.append(f"| {fault} | {mode} | {len(runs)} | {figures} |")
        out.append("")
    soaks = [line for line in lines if line["test"] == "soak"]
    if soaks:
        out += [
            "| run | requests | 200 / 302 | 5xx | failed requests | webhooks (initial + storm) "
            "| duplicates | forged (accepted) | stale after last webhook | token calls "
            "| load (s) | requests/s | whole test (s) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for n, run in enumerate(soaks, 1):
            statuses = run["statuses"]
            out.append(
                f"| {n} | {run['requests']} | {statuses.get('200', 0)} / {statuses.get('302', 0)} "
                f"| {run['server_errors_5xx']} | {run['request_errors']} "
                f"| {run['webhooks_initial_connects']} + {run['webhooks_storm']} "
                f"| {run['duplicates_sent']} | {run['forged_sent']} ({run['forged_accepted']}) "
                f"| {run['stale_after_last_webhook']} of {run['checked_after_last_webhook']} "
                f"| {run['token_calls']} | {run['load_seconds']} | {run['requests_per_second']} "
                f"| {run['duration_s']} |"
            )
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    with open(sys.argv[1], encoding="utf-8") as source:
        print(summarise([json.loads(line) for line in source if line.strip()]))
