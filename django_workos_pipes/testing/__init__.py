"""Helpers for testing projects that use django-workos-pipes.

Build a realistic WorkOS event, sign it exactly as WorkOS does, and post it to the
webhook endpoint::

    from django_workos_pipes.testing import post_webhook, webhook_event

    def test_disconnect_forgets_the_token(client):
        event = webhook_event("disconnected", "salesforce", "user_123")
        assert post_webhook(client, event).status_code == 200

Nothing here reads Django settings at import time: the pytest plugin imports this
package before Django is configured.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..signatures import HEADER, sign

if TYPE_CHECKING:
    from django.test import Client

__all__ = ["EVENT_TYPES", "full_event_type", "post_webhook", "sign_webhook", "webhook_event"]

EVENT_TYPES = {
    "connected": "pipes.connected_account.connected",
    "disconnected": "pipes.connected_account.disconnected",
    "reauthorization_needed": "pipes.connected_account.reauthorization_needed",
    "connection_failed": "pipes.connected_account.connection_failed",
}
"""Short names of the pipes event types, as the management command accepts them."""

_STATES = {
    "pipes.connected_account.connected": "connected",
    "pipes.connected_account.disconnected": "disconnected",
    "pipes.connected_account.reauthorization_needed": "needs_reauthorization",
}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def sign_webhook(body: bytes, secret: str, timestamp: float | None = None) -> str:
    """The ``WorkOS-Signature`` header value for ``body``; ``timestamp`` in seconds."""
    return sign(body, secret, timestamp)


def full_event_type(name: str) -> str:
    """``"disconnected"`` -> ``"pipes.connected_account.disconnected"``; full names pass."""
    return EVENT_TYPES.get(name, name)


def webhook_event(
    event_type: str,
    provider: str = "salesforce",
    user_id: str | None = "user_01TESTUSER",
    organization_id: str | None = None,
    *,
    event_id: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    """A WorkOS event envelope shaped like the real ones.

    ``event_type`` is a full type or a short pipes name (``"connected"``...).
    Pipes events get a ``connected_account`` (or ``connection_failed``) data object;
    ``data`` keyword arguments are added to it or override its fields.
    """
    full_type = full_event_type(event_type)
    now = _iso(time.time())
    body: dict[str, Any]
    if full_type == EVENT_TYPES["connection_failed"]:
        body = {
            "object": "connection_failed",
            "data_integration_id": f"data_integration_{_ulid()}",
            "provider_slug": provider,
            "user_id": user_id,
            "organization_id": organization_id,
            "error_code": "access_denied",
            "error_reason": "The user denied access to the application.",
            "provider_error": "access_denied",
            "provider_error_description": "The resource owner denied the request.",
            "created_at": now,
        }
    elif full_type in _STATES:
        body = {
            "object": "connected_account",
            "id": f"ca_{_ulid()}",
            "data_integration_id": f"data_integration_{_ulid()}",
            "provider_slug": provider,
            "user_id": user_id,
            "organization_id": organization_id,
            "scopes": ["api", "refresh_token"],
            "state": _STATES[full_type],
            "created_at": now,
            "updated_at": now,
        }
    else:
        body = {}
    body.update(data)
    return {
        "object": "event",
        "id": event_id or f"event_{_ulid()}",
        "event": full_type,
        "data": body,
        "created_at": now,
    }


def post_webhook(
    client: Client,
    event: dict[str, Any] | bytes,
    *,
    secret: str | None = None,
    timestamp: float | None = None,
    path: str | None = None,
) -> Any:
    """Sign ``event`` (a dict, or raw bytes) and POST it with Django's test ``client``.

    ``secret`` defaults to the first configured webhook secret, ``path`` to
    ``reverse("workos_pipes:webhook")``. Returns the test client's response.
    """
    from django.urls import reverse

    from ..conf import app_settings

    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    if secret is None:
        configured = app_settings.WEBHOOK_SECRETS
        if not configured:
            raise ValueError("No webhook secret is configured; pass secret=.")
        secret = configured[0]
    return client.post(
        path or reverse("workos_pipes:webhook"),
        data=body,
        content_type="application/json",
        headers={HEADER: sign_webhook(body, secret, timestamp)},
    )


def _iso(seconds: float) -> str:
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def _ulid() -> str:
    """A ULID-shaped id (time then randomness, Crockford base32), like WorkOS's."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))
