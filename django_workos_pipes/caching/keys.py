"""Cache keys: short digests, safe for every backend whatever the ids contain.

Memcached refuses keys over 250 characters or with spaces and control characters, and
backends validate keys on every call: a fixed-length digest passes everywhere, cheaply.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass

KEY_PREFIX = "wpipes2"
"""Bumped whenever what a key holds changes meaning (``wpipes1`` held timestamps), so a
new version never reads an old version's values."""

WORKOS_DOWN = f"{KEY_PREFIX}:workos-down"
"""Present while a process has recently seen WorkOS fail: the circuit breaker's state,
shared by every process through the cache."""


def make_key(kind: str, *parts: str | None) -> str:
    """``wpipes2:<kind>:<digest of parts>``."""
    digest = hashlib.blake2b(json.dumps(parts).encode(), digest_size=12).hexdigest()
    return f"{KEY_PREFIX}:{kind}:{digest}"


def organization_generation(provider: str, organization_id: str | None) -> str:
    """The generation key shared by every user's entry under an organization."""
    return make_key("o", provider, organization_id)


def generation_key(provider: str, user_id: str | None, organization_id: str | None) -> str:
    """The generation an invalidation bumps: one user's connection, or with no user,
    an organization's (every user's entry under it)."""
    if user_id is None:
        return organization_generation(provider, organization_id)
    return CacheKeys.build(provider, user_id, organization_id).user_generation


@dataclass(frozen=True)
class CacheKeys:
    """The cache keys of one (provider, user, organization)."""

    token: str
    user_generation: str
    org_generation: str
    lock: str
    failure: str
    lookup: tuple[str, ...]
    """What a read fetches in its one round trip: the entry, both generations, and the
    shared WorkOS breaker."""

    @classmethod
    @functools.lru_cache(maxsize=4096)
    def build(cls, provider: str, user_id: str, organization_id: str | None) -> CacheKeys:
        """The keys, memoised: they are built on every request, from a few distinct ids."""
        token = make_key("t", provider, user_id, organization_id)
        user_generation = make_key("g", provider, user_id, organization_id)
        org_generation = organization_generation(provider, organization_id)
        return cls(
            token=token,
            user_generation=user_generation,
            org_generation=org_generation,
            lock=token + ":lock",
            failure=token + ":failed",
            lookup=(token, user_generation, org_generation, WORKOS_DOWN),
        )


def event_key(event_id: str) -> str:
    """The webhook ledger's key for an event id; any id WorkOS sends makes a valid key."""
    digest = hashlib.blake2b(event_id.encode("utf-8", "replace"), digest_size=20)
    return f"{KEY_PREFIX}:webhook-event:{digest.hexdigest()}"
