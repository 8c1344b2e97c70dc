"""A provider's API and WorkOS's token endpoint, stood in for with ``responses``, and
the provider on a loopback socket for tests whose caller is another process.

The provider accepts only the tokens it was told are live and answers 401 to any
other, as Salesforce does for a token revoked before its expiry. WorkOS answers the
token call from a script, counting the calls: the figure the single-flight tests assert.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable
from typing import Any

import responses
from requests import PreparedRequest

from tests.stubs import active, token_url

API = "https://example.my.salesforce.com/services/data/v60.0/sobjects/"

Reply = tuple[int, dict[str, str], str]


class Provider:
    """``GET``/``POST`` ``API``: 200 with the caller's token's name for a live token, else 401."""

    def __init__(
        self, mock: responses.RequestsMock, *live: str, methods: tuple[str, ...] = ("GET",)
    ) -> None:
        self.live = set(live)
        self.seen: list[str | None] = []
        self.bodies: list[Any] = []
        self.before_refusing: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        for method in methods:
            mock.add_callback(method, API, callback=self._answer)

    def _answer(self, request: PreparedRequest) -> Reply:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        with self._lock:
            self.seen.append(token)
            self.bodies.append(request.body)
            live = token in self.live
        if not live:
            self.before_refusing()
            body = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
            return 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, json.dumps(body)
        return 200, {}, json.dumps({"token": token})

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.seen)


class WorkOSTokens:
    """``POST /data-integrations/{provider}/token``: answers ``script`` in order (the last
    one again once it runs out), counting the calls."""

    def __init__(
        self,
        mock: responses.RequestsMock,
        script: list[dict[str, Any]],
        provider: str = "salesforce",
    ) -> None:
        self.script = list(script)
        self.count = 0
        self.bodies: list[Any] = []
        self._lock = threading.Lock()
        mock.add_callback(responses.POST, token_url(provider), callback=self._answer)

    def _answer(self, request: PreparedRequest) -> Reply:
        with self._lock:
            self.count += 1
            self.bodies.append(json.loads(request.body or b"{}"))
            body = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def then(self, *bodies: dict[str, Any]) -> None:
        """Answer ``bodies`` from now on, in order."""
        with self._lock:
            self.script = list(bodies)


def token(name: str) -> dict[str, Any]:
    """An active WorkOS answer whose token is ``name``, expiring far in the future."""
    return active(name, expires_at="2031-05-04T03:02:01Z")


class ProviderServer:
    """:class:`Provider` on a real socket (127.0.0.1), for ``GET`` only."""

    def __init__(self, *live: str) -> None:
        self.live = set(live)
        self.seen: list[str | None] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                header = self.headers.get("Authorization", "")
                token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
                outer.seen.append(token)
                status = 200 if token in outer.live else 401
                body = json.dumps({"token": token} if status == 200 else {"error": "invalid"})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> ProviderServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
