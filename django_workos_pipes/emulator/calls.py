"""What reached the API surface: every request, and how many were token calls.

Tests read it to check what their client sent; the API key is masked before a call
is kept, so a recorded call can be shown or logged safely.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..masking import mask


class Call(NamedTuple):
    """A request to the WorkOS API surface: ``(method, path, body, headers)``.

    ``path`` keeps its query string, ``body`` is the parsed JSON (``None`` when empty or
    not JSON), header names are lower case and ``authorization`` is masked.
    """

    method: str
    path: str
    body: Any
    headers: dict[str, str]


class CallLog:
    """Thread-safe record of API calls and a count of token calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._token_calls = 0

    def record(self, method: str, target: str, headers: Mapping[str, str], body: Any) -> None:
        kept = dict(headers)
        if "authorization" in kept:
            scheme, space, key = kept["authorization"].partition(" ")
            kept["authorization"] = f"{scheme} {mask(key)}" if space else mask(scheme)
        with self._lock:
            self._calls.append(Call(method, target, body, kept))

    def count_token_call(self) -> None:
        with self._lock:
            self._token_calls += 1

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def token_calls(self) -> int:
        with self._lock:
            return self._token_calls

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._token_calls = 0
