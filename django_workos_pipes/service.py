"""The token service: WorkOS answers, cached through Django's cache framework.

Every process that shares the cache (Redis, Memcached) shares the tokens:

- one upstream call per (provider, user, organization) until the token nears its
  ``expires_at``, its ``TOKEN_TTL`` passes, or it is invalidated;
- single flight: on a miss, the caller that wins ``cache.add`` of a lock calls WorkOS,
  the others poll the cache for its answer (or its failure) instead of calling too;
- invalidation replaces a generation (:mod:`.caching.generations`), with no clock
  involved: an entry is served only under the generations read before its fetch, so an
  answer fetched before an invalidation is never served after it, whichever host's
  clock is ahead. A read fetches the entry, both generations and the shared WorkOS
  breaker in one ``get_many``: one round trip;
- the cache is an optimisation, never a dependency: when it raises, the service logs a
  warning, asks WorkOS directly, and skips the cache for ``CACHE_BREAKER_SECONDS``;
- when WorkOS is unavailable, a cached token that has not yet expired is served, and for
  ``WORKOS_BREAKER_SECONDS`` every lookup that needs WorkOS fails fast the same way.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.core.cache import BaseCache, caches

from .breaker import CircuitBreaker
from .caching.entries import Entry, Generations, current_generations, valid_entry
from .caching.generations import GENERATION_TTL, generation, new_generation
from .caching.keys import WORKOS_DOWN, CacheKeys, generation_key
from .conf import app_settings
from .exceptions import PipesAPIError, PipesUnavailable
from .masking import mask_id
from .results import TokenResult
from .workos.protocol import WorkOSClient

logger = logging.getLogger(__name__)

# How long an entry may be kept for stale-if-error (a token without an expiry too).
MAX_ENTRY_LIFETIME = 86400.0
POLL_START, POLL_MAX = 0.01, 0.1
CACHE_WARNING_INTERVAL = 30.0

T = TypeVar("T")
D = TypeVar("D")


@dataclass(frozen=True)
class _Ask:
    """One token lookup: whose, and how many retries WorkOS gets (None: the setting)."""

    provider: str
    user_id: str
    organization_id: str | None
    max_retries: int | None = None


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
        client: WorkOSClient | None = None,
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
        self._local = threading.local()  # this thread's cache backend (see ``cache``)
        self.cache_breaker = CircuitBreaker()
        """Open while this process skips the cache after an error."""
        self.workos_breaker = CircuitBreaker()
        """Open while this process fails fast after WorkOS failed."""

    def __repr__(self) -> str:
        return f"PipesService(cache_alias={self.cache_alias!r})"

    # Configuration, resolved at call time.

    @property
    def cache_alias(self) -> str:
        return self._cache_alias or app_settings.CACHE_ALIAS

    @property
    def cache(self) -> BaseCache:
        """This thread's cache backend, looked up once until Django settings change (the
        breakers then start closed: they were about the old configuration).

        Per thread, as Django's ``caches`` hands them out: some backends' clients are
        not thread-safe (pymemcache's, without pooling, shares one socket).
        """
        memo: tuple[int, str, BaseCache] | None = getattr(self._local, "cache", None)
        if memo is None or memo[0] != app_settings.generation or memo[1] != self.cache_alias:
            alias = self.cache_alias
            if memo is not None and memo[0] != app_settings.generation:
                self.reset_breakers()
            memo = self._local.cache = (app_settings.generation, alias, caches[alias])
        return memo[2]

    @property
    def client(self) -> WorkOSClient:
        """The WorkOS client: the one given to the constructor or :meth:`use_client` (a
        test double, say), or the HTTP client built from the current settings."""
        return self._workos(None)

    def _workos(self, max_retries: int | None) -> WorkOSClient:
        """The client, with ``max_retries`` instead of the setting when one is given
        (only the HTTP client has retries)."""
        if self._client is not None:
            return self._client
        from .workos.client import PipesClient

        return PipesClient(
            api_key=self._api_key or app_settings.API_KEY,
            base_url=(self._base_url or app_settings.BASE_URL).rstrip("/"),
            timeout=_pick(self._timeout, app_settings.TIMEOUT),
            max_retries=_pick(max_retries, _pick(self._max_retries, app_settings.MAX_RETRIES)),
            backoff_factor=app_settings.BACKOFF_FACTOR,
            backoff_max=app_settings.BACKOFF_MAX,
        )

    @property
    def lock_timeout(self) -> float:
        return _pick(self._lock_timeout, app_settings.LOCK_TIMEOUT)

    @contextlib.contextmanager
    def use_client(self, client: WorkOSClient) -> Iterator[WorkOSClient]:
        """Ask ``client`` instead of WorkOS inside the block: the seam for test doubles
        (the pytest plugin's ``pipes_fake`` uses it). The previous client comes back on
        the way out; the circuit breakers start closed on the way in and out."""
        previous, self._client = self._client, client
        self.reset_breakers()
        try:
            yield client
        finally:
            self._client = previous
            self.reset_breakers()

    def reset_breakers(self) -> None:
        """Close both circuit breakers of this process (tests; after fixing an outage)."""
        self.cache_breaker.reset()
        self.workos_breaker.reset()

    # Public API.

    def get_access_token(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        max_retries: int | None = None,
    ) -> TokenResult:
        """The token for this user's connection, from the cache when it is still fresh.

        ``max_retries`` overrides the ``MAX_RETRIES`` setting for the WorkOS call, if one
        is needed: the template tags pass 0, so a page never waits through retries.
        Raises :class:`PipesUnavailable` only when WorkOS can't answer (or failed moments
        ago) and nothing usable is cached.
        """
        ask = _Ask(provider, user_id, organization_id, max_retries)
        keys = CacheKeys.build(provider, user_id, organization_id)
        found = self._lookup(keys)
        if found is None:
            # The cache is down: ask WorkOS directly. Taking the lock and storing the
            # answer would each wait for the cache's timeout again, for nothing.
            return self._call_workos(ask)
        entry = valid_entry(found, keys)
        workos_down = WORKOS_DOWN in found
        # ``found`` holds the cached tuple, token included, unmasked: no frame that an
        # error page could print may keep it.
        del found
        if entry is not None and time.time() < entry.fresh_until:
            return entry.result
        return self._refresh(ask, keys, entry, workos_down)

    def invalidate(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> bool:
        """Forget the cached answer for one connection, in every process sharing the cache.

        Returns False when the cache could not be written: nothing was forgotten.
        """
        return self._new_generation(generation_key(provider, user_id, organization_id))

    def invalidate_organization(self, provider: str, organization_id: str | None) -> bool:
        """Forget every cached answer for an organization's connections to ``provider``.

        Used for organization-owned connections, whose events name no user: every user's
        entry under that organization is stale from now on. Returns False when the cache
        could not be written.
        """
        return self._new_generation(generation_key(provider, None, organization_id))

    def authorize_url(
        self,
        provider: str,
        *,
        user_id: str,
        return_to: str,
        organization_id: str | None = None,
        reauthorize: bool = False,
    ) -> str:
        """The WorkOS consent URL that connects ``provider`` (or, with ``reauthorize``,
        signs the existing account in again), then returns the browser to ``return_to``.

        The cached answer is forgotten, since the user is about to change the connection.
        """
        account_id = (
            self._connected_account_id(provider, user_id, organization_id) if reauthorize else None
        )
        url = self._guarded(
            lambda: self.client.authorize_url(
                provider,
                user_id=user_id,
                organization_id=organization_id,
                return_to=return_to,
                connected_account_id=account_id,
            )
        )
        self.invalidate(provider, user_id=user_id, organization_id=organization_id)
        return url

    def get_connected_account(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> Mapping[str, Any] | None:
        """WorkOS's connected account object for this connection, or None if none exists."""
        return self._guarded(
            lambda: self.client.get_connected_account(
                provider, user_id=user_id, organization_id=organization_id
            )
        )

    def _connected_account_id(
        self, provider: str, user_id: str, organization_id: str | None
    ) -> str | None:
        """The id of the account to reauthorize; None starts a plain connect instead."""
        account = self.get_connected_account(
            provider, user_id=user_id, organization_id=organization_id
        )
        account_id = account.get("id") if account is not None else None
        return account_id if isinstance(account_id, str) and account_id else None

    async def aget_access_token(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        max_retries: int | None = None,
    ) -> TokenResult:
        """``get_access_token`` run in a worker thread, so the event loop never blocks."""
        return await sync_to_async(self.get_access_token, thread_sensitive=False)(
            provider, user_id=user_id, organization_id=organization_id, max_retries=max_retries
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
        """The entry, both generations and the WorkOS breaker in one round trip; None
        when the cache is down (or skipped by its breaker)."""
        return self._cache_call(lambda cache: cache.get_many(keys.lookup), None)

    def _store(self, keys: CacheKeys, result: TokenResult, generations: Generations) -> None:
        fresh_until, lifetime = self._lifetimes(result, time.time())
        if lifetime <= 0:
            return
        value = Entry(generations, fresh_until, result).encode()
        self._cache_call(lambda cache: cache.set(keys.token, value, math.ceil(lifetime)), None)

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

    def _new_generation(self, key: str) -> bool:
        """Invalidate: one write of a new random generation, which makes every entry
        fetched under the old one invalid (they are left to expire). False when the
        cache could not be written."""

        def write(cache: BaseCache) -> bool:
            cache.set(key, new_generation(), GENERATION_TTL)
            return True

        return self._cache_call(write, False)

    def _generations(self, keys: CacheKeys, found: Mapping[str, Any]) -> Generations | None:
        """The generations to record in an entry about to be fetched, read before the
        fetch; a missing one is started. None when the cache can't tell."""
        current = current_generations(found, keys)
        if current is not None:
            return current
        values = []
        for key in (keys.user_generation, keys.org_generation):
            value = generation(found.get(key))
            if value is None and (value := self._start(key)) is None:
                return None
            values.append(value)
        return values[0], values[1]

    def _start(self, key: str) -> int | None:
        """Start a generation with ``add``, so that concurrent fetchers agree on one."""
        value = new_generation()

        def start(cache: BaseCache) -> int:
            if cache.add(key, value, GENERATION_TTL):
                return value
            current = generation(cache.get(key))
            if current is None:  # not a generation: replace it (older entries just miss)
                cache.set(key, value, GENERATION_TTL)
                return value
            return current

        return self._cache_call(start, None)

    # Single flight.

    def _refresh(
        self, ask: _Ask, keys: CacheKeys, stale: Entry | None, workos_down: bool
    ) -> TokenResult:
        if workos_down or self.workos_breaker.is_open():
            return self._stale_or_raise(stale, _circuit_open(), ask)
        started = time.time()
        deadline = started + self.lock_timeout
        owner = f"{os.getpid()}:{uuid.uuid4().hex}"
        while True:
            acquired = self._cache_call(
                lambda cache: cache.add(keys.lock, owner, math.ceil(self.lock_timeout)), True
            )
            if acquired or time.time() >= deadline:
                break
            peer = self._wait_for_peer(ask, keys, started, deadline, stale)
            if peer is not None:
                return peer
        try:
            found = self._cache_call(lambda cache: cache.get_many(keys.lookup), None)
            generations = None
            if found is not None:
                entry = valid_entry(found, keys)
                if entry is not None and time.time() < entry.fresh_until:
                    return entry.result
                if WORKOS_DOWN in found:
                    return self._stale_or_raise(stale, _circuit_open(), ask)
                generations = self._generations(keys, found)
                del found  # the cached tuple, token included
            return self._fetch(ask, keys, generations, stale)
        finally:
            if acquired:
                self._cache_call(lambda cache: cache.delete(keys.lock), None)

    def _fetch(
        self, ask: _Ask, keys: CacheKeys, generations: Generations | None, stale: Entry | None
    ) -> TokenResult:
        """Ask WorkOS; store the answer under ``generations`` (not at all without them:
        nothing would tell whether an invalidation came first)."""
        try:
            result = self._call_workos(ask)
        except PipesUnavailable as exc:
            self._cache_call(lambda cache: cache.set(keys.failure, time.time(), 5), None)
            return self._stale_or_raise(stale, exc, ask)
        if generations is not None:
            self._store(keys, result, generations)
        return result

    def _wait_for_peer(
        self,
        ask: _Ask,
        keys: CacheKeys,
        started: float,
        deadline: float,
        stale: Entry | None,
    ) -> TokenResult | None:
        """Poll while another caller holds the lock.

        Returns its answer; raises its failure (or serves a still-valid stale token);
        returns None when the lock is gone with no answer, so the caller tries to take it.
        """
        wanted = [*keys.lookup, keys.lock, keys.failure]
        interval = POLL_START
        while time.time() < deadline:
            time.sleep(interval)
            interval = min(interval * 1.5, POLL_MAX)
            found = self._cache_call(lambda cache: cache.get_many(wanted), None)
            if found is None:
                return None
            entry = valid_entry(found, keys)
            if entry is not None and time.time() < entry.fresh_until:
                return entry.result
            failed_at = found.get(keys.failure)
            if WORKOS_DOWN in found or (isinstance(failed_at, float) and failed_at >= started):
                exc = PipesUnavailable("WorkOS is unavailable (reported by a concurrent request)")
                return self._stale_or_raise(entry or stale, exc, ask)
            if keys.lock not in found:
                return None
        return None

    def _stale_or_raise(self, stale: Entry | None, exc: PipesUnavailable, ask: _Ask) -> TokenResult:
        if stale is not None and stale.usable_when_unavailable(time.time()):
            logger.warning(
                "WorkOS unavailable (%s); serving the cached token for provider=%s user=%s",
                exc,
                ask.provider,
                mask_id(ask.user_id),
            )
            return stale.result
        raise exc

    # WorkOS failures.

    def _call_workos(self, ask: _Ask) -> TokenResult:
        return self._guarded(
            lambda: self._workos(ask.max_retries).get_access_token(
                ask.provider, user_id=ask.user_id, organization_id=ask.organization_id
            )
        )

    def _guarded(self, call: Callable[[], T]) -> T:
        """Call WorkOS through the breaker: refused at once while it is open; a failure
        opens it here and, through the cache, in every process."""
        if not self.workos_breaker.allow():
            raise _circuit_open()
        try:
            result = call()
        except PipesUnavailable:
            self._workos_failed()
            raise
        except PipesAPIError:  # a refusal is an answer: WorkOS is up
            self.workos_breaker.succeeded()
            raise
        self.workos_breaker.succeeded()
        return result

    def _workos_failed(self) -> None:
        seconds = app_settings.WORKOS_BREAKER_SECONDS
        if seconds <= 0:
            return
        self.workos_breaker.failed(seconds)
        self._cache_call(lambda cache: cache.set(WORKOS_DOWN, 1, math.ceil(seconds)), None)
        logger.warning(
            "WorkOS unavailable: lookups that need it fail fast for %s s (serving cached "
            "tokens that have not expired), then one call tries again.",
            seconds,
        )

    # Cache failures.

    def _cache_call(self, call: Callable[[BaseCache], T], default: D) -> T | D:
        """Run a cache operation; if the backend fails, warn (at most every 30 s), skip
        the cache for ``CACHE_BREAKER_SECONDS`` and return ``default`` so the caller
        carries on without it. While the breaker is open, return ``default`` at once."""
        cache = self.cache
        breaker = self.cache_breaker
        if not breaker.allow():
            return default
        try:
            value = call(cache)
        except Exception as exc:  # any backend error means "no cache"
            breaker.failed(app_settings.CACHE_BREAKER_SECONDS)
            self._warn_cache_down(exc)
            return default
        breaker.succeeded()
        return value

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


def _circuit_open() -> PipesUnavailable:
    return PipesUnavailable(
        "WorkOS is unavailable (it failed moments ago; the circuit breaker is open)"
    )


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value


pipes = PipesService()
