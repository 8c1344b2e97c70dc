"""The webhook's ledger: each WorkOS event is handled once, whatever its deliveries.

WorkOS delivers an event at least once, and retries while it gets no 2xx; the event
id is the idempotency key.
"""

from __future__ import annotations

import enum
import logging
import math

from django.core.cache import BaseCache

from .keys import event_key

logger = logging.getLogger(__name__)

IDEMPOTENCY_TTL = 7 * 86400
"""How long a handled event id is remembered: well past WorkOS's retry window."""

CLAIM_TIMEOUT = 60
"""How long one delivery may hold an event id while handling it. A process that dies
mid-handling blocks redeliveries of that id no longer than this."""

HANDLED = "handled"
PROCESSING = "processing"


class Claim(enum.Enum):
    """What the ledger says about an event id when a delivery arrives."""

    NEW = "new"
    HANDLED = "handled"
    IN_PROGRESS = "in progress"


class EventLedger:
    """Remembers, in the shared cache, which event ids are handled or being handled.

    One key per event id holds ``"processing"`` (added with ``cache.add``, so of two
    concurrent deliveries only one handles the event) and then ``"handled"``. The cache
    is an optimisation here too: when it fails, events are handled without the duplicate
    check, since invalidating a token twice is harmless and missing an invalidation is
    not (an invalidation the cache can't store is answered 503, to be delivered again).
    """

    def __init__(self, cache: BaseCache, *, ttl: float, claim_timeout: float) -> None:
        self.cache = cache
        self.ttl = ttl
        self.claim_timeout = claim_timeout

    key = staticmethod(event_key)

    def claim(self, event_id: str) -> Claim:
        key = self.key(event_id)
        try:
            if self.cache.add(key, PROCESSING, math.ceil(self.claim_timeout)):
                return Claim.NEW
            state = self.cache.get(key)
        except Exception as exc:  # any backend error means "no cache"
            self._warn(exc, event_id, "handling it without a duplicate check")
            return Claim.NEW
        # A claim that vanished between add and get was released by a failed delivery;
        # answering "in progress" makes WorkOS retry it.
        return Claim.HANDLED if state == HANDLED else Claim.IN_PROGRESS

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
