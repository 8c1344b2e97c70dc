"""What reached the API surface: every request, and how many calls of each kind.

Tests read it to check what their client sent; the API key is masked before a call
is kept, so a recorded call can be shown or logged safely.
"""

from __future__ import annotations

import threading
from collections import Counter
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
    """Thread-safe record of API calls, and how many of each operation (``token``,
    ``data_providers``, ``create_user``...) were received."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._counts: Counter[str] = Counter()

    def record(self, method: str, target: str, headers: Mapping[str, str], body: Any) -> None:
        kept = dict(headers)
        if "authorization" in kept:
            scheme, space, key = kept["authorization"].partition(" ")
            kept["authorization"] = f"{scheme} {mask(key)}" if space else mask(scheme)
        with self._lock:
            self._calls.append(Call(method, target, body, kept))

    def count(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def count_token_call(self) -> None:
        self.count("token")

    def counted(self, kind: str) -> int:
        with self._lock:
            return self._counts[kind]

    def counts(self) -> dict[str, int]:
        """Calls received so far, by operation (``token``, ``get_user``...)."""
        with self._lock:
            return dict(self._counts)

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def token_calls(self) -> int:
        return self.counted("token")

    @property
    def listing_calls(self) -> int:
        """Providers listings, a user's and an organization's."""
        with self._lock:
            return self._counts["data_providers"] + self._counts["organization_data_providers"]

    @property
    def provider_calls(self) -> int:
        return self.counted("provider")

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._counts.clear()
