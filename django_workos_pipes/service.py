"""The token service: WorkOS answers, cached through Django's cache framework.

Every process that shares the cache (Redis, Memcached) shares the tokens:

- one upstream call per (provider, user, organization) until the token nears its
  ``expires_at``, its ``TOKEN_TTL`` passes, or it is invalidated;
- single flight: on a miss, the caller that wins ``cache.add`` of a lock calls WorkOS,
  the others poll the cache for its answer (or its failure) instead of calling too;
- invalidation writes a timestamp, not just a delete, so an answer fetched before an
  invalidation can't be written back over it by a slow request still in flight; a read
  fetches the entry and both timestamps in one ``get_many``, one round trip;
- the cache is an optimisation, never a dependency: when it raises, the service logs a
  warning and asks WorkOS directly;
- when WorkOS is unavailable, a cached token that has not yet expired is served.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.core.cache import BaseCache, caches

from .client import PipesClient
from .conf import app_settings
from .exceptions import PipesUnavailable
from .masking import mask_id
from .results import AccessToken, TokenResult

logger = logging.getLogger("django_workos_pipes")

KEY_PREFIX = "wpipes1"
# Invalidation markers must outlive every entry written before them; entries are
# therefore never kept longer than this.
MAX_ENTRY_LIFETIME = 86400.0
POLL_START, POLL_MAX = 0.01, 0.1
CACHE_WARNING_INTERVAL = 30.0

T = TypeVar("T")
D = TypeVar("D")


@dataclass(frozen=True)
class CacheKeys:
    """The cache keys of one (provider, user, organization).

    Keys are digests: safe for every backend (memcached's 250 characters, no spaces or
    control characters) whatever the ids contain.
    """

    token: str
    user_marker: str
    org_marker: str
    lock: str
    failure: str

    @classmethod
    @functools.lru_cache(maxsize=4096)
    def build(cls, provider: str, user_id: str, organization_id: str | None) -> CacheKeys:
        """The keys, memoised: they are built on every request, from a few distinct ids."""
        token = _key("t", provider, user_id, organization_id)
        return cls(
            token=token,
            user_marker=_key("i", provider, user_id, organization_id),
            org_marker=organization_marker(provider, organization_id),
            lock=token + ":lock",
            failure=token + ":failed",
        )


def _key(kind: str, *parts: str | None) -> str:
    """``wpipes1:<kind>:<digest>``: short keys, since backends validate them per call."""
    digest = hashlib.blake2b(json.dumps(parts).encode(), digest_size=12).hexdigest()
    return f"{KEY_PREFIX}:{kind}:{digest}"


def organization_marker(provider: str, organization_id: str | None) -> str:
    return _key("o", provider, organization_id)


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


class PipesService:
    """Fetches and caches WorkOS Pipes access tokens.

    Arguments left as None are read from ``settings.WORKOS_PIPES`` (or the environment)
    each time they are needed, so the default instance follows ``override_settings``.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        cache_alias: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        expiry_leeway: float | None = None,
        token_ttl: float | None = None,
        inactive_ttl: float | None = None,
        lock_timeout: float | None = None,
        client: PipesClient | None = None,
    ) -> None:
        self._client = client
        self._api_key = api_key
        self._base_url = base_url
        self._cache_alias = cache_alias
        self._timeout = timeout
        self._max_retries = max_retries
        self._expiry_leeway = expiry_leeway
        self._token_ttl = token_ttl
        self._inactive_ttl = inactive_ttl
        self._lock_timeout = lock_timeout
        self._last_cache_warning = 0.0
        self._warning_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PipesService(cache_alias={self.cache_alias!r})"

    # Configuration, resolved at call time.

    @property
    def cache_alias(self) -> str:
        return self._cache_alias or app_settings.CACHE_ALIAS

    @property
    def cache(self) -> BaseCache:
        return caches[self.cache_alias]

    @property
    def client(self) -> PipesClient:
        """The HTTP client: the one given to the constructor (a test double, say), or one
        built from the current settings."""
        if self._client is not None:
            return self._client
        return PipesClient(
            api_key=self._api_key or app_settings.API_KEY,
            base_url=(self._base_url or app_settings.BASE_URL).rstrip("/"),
            timeout=_pick(self._timeout, app_settings.TIMEOUT),
            max_retries=_pick(self._max_retries, app_settings.MAX_RETRIES),
            backoff_factor=app_settings.BACKOFF_FACTOR,
            backoff_max=app_settings.BACKOFF_MAX,
        )

    @property
    def lock_timeout(self) -> float:
        return _pick(self._lock_timeout, app_settings.LOCK_TIMEOUT)

    # Public API.

    def get_access_token(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> TokenResult:
        """The token for this user's connection, from the cache when it is still fresh.

        Raises :class:`PipesUnavailable` only when WorkOS can't answer and nothing
        usable is cached.
        """
        keys = CacheKeys.build(provider, user_id, organization_id)
        found = self._lookup(keys)
        if found is None:
            # The cache is down: ask WorkOS directly. Taking the lock and storing the
            # answer would each wait for the cache's timeout again, for nothing.
            return self.client.get_access_token(
                provider, user_id=user_id, organization_id=organization_id
            )
        entry = _valid_entry(found, keys)
        if entry is not None and time.time() < entry.fresh_until:
            return entry.result
        return self._refresh(provider, user_id, organization_id, keys, entry)

    def invalidate(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> bool:
        """Forget the cached answer for one connection, in every process sharing the cache.

        Returns False when the cache could not be written: nothing was forgotten.
        """
        keys = CacheKeys.build(provider, user_id, organization_id)
        return self._mark_invalidated(keys.user_marker)

    def invalidate_organization(self, provider: str, organization_id: str | None) -> bool:
        """Forget every cached answer for an organization's connections to ``provider``.

        Used for organization-owned connections, whose events name no user: every user's
        entry under that organization is stale from now on. Returns False when the cache
        could not be written.
        """
        return self._mark_invalidated(organization_marker(provider, organization_id))

    async def aget_access_token(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> TokenResult:
        """``get_access_token`` run in a worker thread, so the event loop never blocks."""
        return await sync_to_async(self.get_access_token, thread_sensitive=False)(
            provider, user_id=user_id, organization_id=organization_id
        )

    async def ainvalidate(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> bool:
        return await sync_to_async(self.invalidate, thread_sensitive=False)(
            provider, user_id=user_id, organization_id=organization_id
        )

    async def ainvalidate_organization(self, provider: str, organization_id: str | None) -> bool:
        return await sync_to_async(self.invalidate_organization, thread_sensitive=False)(
            provider, organization_id
        )

    # Cache reads and writes.

    def _lookup(self, keys: CacheKeys) -> dict[str, Any] | None:
        """The entry and both invalidation markers in one round trip; None: cache down."""
        return self._cache_call(
            lambda: self.cache.get_many([keys.token, keys.user_marker, keys.org_marker]), None
        )

    def _read(self, keys: CacheKeys) -> Entry | None:
        """The entry, unless it is missing or older than an invalidation."""
        return _valid_entry(self._lookup(keys) or {}, keys)

    def _store(self, keys: CacheKeys, result: TokenResult, fetched_at: float) -> None:
        now = time.time()
        fresh_until, lifetime = self._lifetimes(result, now)
        if lifetime <= 0:
            return
        entry = Entry(fetched_at, fresh_until, result)
        self._cache_call(
            lambda: self.cache.set(keys.token, entry.encode(), math.ceil(lifetime)), None
        )

    def _lifetimes(self, result: TokenResult, now: float) -> tuple[float, float]:
        """(fresh until, seconds to keep) for an answer received at ``now``.

        A token stays in the cache until it really expires, so it can be served if
        WorkOS goes down, but it is only fresh until ``EXPIRY_LEEWAY`` before that.
        """
        token = result.access_token
        if token is None:
            ttl = _pick(self._inactive_ttl, app_settings.INACTIVE_TTL)
            return now + ttl, ttl
        ttl = _pick(self._token_ttl, app_settings.TOKEN_TTL)
        if token.expires_at is None:
            return now + ttl, max(ttl, MAX_ENTRY_LIFETIME)
        remaining = token.expires_at.timestamp() - now
        leeway = _pick(self._expiry_leeway, app_settings.EXPIRY_LEEWAY)
        # A token that already lives less than the leeway is still worth half its life.
        fresh = min(max(remaining - leeway, remaining / 2), ttl)
        return now + fresh, min(remaining, MAX_ENTRY_LIFETIME)

    def _mark_invalidated(self, marker: str) -> bool:
        """One write: the marker alone makes every older entry invalid (entries written
        before it are left to expire), so an invalidation costs one round trip.
        False when the cache could not be written."""
        ttl = max(_pick(self._token_ttl, app_settings.TOKEN_TTL), MAX_ENTRY_LIFETIME)

        def write() -> bool:
            self.cache.set(marker, time.time(), math.ceil(ttl))
            return True

        return self._cache_call(write, False)

    # Single flight.

    def _refresh(
        self,
        provider: str,
        user_id: str,
        organization_id: str | None,
        keys: CacheKeys,
        stale: Entry | None,
    ) -> TokenResult:
        started = time.time()
        deadline = started + self.lock_timeout
        owner = f"{os.getpid()}:{uuid.uuid4().hex}"
        while True:
            acquired = self._cache_call(
                lambda: self.cache.add(keys.lock, owner, math.ceil(self.lock_timeout)), True
            )
            if acquired or time.time() >= deadline:
                break
            peer = self._wait_for_peer(keys, started, deadline, stale)
            if peer is not None:
                return peer
        try:
            if acquired:
                entry = self._read(keys)
                if entry is not None and time.time() < entry.fresh_until:
                    return entry.result
            return self._fetch(provider, user_id, organization_id, keys, started, stale)
        finally:
            if acquired:
                self._cache_call(lambda: self.cache.delete(keys.lock), None)

    def _fetch(
        self,
        provider: str,
        user_id: str,
        organization_id: str | None,
        keys: CacheKeys,
        started: float,
        stale: Entry | None,
    ) -> TokenResult:
        try:
            result = self.client.get_access_token(
                provider, user_id=user_id, organization_id=organization_id
            )
        except PipesUnavailable as exc:
            self._cache_call(lambda: self.cache.set(keys.failure, time.time(), 5), None)
            return self._stale_or_raise(stale, exc, provider, user_id)
        self._store(keys, result, started)
        return result

    def _wait_for_peer(
        self, keys: CacheKeys, started: float, deadline: float, stale: Entry | None
    ) -> TokenResult | None:
        """Poll while another caller holds the lock.

        Returns its answer; raises its failure (or serves a still-valid stale token);
        returns None when the lock is gone with no answer, so the caller tries to take it.
        """
        wanted = [keys.token, keys.user_marker, keys.org_marker, keys.lock, keys.failure]
        interval = POLL_START
        while time.time() < deadline:
            time.sleep(interval)
            interval = min(interval * 1.5, POLL_MAX)
            found = self._cache_call(lambda: self.cache.get_many(wanted), None)
            if found is None:
                return None
            entry = _valid_entry(found, keys)
            if entry is not None and time.time() < entry.fresh_until:
                return entry.result
            failed_at = found.get(keys.failure)
            if isinstance(failed_at, float) and failed_at >= started:
                exc = PipesUnavailable("WorkOS is unavailable (reported by a concurrent request)")
                return self._stale_or_raise(entry or stale, exc, "-", None)
            if keys.lock not in found:
                return None
        return None

    def _stale_or_raise(
        self, stale: Entry | None, exc: PipesUnavailable, provider: str, user_id: str | None
    ) -> TokenResult:
        if stale is not None and stale.usable_when_unavailable(time.time()):
            logger.warning(
                "WorkOS unavailable (%s); serving the cached token for provider=%s user=%s",
                exc,
                provider,
                mask_id(user_id),
            )
            return stale.result
        raise exc

    # Cache failures.

    def _cache_call(self, call: Callable[[], T], default: D) -> T | D:
        """Run a cache operation; if the backend fails, warn (at most every 30 s) and
        return ``default`` so the caller carries on without the cache."""
        try:
            return call()
        except Exception as exc:  # any backend error means "no cache"
            self._warn_cache_down(exc)
            return default

    def _warn_cache_down(self, exc: Exception) -> None:
        now = time.monotonic()
        with self._warning_lock:
            if now - self._last_cache_warning < CACHE_WARNING_INTERVAL:
                return
            self._last_cache_warning = now
        logger.warning(
            "Cache %r unavailable (%s); asking WorkOS directly until it is back.",
            self.cache_alias,
            type(exc).__name__,
        )


def _valid_entry(found: dict[str, Any], keys: CacheKeys) -> Entry | None:
    entry = Entry.decode(found.get(keys.token))
    if entry is None:
        return None
    invalidated = max(_as_float(found.get(keys.user_marker)), _as_float(found.get(keys.org_marker)))
    return entry if entry.fetched_at > invalidated else None


def _as_float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value


pipes = PipesService()
