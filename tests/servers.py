"""Small loopback HTTP servers where a test needs a real socket: a stand-in for WorkOS
answering scripted requests, and a webhook receiver that checks signatures.

Unit and system tests both use them; they run in the test's own process.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from django_workos_pipes import signatures
from tests.builders import numbered_tokens

Answer = tuple[int, dict[str, str], bytes]


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on right now (the OS's pick, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 whose GETs and POSTs are answered by ``respond``."""

    def __init__(self, respond: Callable[[dict[str, Any]], Answer]) -> None:
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": raw,
                }
                with outer._lock:
                    outer.requests.append(request)
                status, headers, body = respond(request)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll interval: close() waits for the serving loop to notice.
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def json_answer(body: Any, status: int = 200) -> Answer:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def scripted(script: list[Answer]) -> Callable[[dict[str, Any]], Answer]:
    """Answer each request with the next entry of ``script``."""
    remaining = list(script)
    lock = threading.Lock()

    def respond(request: dict[str, Any]) -> Answer:
        with lock:
            return remaining.pop(0)

    return respond


def issuing_tokens(
    prefix: str = "ya29.loopback-", delay: float = 0.0
) -> Callable[[dict[str, Any]], Answer]:
    """Answer every request with a new token (``<prefix>1``, ``<prefix>2``...), each
    after ``delay`` seconds."""
    answers = numbered_tokens(prefix)

    def respond(request: dict[str, Any]) -> Answer:
        time.sleep(delay)
        return json_answer(answers())

    return respond


class Receiver:
    """A webhook endpoint on loopback that keeps what it accepts; it answers 500 to the
    first ``fail_first`` deliveries (not kept), 200 to the others."""

    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.received: list[tuple[dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        self.server = LoopbackServer(self._respond)
        self.url = f"{self.server.url}/webhooks/workos"

    def _respond(self, request: dict[str, Any]) -> Answer:
        with self._lock:
            failing = self.fail_first > 0
            self.fail_first -= 1
            if not failing:
                self.received.append((request["headers"], request["body"]))
        return (500 if failing else 200), {}, b""

    def events(self) -> list[dict[str, Any]]:
        """Every accepted event, its signature checked against the raw body first."""
        with self._lock:
            received = list(self.received)
        events = []
        for headers, body in received:
            signatures.verify(body, headers.get(signatures.HEADER), [self.secret])
            events.append(json.loads(body))
        return events

    def raw(self) -> list[tuple[bytes, str]]:
        """``(body, WorkOS-Signature)`` of every accepted delivery, unparsed, in order."""
        with self._lock:
            return [(body, headers.get(signatures.HEADER, "")) for headers, body in self.received]

    def event_types(self) -> list[str]:
        return [event["event"] for event in self.events()]

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    def close(self) -> None:
        self.server.close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
