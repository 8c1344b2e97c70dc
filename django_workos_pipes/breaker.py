"""A circuit breaker: after a failure, fail fast for a while, then let one call try.

The service keeps two, per process: one around the cache (a frozen Redis then costs one
socket timeout per period, not one per call) and one around WorkOS (an outage then costs
one ``TIMEOUT`` per period, not one per key and per retry). Both recover by themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    """Closed, every call goes through. A failure opens it for ``seconds``: calls are
    refused, so the caller falls back at once. When the period is up the next caller is
    let through as a trial, and the breaker stays refused for another period while the
    trial runs (so one call per period probes, and a trial that never reports can't
    wedge it); a success closes it, a failure opens it again.

    The closed path reads one attribute, without a lock or a clock: it runs on every
    cache hit.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._open_until = 0.0  # 0: closed
        self._period = 0.0
        self.trips = 0
        """How many times a failure opened it (tests and figures read it)."""

    def __repr__(self) -> str:
        return f"CircuitBreaker(state={self.state!r}, trips={self.trips})"

    @property
    def state(self) -> str:
        until = self._open_until
        if not until:
            return CLOSED
        return OPEN if self._clock() < until else HALF_OPEN

    def is_open(self) -> bool:
        """True while calls are refused; asks without taking the trial."""
        return self.state == OPEN

    def allow(self) -> bool:
        """May a call go through now? In the half-open state, True for one caller."""
        if not self._open_until:
            return True
        now = self._clock()
        with self._lock:
            if not self._open_until:
                return True
            if now < self._open_until:
                return False
            self._open_until = now + self._period
            return True

    def failed(self, seconds: float) -> None:
        """A call failed: refuse calls for ``seconds`` (none when ``seconds`` <= 0)."""
        if seconds <= 0:
            return
        with self._lock:
            self._period = seconds
            self._open_until = self._clock() + seconds
            self.trips += 1

    def succeeded(self) -> None:
        if self._open_until:
            self.reset()

    def reset(self) -> None:
        with self._lock:
            self._open_until = 0.0
