"""Cache keys: short digests, safe for every backend whatever the ids contain.

Memcached refuses keys over 250 characters or with spaces and control characters, and
backends validate keys on every call: a fixed-length digest passes everywhere, cheaply.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass

from ..owners import ORGANIZATION, USER, ConnectionRef, Owner

KEY_PREFIX = "wpipes2"
"""Bumped whenever what a key holds changes meaning (``wpipes1`` held timestamps), so a
new version never reads an old version's values."""

TOKEN = "t"
CREDENTIALS = "c"
"""The kinds of cached answer: tokens and credentials, under keys of their own that share
the generations, so whatever invalidates one invalidates the other."""

WORKOS_DOWN = f"{KEY_PREFIX}:workos-down"
"""Present while a process has recently seen WorkOS fail: the circuit breaker's state,
shared by every process through the cache."""


def make_key(kind: str, *parts: str | None) -> str:
    """``wpipes2:<kind>:<digest of parts>``."""
    digest = hashlib.blake2b(json.dumps(parts).encode(), digest_size=12).hexdigest()
    return f"{KEY_PREFIX}:{kind}:{digest}"


def organization_generation(provider: str, organization_id: str | None) -> str:
    """The generation shared by every user's token entry under an organization."""
    return make_key("o", provider, organization_id)


def listing_generation(user_id: str | None, organization_id: str | None) -> str:
    """The generation of one user's connections listing: a change to any of their
    connections (whatever the provider) makes the listing stale."""
    return make_key("li", user_id, organization_id)


def organization_listing_generation(organization_id: str | None) -> str:
    """The generation shared by every user's listing under an organization."""
    return make_key("lo", organization_id)


def invalidation_keys(
    provider: str, user_id: str | None, organization_id: str | None
) -> tuple[str, str]:
    """The generations an invalidation replaces: one user's connection and their
    listing, or with no user, an organization's (every user's entries under it)."""
    if user_id is None:
        return (
            organization_generation(provider, organization_id),
            organization_listing_generation(organization_id),
        )
    keys = CacheKeys.build(provider, user_id, organization_id)
    return keys.user_generation, keys.listing_generation


@dataclass(frozen=True)
class CacheKeys:
    """The cache keys of one (provider, user, organization) answer of one kind."""

    token: str
    """The entry: the token, or with ``kind=CREDENTIALS`` the credential."""
    user_generation: str
    org_generation: str
    lock: str
    failure: str
    listing_generation: str
    """The generation of the user's listing, which names this connection too."""
    lookup: tuple[str, ...]
    """What a read fetches in its one round trip: the entry, both generations, and the
    shared WorkOS breaker."""

    @classmethod
    @functools.lru_cache(maxsize=4096)
    def build(
        cls,
        provider: str,
        user_id: str | None,
        organization_id: str | None,
        kind: str = TOKEN,
        connected_account_id: str | None = None,
    ) -> CacheKeys:
        """The keys, memoised: they are built on every request, from a few distinct ids.

        Each ``connected_account_id`` has an entry (and lock) of its own; the generations
        are the connection's, so invalidating the user's connection forgets all of them.
        ``user_id`` None means the organization's own connection (see
        :func:`connection_keys`).
        """
        account = (connected_account_id,) if connected_account_id is not None else ()
        token = make_key(kind, provider, user_id, organization_id, *account)
        user_generation = make_key("g", provider, user_id, organization_id)
        org_generation = organization_generation(provider, organization_id)
        return cls(
            token=token,
            user_generation=user_generation,
            org_generation=org_generation,
            lock=token + ":lock",
            failure=token + ":failed",
            listing_generation=listing_generation(user_id, organization_id),
            lookup=(token, user_generation, org_generation, WORKOS_DOWN),
        )


def connection_keys(
    provider: str,
    user_id: str | None,
    organization_id: str | None,
    *,
    owner: Owner = USER,
    kind: str = TOKEN,
    connected_account_id: str | None = None,
) -> CacheKeys:
    """The keys of one connection's answer, whoever owns it.

    An organization-owned connection has one entry per (provider, organization), whoever
    of its members asks: the user is left out of its keys, so every member shares one
    answer, and the organization's generation (``invalidate_organization``) ends it.
    """
    subject = None if owner == ORGANIZATION else user_id
    return CacheKeys.build(provider, subject, organization_id, kind, connected_account_id)


def ref_keys(ref: ConnectionRef, kind: str = TOKEN) -> CacheKeys:
    """:func:`connection_keys` of the connection ``ref`` names."""
    return connection_keys(
        ref.provider,
        ref.user_id,
        ref.organization_id,
        owner=ref.owner,
        kind=kind,
        connected_account_id=ref.connected_account_id,
    )


@dataclass(frozen=True)
class ListingKeys:
    """The cache keys of one (user, organization)'s connections listing."""

    listing: str
    user_generation: str
    org_generation: str

    @classmethod
    @functools.lru_cache(maxsize=4096)
    def build(cls, user_id: str | None, organization_id: str | None) -> ListingKeys:
        """``user_id`` None: the organization's own listing (its connections, which every
        member shares), ended by the organization's generation like its members'."""
        return cls(
            listing=make_key("l", user_id, organization_id),
            user_generation=listing_generation(user_id, organization_id),
            org_generation=organization_listing_generation(organization_id),
        )


def event_key(event_id: str) -> str:
    """The webhook ledger's key for an event id; any id WorkOS sends makes a valid key."""
    digest = hashlib.blake2b(event_id.encode("utf-8", "replace"), digest_size=20)
    return f"{KEY_PREFIX}:webhook-event:{digest.hexdigest()}"


def link_key(kind: str, environment: str, external_id: str) -> str:
    """The key of a cached link from a site's own id to a WorkOS user (``kind`` ``"u"``)
    or organization (``"g"``). ``environment`` tells WorkOS environments apart, so a
    site moving from the emulator or a staging key to production never reuses a link."""
    return make_key(f"link-{kind}", environment, external_id)
