"""The emulator under test: its key and webhook secret, an emulator of one's own, and
requests to it made as an app or a browser makes them."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from django_workos_pipes.emulator import Emulator
from tests.servers import Receiver

API_KEY = "sk_test_emulator"
SECRET = "whsec_emulator_tests"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
EXPIRY = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def token(
    http: requests.Session, emu: Emulator, provider: str = "salesforce", **body: Any
) -> requests.Response:
    body.setdefault("user_id", "user_1")
    return http.post(f"{emu.url}/data-integrations/{provider}/token", json=body, headers=AUTH)


def authorize(http: requests.Session, emu: Emulator, **body: Any) -> str:
    body.setdefault("user_id", "user_1")
    body.setdefault("return_to", "https://app.example/after?next=%2Fdash")
    answer = http.post(f"{emu.url}/data-integrations/salesforce/authorize", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json().keys() == {"url", "state"}
    assert len(answer.json()["state"]) >= 16
    url: str = answer.json()["url"]
    return url


def raw_exchange(emu: Emulator, data: bytes) -> bytes:
    """Send raw bytes and read until the server hangs up (bounded by a timeout)."""
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@contextmanager
def running(receiver: Receiver | None = None, **options: Any) -> Iterator[Emulator]:
    """An emulator of the test's own on loopback, its webhooks to ``receiver`` if given."""
    if receiver is not None:
        options.setdefault("webhook_url", receiver.url)
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


def consent_id(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]
