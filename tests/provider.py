"""A provider's API, stood in for with ``responses``, and the provider on a loopback
socket for tests whose caller is another process.

The provider accepts only the tokens it was told are live and answers 401 to any
other, as Salesforce does for a token revoked before its expiry. WorkOS's side is
:class:`tests.stubs.WorkOSTokens`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import responses
from requests import PreparedRequest

from tests.servers import Answer, LoopbackServer, json_answer

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


class ProviderServer:
    """:class:`Provider` on a real socket (127.0.0.1), for ``GET`` only."""

    def __init__(self, *live: str) -> None:
        self.live = set(live)
        self.seen: list[str | None] = []
        self.server = LoopbackServer(self._answer)
        self.url = self.server.url

    def _answer(self, request: dict[str, Any]) -> Answer:
        header = request["headers"].get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
        self.seen.append(token)
        if token in self.live:
            return json_answer({"token": token})
        return json_answer({"error": "invalid"}, status=401)

    def __enter__(self) -> ProviderServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.close()
