"""What a verified WorkOS event means here: parse the envelope, invalidate, send signals.

No HTTP and no cache in this module: :mod:`django_workos_pipes.webhooks` verifies the
request, and claims the event and stores its invalidation in one go through the ledger
(:mod:`django_workos_pipes.caching.ledger`) before sending the signals.

Both pipes families (``pipes.connected_account.*`` and ``pipes.account_connection.*``)
name the same changes, and are handled alike:

- ``connected``, ``disconnected``, ``reauthorization_needed``: the connection changed.
  With a ``user_id``, that user's cached answers for (provider, organization) are
  forgotten, tokens and credentials of every one of their accounts alike (accounts are
  not invalidated one by one: the data's ``id``, the account, is passed on to the
  signal); with ``user_id: null`` (an organization's connection), every cached answer
  under that organization. The user's (or the organization's) listing goes too.
- ``connection_failed``, ``add_failed``: an attempt failed; nothing is invalidated, since
  the connection, active or not, is as it was. Receivers get the error code and reason.

A later event type of either family is handled like ``connected`` when its data is a
connected account, and ignored otherwise.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from . import wire
from .masking import mask_id
from .signals import connection_changed, webhook_received

logger = logging.getLogger(__name__)

PIPES_EVENT_TYPES = wire.PIPES_EVENT_TYPES

Event = dict[str, Any]


class EnvelopeError(ValueError):
    """The body is not a WorkOS event envelope; the message is a short, safe reason."""


@dataclass(frozen=True)
class ConnectionChange:
    """The connection a pipes event is about: whose cached answers to forget, or, for a
    failed attempt (``error_code`` set), whose attempt failed and why."""

    provider: str
    user_id: str | None
    organization_id: str | None
    connected_account_id: str | None = None
    error_code: str | None = None
    error_reason: str | None = None

    @property
    def failed(self) -> bool:
        """A failed attempt: it changed no connection, so it invalidates nothing."""
        return self.error_code is not None


def parse_event(payload: bytes) -> Event:
    """The envelope ``{"object": "event", "id", "event", "data", ...}`` in ``payload``.

    Raises :class:`EnvelopeError` for anything else, including bodies that are not
    UTF-8 or nest too deeply for the JSON parser.
    """
    try:
        event = json.loads(payload.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise EnvelopeError("body is not UTF-8 JSON") from None
    if not isinstance(event, dict) or event.get("object") != "event":
        raise EnvelopeError("body is not an event object")
    if not isinstance(event.get("id"), str) or not event["id"]:
        raise EnvelopeError("event has no id")
    if not isinstance(event.get("event"), str) or not event["event"]:
        raise EnvelopeError("event has no type")
    if not isinstance(event.get("data"), dict):
        raise EnvelopeError("event has no data object")
    return event


def connection_change(event: Event) -> ConnectionChange | None:
    """The connection a pipes event names, or None (other event types, unusable data).

    A verified event whose data can't be used is logged and otherwise ignored: WorkOS
    sent it, so refusing it would only make WorkOS retry the same body.
    """
    data: dict[str, Any] = event["data"]
    change = wire.event_change(event["event"])
    failed = change in wire.FAILED_CHANGES or data.get("object") == "connection_failed"
    if change is None or (
        event["event"] not in PIPES_EVENT_TYPES
        and not failed
        and data.get("object") != "connected_account"
    ):
        return None
    provider = data.get("provider_slug")
    user_id = data.get("user_id")
    organization_id = data.get("organization_id")
    ids_usable = all(
        value is None or isinstance(value, str) for value in (user_id, organization_id)
    )
    if not wire.is_provider_slug(provider) or not ids_usable:
        logger.warning(
            "WorkOS event %s (%s) has no usable provider_slug, user_id or organization_id; "
            "nothing invalidated.",
            event["id"],
            event["event"],
        )
        return None
    # An empty string names nobody, like null.
    if failed:
        return ConnectionChange(
            provider,
            user_id or None,
            organization_id or None,
            error_code=_text(data.get("error_code")) or "unknown",
            error_reason=_text(data.get("error_reason")),
        )
    account_id = _text(data.get("id"))
    return ConnectionChange(provider, user_id or None, organization_id or None, account_id)


def _text(value: Any) -> str | None:
    """A string field of the data; None when absent, empty or of another type."""
    return value if isinstance(value, str) and value else None


def log_change(event: Event, change: ConnectionChange) -> None:
    """One line per handled pipes event: what it invalidated, or the attempt that failed."""
    if change.failed:
        logger.info(
            "WorkOS event %s (%s): attempt failed provider=%s user=%s organization=%s "
            "error_code=%s; nothing invalidated",
            event["id"],
            event["event"],
            change.provider,
            mask_id(change.user_id),
            mask_id(change.organization_id),
            change.error_code,
        )
        return
    logger.info(
        "WorkOS event %s (%s): invalidated provider=%s user=%s organization=%s account=%s",
        event["id"],
        event["event"],
        change.provider,
        mask_id(change.user_id),
        mask_id(change.organization_id),
        mask_id(change.connected_account_id),
    )


def send_signals(
    event: Event, payload: bytes, change: ConnectionChange | None, *, sender: Any
) -> None:
    """``webhook_received`` for every event, then ``connection_changed`` for a pipes one
    (after its invalidation, so a receiver reading the connection gets the new state).
    Exceptions from receivers propagate: the caller answers 500 and WorkOS delivers the
    event again."""
    webhook_received.send(sender=sender, event=event, payload=payload)
    if change is not None:
        connection_changed.send(
            sender=sender,
            provider=change.provider,
            user_id=change.user_id,
            organization_id=change.organization_id,
            event_type=event["event"],
            event=event,
            connected_account_id=change.connected_account_id,
            error_code=change.error_code,
            error_reason=change.error_reason,
        )
