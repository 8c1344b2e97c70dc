"""What the newer emulator tests share: a key, a webhook inbox, and calls on the wire.

The emulator runs for real on loopback and sends its webhooks to an :class:`Inbox`,
which keeps the raw bodies and checks every signature before a test reads an event.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from django_workos_pipes import signatures
from django_workos_pipes.emulator import Emulator
from tests.servers import LoopbackServer

API_KEY = "sk_test_emulator_kit"
SECRET = "whsec_emulator_kit"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


class Inbox(LoopbackServer):
    """A webhook endpoint that answers 200 and keeps every delivery, unparsed."""

    def __init__(self) -> None:
        super().__init__(lambda request: (200, {}, b""))

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hooks"

    def raw(self) -> list[tuple[bytes, str]]:
        """``(body, WorkOS-Signature)`` of every delivery, in order."""
        with self._lock:
            return [(r["body"], r["headers"].get("WorkOS-Signature", "")) for r in self.requests]

    def events(self) -> list[dict[str, Any]]:
        """Every delivered event, its signature checked against the raw body first."""
        events = []
        for body, header in self.raw():
            signatures.verify(body, header, [SECRET])
            events.append(json.loads(body))
        return events

    def event_types(self) -> list[str]:
        return [event["event"] for event in self.events()]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()


@contextmanager
def running(inbox: Inbox | None = None, **options: Any) -> Iterator[Emulator]:
    """An emulator on loopback, its webhooks to ``inbox`` when one is given."""
    if inbox is not None:
        options.setdefault("webhook_url", inbox.hook_url)
        options.setdefault("webhook_secret", SECRET)
    with Emulator(api_key=API_KEY, **options) as emulator:
        yield emulator


def session() -> requests.Session:
    """A requests session that ignores proxy settings (loopback only)."""
    http = requests.Session()
    http.trust_env = False
    return http


def call(
    http: requests.Session, emu: Emulator, method: str, path: str, **kwargs: Any
) -> requests.Response:
    """A call to the emulator's WorkOS API with the API key."""
    headers = {**AUTH, **kwargs.pop("headers", {})}
    return http.request(method, f"{emu.url}{path}", headers=headers, timeout=10, **kwargs)


def token(http: requests.Session, emu: Emulator, provider: str, **body: Any) -> requests.Response:
    body.setdefault("user_id", "user_1")
    return call(http, emu, "POST", f"/data-integrations/{provider}/token", json=body)


def consent_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]
