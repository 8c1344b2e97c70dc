"""Signed webhook deliveries, sent from a background thread.

Delivery must never break the emulator: each event is tried a few times with a short
timeout, failures are logged and recorded, and the caller may wait for a delivery
(bounded) when it needs the receiver to have seen it, e.g. before a redirect.

Sent with ``http.client``, so the emulator needs nothing beyond the standard library.
Not ``urllib.request``: it rewrites header names (``Workos-Signature``), and a webhook
should arrive with the header exactly as WorkOS spells it.
"""

from __future__ import annotations

import http.client
import json
import logging
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

from .. import signatures

logger = logging.getLogger("django_workos_pipes.emulator")

ATTEMPTS = 3
TIMEOUT = 3.0
BACKOFF: Sequence[float] = (0.1, 0.3)


@dataclass
class Delivery:
    """One event on its way to the webhook URL, and how that went."""

    event: dict[str, Any]
    url: str
    body: bytes
    attempts: int = 0
    status: int | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.event["id"],
            "event": self.event["event"],
            "url": self.url,
            "attempts": self.attempts,
            "status": self.status,
            "error": self.error,
            "delivered": self.delivered,
            "done": self.done.is_set(),
        }


class WebhookSender:
    """Sends events, in order, to one URL, signed with one secret."""

    def __init__(self, url: str, secret: str, *, timeout: float = TIMEOUT) -> None:
        self._target = _http_url(url)
        self.url = url
        self._secret = secret
        self._timeout = timeout
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._worker: threading.Thread | None = None

    def send(self, event: dict[str, Any]) -> Delivery:
        """Queue ``event`` and return at once; ``Delivery.done`` is set when it is over."""
        body = json.dumps(event, separators=(",", ":")).encode("utf-8")
        delivery = Delivery(event=event, url=self.url, body=body)
        with self._lock:
            self._pending += 1
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._run, name="workos-emulator-webhooks", daemon=True
                )
                self._worker.start()
        self._queue.put(delivery)
        return delivery

    def wait(self, timeout: float) -> bool:
        """Wait until every queued event is delivered or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, timeout: float = 1.0) -> None:
        """Stop the worker after what is already queued (waiting at most ``timeout``)."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            self._queue.put(None)
            worker.join(timeout)

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            try:
                self._deliver(delivery)
            except Exception:  # never let one bad delivery stop the worker
                logger.exception("webhook delivery of %s failed", delivery.event.get("id"))
            finally:
                delivery.done.set()
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def _deliver(self, delivery: Delivery) -> None:
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(BACKOFF[min(attempt - 1, len(BACKOFF) - 1)])
            delivery.attempts = attempt + 1
            if self._attempt(delivery):
                return
        logger.warning(
            "webhook %s (%s) not delivered to %s after %d attempts: %s",
            delivery.event["event"],
            delivery.event["id"],
            self.url,
            delivery.attempts,
            delivery.error,
        )

    def _attempt(self, delivery: Delivery) -> bool:
        # Signed afresh on each attempt, like WorkOS: a retry carries a new timestamp.
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "WorkOS-Pipes-Emulator",
            signatures.HEADER: signatures.sign(delivery.body, self._secret),
        }
        try:
            delivery.status = _post(self._target, delivery.body, headers, self._timeout)
        except (OSError, http.client.HTTPException) as exc:
            delivery.status, delivery.error = None, type(exc).__name__
            return False
        delivery.error = None if delivery.delivered else f"HTTP {delivery.status}"
        return delivery.delivered


def _http_url(url: str) -> SplitResult:
    """``url``, split, once it is known to be an http(s) URL a delivery can go to."""
    target = urlsplit(url)
    try:
        valid = target.scheme in ("http", "https") and bool(target.hostname) and target.port != 0
    except ValueError:  # a port that is not a number from 0 to 65535
        valid = False
    if not valid:
        raise ValueError(f"the webhook URL must be an http:// or https:// URL, not {url!r}")
    return target


def _post(target: SplitResult, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body`` and return the answer's status.

    Straight to the receiver: no proxy (a local tool talks to a local app) and no
    redirect followed (a redirect is an answer, and not a 2xx one).
    """
    connection_class = (
        http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(target.hostname or "", target.port, timeout=timeout)
    path = target.path or "/"
    try:
        connection.request(
            "POST", f"{path}?{target.query}" if target.query else path, body, headers
        )
        return connection.getresponse().status
    finally:
        connection.close()
