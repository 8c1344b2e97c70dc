"""Cache keys: short digests, safe for every backend whatever the ids contain.

Memcached refuses keys over 250 characters or with spaces and control characters, and
backends validate keys on every call: a fixed-length digest passes everywhere, cheaply.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass

from ..owners import ORGANIZATION, USER, Owner

KEY_PREFIX = "wpipes1"

TOKEN = "t"
CREDENTIALS = "c"
"""The kinds of cached answer: tokens and credentials, under keys of their own that share
the invalidation markers, so whatever invalidates one invalidates the other."""


def make_key(kind: str, *parts: str | None) -> str:
    """``wpipes1:<kind>:<digest of parts>``."""
    digest = hashlib.blake2b(json.dumps(parts).encode(), digest_size=12).hexdigest()
    return f"{KEY_PREFIX}:{kind}:{digest}"


def organization_marker(provider: str, organization_id: str | None) -> str:
    """The invalidation marker shared by every user's entry under an organization."""
    return make_key("o", provider, organization_id)


def listing_marker(user_id: str | None, organization_id: str | None) -> str:
    """The invalidation marker of one user's connections listing: a change to any of
    their connections (whatever the provider) makes the listing stale."""
    return make_key("li", user_id, organization_id)


def organization_listing_marker(organization_id: str | None) -> str:
    """The invalidation marker shared by every user's listing under an organization."""
    return make_key("lo", organization_id)


@dataclass(frozen=True)
class CacheKeys:
    """The cache keys of one (provider, user, organization) answer of one kind."""

    token: str
    """The entry: the token, or with ``kind=CREDENTIALS`` the credential."""
    user_marker: str
    org_marker: str
    lock: str
    failure: str
    listing_marker: str
    """The marker of the user's listing, which names this connection too."""

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

        Each ``connected_account_id`` has an entry (and lock) of its own; the markers are
        the connection's, so invalidating the user's connection forgets all of them.
        ``user_id`` None means the organization's own connection (see
        :func:`connection_keys`).
        """
        account = (connected_account_id,) if connected_account_id is not None else ()
        token = make_key(kind, provider, user_id, organization_id, *account)
        return cls(
            token=token,
            user_marker=make_key("i", provider, user_id, organization_id),
            org_marker=organization_marker(provider, organization_id),
            lock=token + ":lock",
            failure=token + ":failed",
            listing_marker=listing_marker(user_id, organization_id),
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
    answer, and :func:`organization_marker` (``invalidate_organization``) ends it.
    """
    subject = None if owner == ORGANIZATION else user_id
    return CacheKeys.build(provider, subject, organization_id, kind, connected_account_id)


@dataclass(frozen=True)
class ListingKeys:
    """The cache keys of one (user, organization)'s connections listing."""

    listing: str
    user_marker: str
    org_marker: str

    @classmethod
    @functools.lru_cache(maxsize=4096)
    def build(cls, user_id: str | None, organization_id: str | None) -> ListingKeys:
        """``user_id`` None: the organization's own listing (its connections, which every
        member shares), ended by the organization's marker like its members' listings."""
        return cls(
            listing=make_key("l", user_id, organization_id),
            user_marker=listing_marker(user_id, organization_id),
            org_marker=organization_listing_marker(organization_id),
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
