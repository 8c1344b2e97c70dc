"""Cached answers: what a cache entry holds, and how it is written compactly.

An entry records when its fetch started (so an invalidation written after that start
makes it invalid), until when it is fresh, and the WorkOS answer itself. It reaches the
cache through :func:`pack` and :func:`unpack`, which encrypt it when ``ENCRYPTION_KEYS``
is set (:mod:`.crypto`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..results import AccessToken, TokenResult
from . import crypto
from .keys import CacheKeys


@dataclass(frozen=True)
class Entry:
    """A cached answer: when its fetch started, until when it is fresh, and the result."""

    fetched_at: float
    fresh_until: float
    result: TokenResult

    def encode(self) -> tuple[Any, ...]:
        """A compact tuple: a few hundred bytes per token in Redis, no class paths."""
        token = self.result.access_token
        if token is None:
            return (self.fetched_at, self.fresh_until, self.result.error)
        expires = token.expires_at.timestamp() if token.expires_at else None
        return (
            self.fetched_at,
            self.fresh_until,
            None,
            token.access_token,
            expires,
            token.scopes,
            token.missing_scopes,
        )

    @classmethod
    def decode(cls, value: Any) -> Entry | None:
        """The entry, or None for anything this version did not write."""
        if not isinstance(value, tuple) or len(value) not in (3, 7):
            return None
        try:
            return _decode(value)
        except (TypeError, ValueError, OverflowError):
            return None

    def usable_when_unavailable(self, now: float) -> bool:
        """Stale-if-error: an active token may be served until it really expires."""
        token = self.result.access_token
        if token is None:
            return False
        return token.expires_at is None or now < token.expires_at.timestamp()


@functools.lru_cache(maxsize=1024)
def _decode(value: tuple[Any, ...]) -> Entry:
    """Decode a cached tuple, memoised: a hit then costs a dictionary lookup, not the
    construction of three objects and a datetime on every request."""
    if len(value) == 3:
        return Entry(value[0], value[1], TokenResult.inactive(value[2]))
    expires = datetime.fromtimestamp(value[4], tz=timezone.utc) if value[4] else None
    token = AccessToken(value[3], expires, tuple(value[5]), tuple(value[6]))
    return Entry(value[0], value[1], TokenResult.connected(token))


def valid_entry(found: Mapping[str, Any], keys: CacheKeys) -> Entry | None:
    """The entry among ``found`` (one ``get_many``), unless an invalidation marker was
    written after its fetch started."""
    entry = unpack(keys.token, found.get(keys.token))
    if entry is None:
        return None
    invalidated = max(_as_float(found.get(keys.user_marker)), _as_float(found.get(keys.org_marker)))
    return entry if entry.fetched_at > invalidated else None


# The one road between entries and the cache: every cached value that holds a secret is
# written through pack() (or crypto.seal) and read through unpack() (or crypto.unseal).


def pack(key: str, entry: Entry) -> Any:
    """What the cache stores under ``key``: the entry's tuple, encrypted and bound to
    ``key`` when ``ENCRYPTION_KEYS`` is set."""
    return crypto.seal(key, entry.encode())


def unpack(key: str, stored: Any) -> Entry | None:
    """The entry stored under ``key``; None for a miss, or anything that can't be read
    (not written by this version, or sealed under another key or with no listed key)."""
    return Entry.decode(crypto.unseal(key, stored))


def _as_float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0
