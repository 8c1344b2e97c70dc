"""The webhook's ledger: each WorkOS event is handled once, whatever its deliveries.

WorkOS delivers an event at least once, and retries while it gets no 2xx; the event
id is the idempotency key.

A delivery costs two round trips with Redis: a short Lua script claims the event id and,
only if the claim is new, writes the event's invalidation, atomically; the "handled"
mark follows once the signals have run. A repeated delivery therefore invalidates
nothing again. (Writing the invalidation unconditionally beside the claim would be one
round trip too, but would make every duplicate cost its connection a refetch.) Other
backends make the same calls through Django's cache API, one round trip each.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Sequence

from django.core.cache import BaseCache

from .generations import GENERATION_TTL, new_generation
from .keys import event_key
from .redis import redis_client

logger = logging.getLogger(__name__)

IDEMPOTENCY_TTL = 7 * 86400
"""How long a handled event id is remembered: well past WorkOS's retry window."""

CLAIM_TIMEOUT = 60
"""How long one delivery may hold an event id while handling it. A process that dies
mid-handling blocks redeliveries of that id no longer than this."""

# Integers, which every backend stores as they are: the Redis script writes them raw
# and Django's cache API reads them back unchanged.
PROCESSING = 1
HANDLED = 2


CLAIM_SCRIPT = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  for i = 2, #KEYS do redis.call('SET', KEYS[i], ARGV[i + 2], 'EX', ARGV[3]) end
  return -1
end
return redis.call('GET', KEYS[1]) or 0
"""
"""Claim KEYS[1]; if the claim is new, write the generations KEYS[2..] (values ARGV[4..],
kept ARGV[3] seconds) and answer -1, else answer the claim's state."""


class Claim(enum.Enum):
    """What the ledger says about an event id when a delivery arrives."""

    NEW = "new"
    HANDLED = "handled"
    IN_PROGRESS = "in progress"


class EventLedger:
    """Remembers, in the shared cache, which event ids are handled or being handled.

    One key per event id holds ``PROCESSING`` (added only if absent, so of two
    concurrent deliveries only one handles the event) and then ``HANDLED``. The cache
    is an optimisation here too: when it fails, an event that needs no invalidation is
    handled without the duplicate check (sending its signals twice is the lesser harm),
    while one whose invalidation could not be stored is refused, to be delivered again.
    """

    def __init__(self, cache: BaseCache, *, ttl: float, claim_timeout: float) -> None:
        self.cache = cache
        self.ttl = ttl
        self.claim_timeout = claim_timeout

    key = staticmethod(event_key)

    def claim(self, event_id: str, *, invalidate: Sequence[str] = ()) -> tuple[Claim, bool]:
        """Claim the event id and, if the claim is new, write new generations at the
        keys ``invalidate`` (the event's invalidation, if it has one).

        Returns the claim, and whether the invalidation was stored (True when none was
        asked). When the cache fails: ``NEW`` (no duplicate check), and False if an
        invalidation was asked.
        """
        try:
            state = self._claim(self.key(event_id), invalidate)
        except Exception as exc:  # any backend error means "no cache"
            if invalidate:
                self._warn(exc, event_id, "its invalidation is not stored")
                return Claim.NEW, False
            self._warn(exc, event_id, "handling it without a duplicate check")
            return Claim.NEW, True
        if state is None:
            return Claim.NEW, True
        # A claim that vanished between the add and the read was released by a failed
        # delivery; answering "in progress" makes WorkOS retry it.
        return (Claim.HANDLED if state == HANDLED else Claim.IN_PROGRESS), True

    def _claim(self, key: str, invalidate: Sequence[str]) -> int | None:
        """None if the claim is ours, else the state found (an int; 0 for nothing)."""
        timeout = math.ceil(self.claim_timeout)
        redis = redis_client(self.cache)
        if redis is None:
            if not self.cache.add(key, PROCESSING, timeout):
                return _state(self.cache.get(key))
            if invalidate:
                generations = {name: new_generation() for name in invalidate}
                if self.cache.set_many(generations, GENERATION_TTL):
                    raise RuntimeError("the cache refused the invalidation")
            return None
        client, make_key = redis
        keys = [make_key(key), *(make_key(name) for name in invalidate)]
        values = [new_generation() for _ in invalidate]
        found = client.eval(
            CLAIM_SCRIPT, len(keys), *keys, PROCESSING, timeout, GENERATION_TTL, *values
        )
        return None if found == -1 else _state(found)

    def mark_handled(self, event_id: str) -> None:
        try:
            self.cache.set(self.key(event_id), HANDLED, math.ceil(self.ttl))
        except Exception as exc:  # any backend error means "no cache"
            self._warn(exc, event_id, "a redelivery will be handled again")

    def release(self, event_id: str) -> None:
        try:
            self.cache.delete(self.key(event_id))
        except Exception as exc:  # any backend error means "no cache"
            self._warn(exc, event_id, "its redelivery waits for the claim to expire")

    @staticmethod
    def _warn(exc: Exception, event_id: str, consequence: str) -> None:
        logger.warning(
            "Cache unavailable (%s) for WorkOS event %s: %s.",
            type(exc).__name__,
            event_id,
            consequence,
        )


def _state(value: object) -> int:
    """The ledger state in a cached value (raw bytes from Redis, or an int); 0 for
    anything else."""
    if isinstance(value, bytes) and value.isdigit():
        return int(value)
    return value if type(value) is int else 0
