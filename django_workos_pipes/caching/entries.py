"""Cached answers: what a cache entry holds, and how it is written compactly.

An entry records the generations it was fetched under (see
:mod:`~django_workos_pipes.caching.generations`), until when it is fresh, a random id of
its fetch (so a renewal can tell a new answer from the one it replaces), and the WorkOS
answer itself. Anything in the cache that this version did not write, whatever
its shape, decodes to None: a miss, never an error or a token.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..results import AccessToken, TokenResult
from .generations import generation
from .keys import CacheKeys, ListingKeys

Generations = tuple[int, int]
"""(the connection's generation, the organization's generation)."""


@dataclass(frozen=True)
class Entry:
    """A cached answer: the generations it was fetched under, until when it is fresh,
    its fetch's id, and the result."""

    generations: Generations
    fresh_until: float
    result: TokenResult
    fetch_id: int = 0

    def encode(self) -> tuple[Any, ...]:
        """A compact tuple: a few hundred bytes per token in Redis, no class paths."""
        user_generation, org_generation = self.generations
        head = (user_generation, org_generation, self.fresh_until, self.fetch_id)
        token = self.result.access_token
        if token is None:
            return (*head, self.result.error)
        expires = token.expires_at.timestamp() if token.expires_at else None
        return (
            *head,
            token.access_token,
            expires,
            token.scopes,
            token.missing_scopes,
        )

    @classmethod
    def decode(cls, value: Any) -> Entry | None:
        """The entry, or None for anything this version did not write."""
        if type(value) is not tuple or len(value) not in (5, 8):
            return None
        try:
            return _decode(value)
        except (TypeError, ValueError, OverflowError, OSError):
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
    construction of three objects and a datetime on every request. Raises ValueError or
    TypeError (never cached) for a tuple of the wrong types."""
    user_generation, org_generation = generation(value[0]), generation(value[1])
    fresh_until, fetch_id = _number(value[2]), generation(value[3])
    if user_generation is None or org_generation is None or fresh_until is None:
        raise ValueError("not an entry")
    if fetch_id is None:
        raise ValueError("not a fetch id")
    generations = (user_generation, org_generation)
    if len(value) == 5:
        if not isinstance(value[4], str) or not value[4]:
            raise ValueError("not an error code")
        return Entry(generations, fresh_until, TokenResult.inactive(value[4]), fetch_id)
    if not isinstance(value[4], str) or not value[4]:
        raise ValueError("not a token")
    expires = None if value[5] is None else _number(value[5])
    if expires is None and value[5] is not None:
        raise ValueError("not an expiry")
    token = AccessToken(
        value[4],
        datetime.fromtimestamp(expires, tz=timezone.utc) if expires is not None else None,
        _strings(value[6]),
        _strings(value[7]),
    )
    return Entry(generations, fresh_until, TokenResult.connected(token), fetch_id)


def _number(value: Any) -> float | None:
    if type(value) not in (int, float) or not math.isfinite(value):
        return None
    return float(value)


def _strings(value: Any) -> tuple[str, ...]:
    if type(value) is not tuple or not all(type(item) is str for item in value):
        raise ValueError("not a tuple of strings")
    return tuple(value)


def current_generations(
    found: Mapping[str, Any], keys: CacheKeys | ListingKeys
) -> Generations | None:
    """Both generations among ``found`` (one ``get_many``); None if either is missing.
    The one rule for every kind of entry: it is valid while these are what it recorded."""
    user_generation = generation(found.get(keys.user_generation))
    org_generation = generation(found.get(keys.org_generation))
    if user_generation is None or org_generation is None:
        return None
    return user_generation, org_generation


def valid_entry(found: Mapping[str, Any], keys: CacheKeys) -> Entry | None:
    """The entry among ``found``, unless a generation changed since its fetch began."""
    entry = Entry.decode(found.get(keys.token))
    if entry is None or entry.generations != current_generations(found, keys):
        return None
    return entry
