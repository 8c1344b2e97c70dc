"""Small loopback HTTP servers standing in for WorkOS where a test needs a real socket."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable
from typing import Any

Answer = tuple[int, dict[str, str], bytes]


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 whose POSTs are answered by ``respond``."""

    def __init__(self, respond: Callable[[dict[str, Any]], Answer]) -> None:
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = {"path": self.path, "headers": dict(self.headers), "body": raw}
                with outer._lock:
                    outer.requests.append(request)
                status, headers, body = respond(request)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
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


def scripted(script: list[Answer]) -> Callable[[dict[str, Any]], Answer]:
    """Answer each request with the next entry of ``script``."""
    remaining = list(script)
    lock = threading.Lock()

    def respond(request: dict[str, Any]) -> Answer:
        with lock:
            return remaining.pop(0)

    return respond


def token_answer(token: str = "ya29.loopback-token-value", expires_in: float = 3600) -> Answer:
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + expires_in))
    body = {
        "active": True,
        "access_token": {
            "object": "access_token",
            "access_token": token,
            "expires_at": expires,
            "scopes": ["api"],
            "missing_scopes": [],
        },
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def slow_tokens(delay: float) -> Callable[[dict[str, Any]], Answer]:
    """Answer every request with a fresh token after ``delay`` seconds."""
    counter = iter(range(1_000_000))

    def respond(request: dict[str, Any]) -> Answer:
        time.sleep(delay)
        return token_answer(f"ya29.loopback-{next(counter)}")

    return respond
