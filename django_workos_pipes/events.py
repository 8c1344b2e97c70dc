"""What a verified WorkOS event means here: parse the envelope, name the connection it
changes, send the signals.

No HTTP and no cache in this module: :mod:`django_workos_pipes.webhooks` verifies the
request, and claims the event and stores its invalidation in one go through the ledger
(:mod:`django_workos_pipes.caching.ledger`) before sending the signals.
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

PIPES_EVENT_TYPES = frozenset(wire.CONNECTED_ACCOUNT_EVENTS.values())

Event = dict[str, Any]


class EnvelopeError(ValueError):
    """The body is not a WorkOS event envelope; the message is a short, safe reason."""


@dataclass(frozen=True)
class ConnectionChange:
    """The connection a pipes event is about: whose cached token to forget."""

    provider: str
    user_id: str | None
    organization_id: str | None


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
    if event["event"] not in PIPES_EVENT_TYPES:
        return None
    data: dict[str, Any] = event["data"]
    provider = data.get("provider_slug")
    user_id = data.get("user_id")
    organization_id = data.get("organization_id")
    ids_usable = all(
        value is None or isinstance(value, str) for value in (user_id, organization_id)
    )
    if not isinstance(provider, str) or not provider or not ids_usable:
        logger.warning(
            "WorkOS event %s (%s) has no usable provider_slug, user_id or organization_id; "
            "nothing invalidated.",
            event["id"],
            event["event"],
        )
        return None
    # An empty string names nobody, like null.
    return ConnectionChange(provider, user_id or None, organization_id or None)


def log_invalidated(event: Event, change: ConnectionChange) -> None:
    logger.info(
        "WorkOS event %s (%s): invalidated provider=%s user=%s organization=%s",
        event["id"],
        event["event"],
        change.provider,
        mask_id(change.user_id),
        mask_id(change.organization_id),
    )


def send_signals(
    event: Event, payload: bytes, change: ConnectionChange | None, *, sender: Any
) -> None:
    """``webhook_received`` for every event, then ``connection_changed`` for a pipes one."""
    webhook_received.send(sender=sender, event=event, payload=payload)
    if change is not None:
        connection_changed.send(
            sender=sender,
            provider=change.provider,
            user_id=change.user_id,
            organization_id=change.organization_id,
            event_type=event["event"],
            event=event,
        )
