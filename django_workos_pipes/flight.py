"""Cached answers with single flight: what :class:`~.service.PipesService` reads through.

- one upstream call per cache key until the answer nears its ``expires_at``, its
  ``TOKEN_TTL`` passes, or it is invalidated;
- single flight: on a miss, the caller that wins ``cache.add`` of a lock calls WorkOS,
  the others poll the cache for its answer (or its failure) instead of calling too;
- invalidation replaces a generation (:mod:`.caching.generations`), with no clock
  involved: an entry is served only under the generations read before its fetch. A read
  fetches the entry, both generations and the shared WorkOS breaker in one ``get_many``;
- when WorkOS is unavailable, a cached answer that has not yet expired is served;
- a renewal (a token the provider refused) goes through the same single flight and is
  never answered with the refused token from the cache.

Nothing here knows which WorkOS call a :class:`Fetch` makes: the service builds it.
"""

from __future__ import annotations

import enum
import logging
import math
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic

from django.core.cache import BaseCache

from .caching.entries import FAILURE_TTL, Entry, Failure, Generations, R, pack, valid_entry
from .caching.generations import GENERATION_TTL, generation, new_generation
from .caching.keys import WORKOS_DOWN, CacheKeys, ListingKeys
from .caching.listings import ListingEntry, valid_listing
from .exceptions import PipesAPIError, PipesUnavailable
from .guards import CacheGuard, WorkOSGuard
from .masking import mask_id
from .results import AccessToken, Connection, Credential, CredentialResult, TokenResult

logger = logging.getLogger("django_workos_pipes.service")  # the service's, as before

# How long an entry may be kept for stale-if-error (a token without an expiry too).
MAX_ENTRY_LIFETIME = 86400.0
POLL_START, POLL_MAX = 0.01, 0.1


@dataclass(frozen=True)
class Fetch(Generic[R]):
    """One cached answer: its keys, the WorkOS call that fetches it, and what it is.
    Nothing secret: it may be a variable of a frame an error page shows."""

    keys: CacheKeys
    call: Callable[[], R]
    kind: type[R]
    provider: str
    user_id: str | None

    @property
    def what(self) -> str:
        return "token" if self.kind is TokenResult else "credential"


@dataclass(frozen=True)
class Read(Generic[R]):
    """One read of an answer (one ``get_many``): the valid entry, if any, the
    generations found, and whether the WorkOS breaker's key was there. Holds no raw
    cached value (the entry's ``repr`` masks the secret)."""

    entry: Entry[R] | None
    generations: tuple[Any, Any]
    workos_down: bool


@dataclass(frozen=True)
class Renewal:
    """A token the provider refused, and the fetch it came from (None: not cached)."""

    rejected: str
    seen_fetch: int | None


class _CacheDown(enum.Enum):
    CACHE_DOWN = enum.auto()


CACHE_DOWN = _CacheDown.CACHE_DOWN


@dataclass(frozen=True)
class Timing:
    """The service's durations, resolved (from its arguments or settings) for one call."""

    lock_timeout: float
    token_ttl: float
    inactive_ttl: float
    expiry_leeway: float
    connections_ttl: float


class SingleFlight:
    """Reads and writes cached answers, asking WorkOS (through ``workos``) at most once
    per key at a time; ``timing`` is read when a duration is needed."""

    def __init__(
        self, cache: CacheGuard, workos: WorkOSGuard, timing: Callable[[], Timing]
    ) -> None:
        self._cache = cache.call
        self._workos = workos
        self._timing = timing

    def get(self, fetch: Fetch[R]) -> R:
        """The answer from the cache while it is fresh, else from WorkOS (single flight),
        else, while WorkOS is down, a cached one that has not yet expired."""
        read = self.read(fetch)
        if read is CACHE_DOWN:
            # The cache is down: ask WorkOS directly. Taking the lock and storing the
            # answer would each wait for the cache's timeout again, for nothing.
            return fetch.call()
        cached = read.entry
        if cached is not None and time.time() < cached.fresh_until:
            return cached.result
        try:
            self._workos.check(read.workos_down)
            return self._refresh(fetch)
        except PipesUnavailable as exc:
            stale = _stale_result(cached, exc, fetch)
            if stale is None:
                raise
            return stale
        finally:
            # Django's DEBUG page and error e-mails print the variables of every frame
            # an exception leaves: the cached secret must be in none of them. The frames
            # below hold no entry either.
            del cached, read

    def renew(self, fetch: Fetch[R], rejected: str) -> R:
        """A fresh answer that does not hand out ``rejected`` again, unless a fetch other
        than the one it came from did (then WorkOS has nothing better)."""
        read = self.read(fetch)
        if read is CACHE_DOWN:  # The cache is down: ask WorkOS directly.
            return fetch.call()
        seen = read.entry.fetch_id if read.entry is not None else None
        renewal = Renewal(rejected, seen)
        answer = _answer(read.entry, renewal)
        if answer is None:
            self._workos.check(read.workos_down)
        del read  # the cached secret must be in no frame an error page shows
        return answer or self._refresh(fetch, renewal)

    def read(self, fetch: Fetch[R]) -> Read[R] | _CacheDown:
        """The entry (unless it is missing or a generation changed since its fetch), both
        generations and the WorkOS breaker's key, in one round trip."""
        keys = fetch.keys
        found = self._cache(lambda cache: cache.get_many(keys.lookup), None)
        if found is None:
            return CACHE_DOWN
        generations = (found.get(keys.user_generation), found.get(keys.org_generation))
        return Read(valid_entry(found, keys, fetch.kind), generations, WORKOS_DOWN in found)

    def listing(
        self, keys: ListingKeys, fetch: Callable[[], tuple[Connection, ...]], whose: str
    ) -> tuple[Connection, ...]:
        """A listing through the cache: a fresh entry, else WorkOS, else (WorkOS down)
        an entry nothing has invalidated."""
        wanted = [keys.listing, keys.user_generation, keys.org_generation]
        found = self._cache(lambda cache: cache.get_many(wanted), None)
        if found is None:  # the cache is down: ask WorkOS directly
            return self._workos.call(fetch)
        entry = valid_listing(found, keys)
        if entry is not None and time.time() < entry.fresh_until:
            return entry.connections
        generations = self._generations(
            (keys.user_generation, keys.org_generation),
            (found.get(keys.user_generation), found.get(keys.org_generation)),
        )
        try:
            connections = self._workos.call(fetch)
        except PipesUnavailable as exc:
            if entry is None:
                raise
            logger.warning(
                "WorkOS unavailable (%s); serving the cached connections of %s", exc, whose
            )
            return entry.connections
        if generations is not None:
            self._store_listing(keys, connections, generations)
        return connections

    def new_generations(self, keys: tuple[str, ...]) -> bool:
        """Invalidate: one write (a ``set_many``) of new random generations, which makes
        every entry fetched under the old ones invalid (they are left to expire). False
        when the cache could not be written."""

        def write(cache: BaseCache) -> bool:
            failed = cache.set_many({key: new_generation() for key in keys}, GENERATION_TTL)
            return not failed

        return self._cache(write, False)

    # Single flight.

    def _refresh(self, fetch: Fetch[R], renewal: Renewal | None = None) -> R:
        """One caller asks WorkOS, the others wait for its answer (or its failure).
        ``renewal``: a token this call replaces, which no cached entry from the same
        fetch may answer with."""
        keys = fetch.keys
        lock_timeout = self._timing().lock_timeout
        started = time.time()
        deadline = started + lock_timeout
        owner = f"{os.getpid()}:{uuid.uuid4().hex}"
        while True:
            acquired = self._cache(
                lambda cache: cache.add(keys.lock, owner, math.ceil(lock_timeout)), True
            )
            if acquired or time.time() >= deadline:
                break
            peer = self._wait_for_peer(fetch, started, deadline, renewal)
            if peer is not None:
                return peer
        try:
            # Read again, under the lock: a peer may just have stored the answer, and
            # the generations to record must be read before the fetch.
            read = self.read(fetch)
            generations = None
            if not isinstance(read, _CacheDown):
                fresh = _answer(read.entry, renewal)
                if fresh is not None:
                    return fresh
                self._workos.check(read.workos_down)
                generations = self._generations(
                    (keys.user_generation, keys.org_generation), read.generations
                )
            del read
            return self._fetch(fetch, generations)
        finally:
            if acquired:
                self._cache(lambda cache: cache.delete(keys.lock), None)

    def _fetch(self, fetch: Fetch[R], generations: Generations | None) -> R:
        """Ask WorkOS and store the answer under ``generations`` (not at all without
        them: nothing would tell whether an invalidation came first); a failure, outage
        or refusal, is left in the cache for the requests waiting on the lock, so they
        don't ask in turn."""
        try:
            result = fetch.call()
        except (PipesUnavailable, PipesAPIError) as exc:
            failure = Failure.of(exc, time.time()).encode()
            key = fetch.keys.failure
            self._cache(lambda cache: cache.set(key, failure, FAILURE_TTL), None)
            raise
        if generations is not None:
            self._store(fetch.keys, result, generations)
        return result

    def _wait_for_peer(
        self, fetch: Fetch[R], started: float, deadline: float, renewal: Renewal | None
    ) -> R | None:
        """Poll while another caller holds the lock.

        Returns its answer; raises its failure; returns None when the lock is gone with
        no answer (or the cache fails), so the caller tries to take it.
        """
        interval = POLL_START
        while time.time() < deadline:
            time.sleep(interval)
            interval = min(interval * 1.5, POLL_MAX)
            seen = self._peek(fetch, started, renewal)
            if isinstance(seen, Failure):
                raise seen.error()
            if seen is False:
                return None
            if seen is not True:
                return seen
        return None

    def _peek(self, fetch: Fetch[R], started: float, renewal: Renewal | None) -> R | Failure | bool:
        """What the lock holder left since ``started``: its fresh answer, its failure (or
        the WorkOS breaker's key, an outage seen anywhere), or whether it still holds the
        lock (False too when the cache fails)."""
        keys = fetch.keys
        wanted = [*keys.lookup, keys.lock, keys.failure]
        found = self._cache(lambda cache: cache.get_many(wanted), None)
        if found is None:
            return False
        answer = _answer(valid_entry(found, keys, fetch.kind), renewal)
        if answer is not None:
            return answer
        failure = Failure.decode(found.get(keys.failure))
        if failure is not None and failure.failed_at >= started:
            return failure
        if WORKOS_DOWN in found and self._workos.active:
            return Failure(started)
        return keys.lock in found

    # Cache writes.

    def _store(
        self, keys: CacheKeys, result: TokenResult | CredentialResult, generations: Generations
    ) -> None:
        fresh_until, lifetime = self._lifetimes(result, time.time())
        if lifetime <= 0:
            return
        # Sealed outside the cache call: a bad ENCRYPTION_KEYS must raise, not read as
        # "cache down".
        value = pack(keys.token, Entry(generations, fresh_until, result, new_generation()))
        self._cache(lambda cache: cache.set(keys.token, value, math.ceil(lifetime)), None)

    def _store_listing(
        self, keys: ListingKeys, connections: tuple[Connection, ...], generations: Generations
    ) -> None:
        """Keep the listing fresh for ``CONNECTIONS_TTL``, and in the cache for a day, to
        be served while WorkOS is unavailable."""
        ttl = min(self._timing().connections_ttl, MAX_ENTRY_LIFETIME)
        if ttl <= 0:
            return
        value = ListingEntry(generations, time.time() + ttl, connections).encode()
        lifetime = math.ceil(MAX_ENTRY_LIFETIME)
        self._cache(lambda cache: cache.set(keys.listing, value, lifetime), None)

    def _lifetimes(self, result: TokenResult | CredentialResult, now: float) -> tuple[float, float]:
        """(fresh until, seconds to keep) for an answer received at ``now``.

        A token (or credential) stays in the cache until it really expires, so it can be
        served if WorkOS goes down, but it is only fresh until ``EXPIRY_LEEWAY`` before
        that, and for ``TOKEN_TTL`` at most.
        """
        timing = self._timing()
        token = result.granted
        if token is None:
            return now + timing.inactive_ttl, timing.inactive_ttl
        ttl = timing.token_ttl
        if token.expires_at is None:
            return now + ttl, max(ttl, MAX_ENTRY_LIFETIME)
        remaining = token.expires_at.timestamp() - now
        # A token that already lives less than the leeway is still worth half its life.
        fresh = min(max(remaining - timing.expiry_leeway, remaining / 2), ttl)
        return now + fresh, min(remaining, MAX_ENTRY_LIFETIME)

    def _generations(self, keys: tuple[str, str], found: tuple[Any, Any]) -> Generations | None:
        """The generations to record in an entry about to be fetched, read before the
        fetch (``found``); a missing one is started. None when the cache can't tell."""
        values = []
        for key, value in zip(keys, found, strict=True):
            current = generation(value)
            if current is None and (current := self._start(key)) is None:
                return None
            values.append(current)
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

        return self._cache(start, None)


def _answer(entry: Entry[R] | None, renewal: Renewal | None) -> R | None:
    """The cached answer, if there is one: a fresh entry, but for a renewal not the
    rejected token, unless a fetch other than the one it came from handed it out again."""
    if entry is None or time.time() >= entry.fresh_until:
        return None
    granted = entry.result.granted
    if renewal is None or granted is None or _secret(granted) != renewal.rejected:
        return entry.result
    return entry.result if entry.fetch_id != renewal.seen_fetch else None


def _secret(granted: AccessToken | Credential) -> str:
    return granted.access_token if isinstance(granted, AccessToken) else granted.value


def _stale_result(cached: Entry[R] | None, exc: PipesUnavailable, fetch: Fetch[R]) -> R | None:
    """Stale-if-error: the cached result if its token has not yet expired (logged)."""
    if cached is None or not cached.usable_when_unavailable(time.time()):
        return None
    logger.warning(
        "WorkOS unavailable (%s); serving the cached %s for provider=%s user=%s",
        exc,
        fetch.what,
        fetch.provider,
        mask_id(fetch.user_id),
    )
    return cached.result
