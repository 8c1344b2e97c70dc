"""The service's two dependencies, each behind a circuit breaker, so neither failing
takes a request down with it:

- the cache is an optimisation, never a dependency: an operation that raises is logged
  (at most every 30 s), and the cache is skipped for ``CACHE_BREAKER_SECONDS``;
- WorkOS failing opens its breaker here and, through the cache, in every process: for
  ``WORKOS_BREAKER_SECONDS`` every lookup that needs it fails fast.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from django.core.cache import BaseCache

from .breaker import CircuitBreaker
from .caching.backends import install_hint
from .caching.keys import WORKOS_DOWN
from .conf import app_settings
from .exceptions import LinkRefused, PipesAPIError, PipesUnavailable
from .workos.protocol import WorkOSClient

logger = logging.getLogger("django_workos_pipes.service")

CACHE_WARNING_INTERVAL = 30.0

T = TypeVar("T")
D = TypeVar("D")


class Guarded(Protocol):
    """The service, as its guards read it: at each call, since settings change its cache
    and tests swap its breakers (and its client) for their own."""

    cache_breaker: CircuitBreaker
    workos_breaker: CircuitBreaker
    _client: WorkOSClient | None

    @property
    def cache(self) -> BaseCache: ...

    @property
    def cache_alias(self) -> str: ...


class CacheGuard:
    """Runs cache operations so that a failing backend reads as "no cache"."""

    def __init__(self, service: Guarded) -> None:
        self._service = service
        self._last_warning = 0.0
        self._warning_lock = threading.Lock()

    def call(self, call: Callable[[BaseCache], T], default: D) -> T | D:
        """Run a cache operation; if the backend fails, warn, open the breaker and return
        ``default`` so the caller carries on without it. While the breaker is open,
        return ``default`` at once."""
        cache = self._service.cache
        breaker = self._service.cache_breaker
        if not breaker.allow():
            return default
        try:
            value = call(cache)
        except Exception as exc:  # any backend error means "no cache"
            breaker.failed(app_settings.CACHE_BREAKER_SECONDS)
            self._warn(exc)
            return default
        breaker.succeeded()
        return value

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        with self._warning_lock:
            if now - self._last_warning < CACHE_WARNING_INTERVAL:
                return
            self._last_warning = now
        if isinstance(exc, ImportError):
            # Not an outage: the backend's client library is not installed.
            module = exc.name or "?"
            logger.warning(
                "Cache %r unavailable: its backend needs the %r module, which is not "
                "installed (%s); asking WorkOS directly. Install it: %s",
                self._service.cache_alias,
                module,
                type(exc).__name__,
                install_hint(module),
            )
            return
        logger.warning(
            "Cache %r unavailable (%s); asking WorkOS directly until it is back.",
            self._service.cache_alias,
            type(exc).__name__,
        )


class WorkOSGuard:
    """Calls WorkOS through its breaker, shared with other processes through the cache.

    ``active`` says whether the breaker is in use: not for a client given to the service
    (a test double such as ``PipesFake``, whose outages are declared per connection).
    """

    def __init__(self, service: Guarded, cache: CacheGuard) -> None:
        self._service = service
        self._cache = cache

    @property
    def active(self) -> bool:
        return self._service._client is None and app_settings.WORKOS_BREAKER_SECONDS > 0

    def call(self, call: Callable[[], T]) -> T:
        """Refused at once while the breaker is open; a failure opens it here and, through
        the cache, in every process."""
        if not self.active:
            return call()
        breaker = self._service.workos_breaker
        if not breaker.allow():
            raise circuit_open()
        try:
            result = call()
        except PipesUnavailable:
            self._failed()
            raise
        except (PipesAPIError, LinkRefused):  # a refusal is an answer: WorkOS is up
            breaker.succeeded()
            raise
        breaker.succeeded()
        return result

    def check(self, workos_down: bool) -> None:
        """Raise at once, instead of asking WorkOS, while it failed moments ago (here, or
        in any process sharing the cache: ``workos_down``, its key was read)."""
        if self.active and (workos_down or self._service.workos_breaker.is_open()):
            raise circuit_open()

    def _failed(self) -> None:
        seconds = app_settings.WORKOS_BREAKER_SECONDS
        self._service.workos_breaker.failed(seconds)
        self._cache.call(lambda cache: cache.set(WORKOS_DOWN, 1, math.ceil(seconds)), None)
        logger.warning(
            "WorkOS unavailable: lookups that need it fail fast for %s s (serving cached "
            "tokens that have not expired), then one call tries again.",
            seconds,
        )


def circuit_open() -> PipesUnavailable:
    return PipesUnavailable(
        "WorkOS is unavailable (it failed moments ago; the circuit breaker is open)"
    )
