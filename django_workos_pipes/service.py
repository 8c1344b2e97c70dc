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
- when WorkOS is unavailable, a cached token that has not yet expired is served;
- a token the provider refused (401) is renewed through the same single flight, so any
  number of callers meeting one dead token cost one WorkOS call, and is never served
  from the cache again, not even while WorkOS is down.
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
from typing import TYPE_CHECKING, Any, TypeVar

from asgiref.sync import sync_to_async
from django.core.cache import BaseCache, caches

from . import signals
from .caching.entries import Entry, pack, valid_entry
from .caching.keys import CacheKeys, organization_marker
from .conf import app_settings
from .exceptions import PROVIDER_REJECTED_TOKEN, PipesReauthorizationRequired, PipesUnavailable
from .masking import mask_id
from .results import AccessToken, TokenResult
from .workos.protocol import WorkOSClient

if TYPE_CHECKING:
    import requests

logger = logging.getLogger(__name__)

# Invalidation markers must outlive every entry written before them; entries are
# therefore never kept longer than this.
MAX_ENTRY_LIFETIME = 86400.0
POLL_START, POLL_MAX = 0.01, 0.1
CACHE_WARNING_INTERVAL = 30.0

T = TypeVar("T")
D = TypeVar("D")


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
        self._cache: tuple[int, str, BaseCache] | None = None

    def __repr__(self) -> str:
        return f"PipesService(cache_alias={self.cache_alias!r})"

    # Configuration, resolved at call time.

    @property
    def cache_alias(self) -> str:
        return self._cache_alias or app_settings.CACHE_ALIAS

    @property
    def cache(self) -> BaseCache:
        """The cache backend, looked up once until Django settings change."""
        memo = self._cache
        if memo is None or memo[0] != app_settings.generation or memo[1] != self.cache_alias:
            alias = self.cache_alias
            memo = self._cache = (app_settings.generation, alias, caches[alias])
        return memo[2]

    @property
    def client(self) -> WorkOSClient:
        """The WorkOS client: the one given to the constructor or :meth:`use_client` (a
        test double, say), or the HTTP client built from the current settings."""
        if self._client is not None:
            return self._client
        from .workos.client import PipesClient

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

    @contextlib.contextmanager
    def use_client(self, client: WorkOSClient) -> Iterator[WorkOSClient]:
        """Ask ``client`` instead of WorkOS inside the block: the seam for test doubles
        (the pytest plugin's ``pipes_fake`` uses it). The previous client comes back on
        the way out."""
        previous, self._client = self._client, client
        try:
            yield client
        finally:
            self._client = previous

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
        entry = valid_entry(found, keys)
        if entry is not None and time.time() < entry.fresh_until:
            return entry.result
        return self._refresh(provider, user_id, organization_id, keys, entry)

    def require_access_token(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> AccessToken:
        """The live token, for code that can't send a user anywhere (a job, a worker).

        Raises :class:`PipesReauthorizationRequired` (after sending the
        ``reauthorization_required`` signal) when the connection is inactive, and
        :class:`PipesUnavailable` as :meth:`get_access_token` does.
        """
        result = self.get_access_token(provider, user_id=user_id, organization_id=organization_id)
        return self._live(provider, user_id, organization_id, result)

    def renew_access_token(
        self, provider: str, *, user_id: str, rejected: str, organization_id: str | None = None
    ) -> AccessToken:
        """A token to replace ``rejected``, which the provider refused (401) before it expired.

        Every caller that met the same dead token shares one WorkOS call: an entry that
        holds another token (or an inactive answer), or that was fetched after this
        renewal began, is the answer. ``rejected`` is never served from the cache, not even
        while WorkOS is down (:class:`PipesUnavailable` then). Raises
        :class:`PipesReauthorizationRequired` when WorkOS answers inactive or hands back
        ``rejected`` itself: only the user can fix that.
        """
        keys = CacheKeys.build(provider, user_id, organization_id)
        found = self._lookup(keys)
        if found is None:  # The cache is down: ask WorkOS directly.
            result = self.client.get_access_token(
                provider, user_id=user_id, organization_id=organization_id
            )
        else:
            cached = _answer(valid_entry(found, keys), time.time(), rejected)
            if cached is None:
                cached = self._refresh(provider, user_id, organization_id, keys, None, rejected)
            result = cached
        token = self._live(provider, user_id, organization_id, result)
        if token.access_token == rejected:
            raise self.reauthorization_required(
                provider,
                user_id=user_id,
                organization_id=organization_id,
                error=PROVIDER_REJECTED_TOKEN,
            )
        return token

    def reauthorization_required(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        error: str,
    ) -> PipesReauthorizationRequired:
        """Send the ``reauthorization_required`` signal and return the exception to raise.

        Also for a project's own code, when a provider refuses a token it used directly.
        A receiver that fails is logged: the caller must still get this exception, or a
        job's ``except`` would miss it and the job would be retried for nothing.
        """
        logger.info(
            "Connection needs reauthorization: provider=%s user=%s error=%s",
            provider,
            mask_id(user_id),
            error,
        )
        answers = signals.reauthorization_required.send_robust(
            sender=type(self),
            provider=provider,
            user_id=user_id,
            organization_id=organization_id,
            error=error,
        )
        for receiver, answer in answers:
            if isinstance(answer, Exception):
                logger.error(
                    "reauthorization_required receiver %r failed", receiver, exc_info=answer
                )
        return PipesReauthorizationRequired(
            provider, user_id=user_id, organization_id=organization_id, error=error
        )

    def session(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> requests.Session:
        """A ``requests.Session`` that calls ``provider``'s API as this user.

        Its :class:`~django_workos_pipes.auth.PipesAuth` takes the token from this service
        (cached, single flight) and, on a 401, renews it and sends the request once more.
        ``requests`` is imported here, on first use, not with the package.
        """
        import requests

        from .auth import PipesAuth

        session = requests.Session()
        session.auth = PipesAuth(
            provider, user_id=user_id, organization_id=organization_id, service=self
        )
        return session

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
        url = self.client.authorize_url(
            provider,
            user_id=user_id,
            organization_id=organization_id,
            return_to=return_to,
            connected_account_id=account_id,
        )
        self.invalidate(provider, user_id=user_id, organization_id=organization_id)
        return url

    def get_connected_account(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> Mapping[str, Any] | None:
        """WorkOS's connected account object for this connection, or None if none exists."""
        return self.client.get_connected_account(
            provider, user_id=user_id, organization_id=organization_id
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
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> TokenResult:
        """``get_access_token`` run in a worker thread, so the event loop never blocks."""
        return await sync_to_async(self.get_access_token, thread_sensitive=False)(
            provider, user_id=user_id, organization_id=organization_id
        )

    async def arequire_access_token(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> AccessToken:
        """:meth:`require_access_token` run in a worker thread."""
        return await sync_to_async(self.require_access_token, thread_sensitive=False)(
            provider, user_id=user_id, organization_id=organization_id
        )

    async def arenew_access_token(
        self, provider: str, *, user_id: str, rejected: str, organization_id: str | None = None
    ) -> AccessToken:
        """:meth:`renew_access_token` run in a worker thread."""
        return await sync_to_async(self.renew_access_token, thread_sensitive=False)(
            provider, user_id=user_id, rejected=rejected, organization_id=organization_id
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

    def _live(
        self, provider: str, user_id: str, organization_id: str | None, result: TokenResult
    ) -> AccessToken:
        token = result.access_token
        if result.active and token is not None:
            return token
        raise self.reauthorization_required(
            provider,
            user_id=user_id,
            organization_id=organization_id,
            error=result.error or "unknown",
        )

    # Cache reads and writes.

    def _lookup(self, keys: CacheKeys) -> dict[str, Any] | None:
        """The entry and both invalidation markers in one round trip; None: cache down."""
        return self._cache_call(
            lambda: self.cache.get_many([keys.token, keys.user_marker, keys.org_marker]), None
        )

    def _read(self, keys: CacheKeys) -> Entry | None:
        """The entry, unless it is missing or older than an invalidation."""
        return valid_entry(self._lookup(keys) or {}, keys)

    def _store(self, keys: CacheKeys, result: TokenResult, fetched_at: float) -> None:
        now = time.time()
        fresh_until, lifetime = self._lifetimes(result, now)
        if lifetime <= 0:
            return
        # Sealed outside the cache call: a bad ENCRYPTION_KEYS must raise, not read as
        # "cache down".
        value = pack(keys.token, Entry(fetched_at, fresh_until, result))
        self._cache_call(lambda: self.cache.set(keys.token, value, math.ceil(lifetime)), None)

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
        rejected: str | None = None,
    ) -> TokenResult:
        """One caller asks WorkOS, the others wait for its answer. ``rejected``: a token
        this call replaces, which no cached entry fetched before it may answer with."""
        started = time.time()
        deadline = started + self.lock_timeout
        owner = f"{os.getpid()}:{uuid.uuid4().hex}"
        while True:
            acquired = self._cache_call(
                lambda: self.cache.add(keys.lock, owner, math.ceil(self.lock_timeout)), True
            )
            if acquired or time.time() >= deadline:
                break
            peer = self._wait_for_peer(provider, user_id, keys, started, deadline, stale, rejected)
            if peer is not None:
                return peer
        try:
            if acquired:
                cached = _answer(self._read(keys), started, rejected)
                if cached is not None:
                    return cached
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
        self,
        provider: str,
        user_id: str,
        keys: CacheKeys,
        started: float,
        deadline: float,
        stale: Entry | None,
        rejected: str | None,
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
            entry = valid_entry(found, keys)
            cached = _answer(entry, started, rejected)
            if cached is not None:
                return cached
            failed_at = found.get(keys.failure)
            if isinstance(failed_at, float) and failed_at >= started:
                exc = PipesUnavailable("WorkOS is unavailable (reported by a concurrent request)")
                fallback = None if rejected is not None else entry or stale
                return self._stale_or_raise(fallback, exc, provider, user_id)
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


def _answer(entry: Entry | None, started: float, rejected: str | None) -> TokenResult | None:
    """The cached answer for a caller that started at ``started``, if there is one: a
    fresh entry, but not the ``rejected`` token unless WorkOS handed it out again since."""
    if entry is None or time.time() >= entry.fresh_until:
        return None
    token = entry.result.access_token
    if rejected is None or token is None or token.access_token != rejected:
        return entry.result
    return entry.result if entry.fetched_at >= started else None


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value


pipes = PipesService()
