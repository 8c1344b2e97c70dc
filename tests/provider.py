"""A provider's API and WorkOS's token endpoint, stood in for with ``responses``.

The provider accepts only the tokens it was told are live and answers 401 to any
other, as Salesforce does for a token revoked before its expiry. WorkOS answers the
token call from a script, counting the calls: the figure the single-flight tests assert.
"""

from __future__ import annotations

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
