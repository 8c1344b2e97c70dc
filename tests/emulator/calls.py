"""Requests to the emulator under test, made as an app or a browser makes them."""

from __future__ import annotations

import re
import socket
from typing import Any

import requests

from django_workos_pipes.emulator import Emulator

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
