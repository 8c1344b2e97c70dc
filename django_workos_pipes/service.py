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

import contextlib
import hashlib
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.core.cache import BaseCache, caches

from . import wire
from .caching.backends import install_hint
from .caching.entries import Entry, valid_entry
from .caching.keys import CacheKeys, link_key, organization_marker
from .conf import app_settings
from .exceptions import LinkRefused, PipesAPIError, PipesUnavailable
from .masking import mask_id
from .results import TokenResult
from .workos.protocol import WorkOSClient

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

    # Linking the site's own users and organizations to WorkOS's.

    def link_user(
        self,
        external_id: str,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        provision: bool | None = None,
    ) -> str:
        """The id of the WorkOS user whose ``external_id`` is ``external_id``.

        When there is none and ``provision`` (default: ``PROVISION_USERS``) is on, the
        user is created with this ``external_id``, e-mail and names. The link is cached
        for ``USER_LINK_TTL``; a refusal for ``INACTIVE_TTL``. A user is never looked
        up, nor linked, by e-mail: that would hand one person's connections to whoever
        holds the address in WorkOS.

        Raises :class:`LinkRefused` (``not_provisioned``, ``no_email``,
        ``email_not_available``), or :class:`PipesUnavailable` / :class:`PipesAPIError`
        when WorkOS can't answer or refuses the call itself.
        """
        provision = app_settings.PROVISION_USERS if provision is None else provision

        def find() -> str:
            return self._find_or_create_user(external_id, email, first_name, last_name, provision)

        return self._link("u", external_id, find)

    def link_organization(self, external_id: str) -> str:
        """The id of the WorkOS organization whose ``external_id`` is ``external_id``.

        Organizations are never created here: one carries domains, SSO and directory
        settings that someone sets up on purpose. Cached like :meth:`link_user`;
        raises :class:`LinkRefused` (``organization_not_found``) when there is none.
        """

        def find() -> str:
            organization = self.client.get_organization_by_external_id(external_id)
            if organization is None:
                raise LinkRefused("organization_not_found", external_id=external_id)
            return organization.id

        return self._link("g", external_id, find)

    def forget_user_link(self, external_id: str) -> bool:
        """Drop the cached link of ``external_id`` (after changing the WorkOS user's
        ``external_id``, say), in every process. False if the cache can't be written."""
        return self._forget_link("u", external_id)

    def forget_organization_link(self, external_id: str) -> bool:
        """Drop the cached link of an organization's ``external_id``."""
        return self._forget_link("g", external_id)

    def _link(self, kind: str, external_id: str, find: Callable[[], str]) -> str:
        if external_id in ("", ".", ".."):
            raise ValueError(f"{external_id!r} can't be an external_id")
        key = link_key(kind, self._environment(), external_id)
        cached = self._cache_call(lambda: self.cache.get(key), None)
        if isinstance(cached, dict):
            if isinstance(cached.get("id"), str):
                return str(cached["id"])
            if isinstance(cached.get("refused"), str):
                raise LinkRefused(str(cached["refused"]), external_id=external_id)
        try:
            workos_id = find()
        except LinkRefused as refusal:
            _log_refusal(kind, refusal)
            entry = {"refused": refusal.reason}
            ttl = math.ceil(_pick(self._inactive_ttl, app_settings.INACTIVE_TTL))
            self._cache_call(lambda: self.cache.set(key, entry, ttl), None)
            raise
        ttl = math.ceil(app_settings.USER_LINK_TTL)
        self._cache_call(lambda: self.cache.set(key, {"id": workos_id}, ttl), None)
        return workos_id

    def _find_or_create_user(
        self,
        external_id: str,
        email: str | None,
        first_name: str | None,
        last_name: str | None,
        provision: bool,
    ) -> str:
        user = self.client.get_user_by_external_id(external_id)
        if user is not None:
            return user.id
        if not provision:
            raise LinkRefused("not_provisioned", external_id=external_id)
        if not email:
            raise LinkRefused("no_email", external_id=external_id)
        try:
            user = self.client.create_user(
                email=email, external_id=external_id, first_name=first_name, last_name=last_name
            )
        except PipesAPIError as exc:
            if isinstance(exc, PipesUnavailable) or exc.status_code >= 500:
                raise
            # A concurrent request may have created it a moment ago: that user carries
            # this external_id, so it is this site's user and the link is sound.
            user = self.client.get_user_by_external_id(external_id)
            if user is not None:
                return user.id
            if wire.EMAIL_NOT_AVAILABLE in (exc.code, *exc.error_codes):
                raise LinkRefused(
                    wire.EMAIL_NOT_AVAILABLE, external_id=external_id, request_id=exc.request_id
                ) from None
            raise
        return user.id

    def _forget_link(self, kind: str, external_id: str) -> bool:
        key = link_key(kind, self._environment(), external_id)

        def delete() -> bool:
            self.cache.delete(key)
            return True

        return self._cache_call(delete, False)

    def _environment(self) -> str:
        """A digest naming the WorkOS environment (API key and base URL) links belong to."""
        api_key = self._api_key or app_settings.get("API_KEY") or ""
        base_url = self._base_url or app_settings.BASE_URL
        seed = f"{base_url}\n{api_key}".encode()
        return hashlib.blake2b(seed, digest_size=8).hexdigest()

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
        return valid_entry(self._lookup(keys) or {}, keys)

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
            peer = self._wait_for_peer(provider, user_id, keys, started, deadline, stale)
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
        self,
        provider: str,
        user_id: str,
        keys: CacheKeys,
        started: float,
        deadline: float,
        stale: Entry | None,
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
            if entry is not None and time.time() < entry.fresh_until:
                return entry.result
            failed_at = found.get(keys.failure)
            if isinstance(failed_at, float) and failed_at >= started:
                exc = PipesUnavailable("WorkOS is unavailable (reported by a concurrent request)")
                return self._stale_or_raise(entry or stale, exc, provider, user_id)
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
        if isinstance(exc, ImportError):
            # Not an outage: the backend's client library is not installed.
            module = exc.name or "?"
            logger.warning(
                "Cache %r unavailable: its backend needs the %r module, which is not "
                "installed (%s); asking WorkOS directly. Install it: %s",
                self.cache_alias,
                module,
                type(exc).__name__,
                install_hint(module),
            )
            return
        logger.warning(
            "Cache %r unavailable (%s); asking WorkOS directly until it is back.",
            self.cache_alias,
            type(exc).__name__,
        )


LINK_REFUSALS = {
    "not_provisioned": "no WorkOS user has this external_id, and PROVISION_USERS is off: "
    "turn it on, or create the WorkOS user with this external_id",
    "no_email": "the user has no e-mail address, which WorkOS needs to create a user",
    wire.EMAIL_NOT_AVAILABLE: "another WorkOS user already has this user's e-mail address, "
    "and linking by e-mail alone is never done: if that WorkOS user is this person, set its "
    "external_id to this one (WorkOS dashboard, or PUT /user_management/users/{id}); "
    "otherwise change one of the two e-mail addresses",
    "organization_not_found": "no WorkOS organization has this external_id: set it on the "
    "organization in WorkOS (dashboard, or PUT /organizations/{id})",
}


def _log_refusal(kind: str, refusal: LinkRefused) -> None:
    """One warning per refusal decided from WorkOS's answers (cached ones are quiet)."""
    what = "organization" if kind == "g" else "user"
    logger.warning(
        "Not linking %s external_id=%r to WorkOS (%s): %s.%s",
        what,
        refusal.external_id,
        refusal.reason,
        LINK_REFUSALS.get(refusal.reason, "WorkOS refused it"),
        f" request_id={refusal.request_id}" if refusal.request_id else "",
    )


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value


pipes = PipesService()
