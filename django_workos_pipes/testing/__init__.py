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
from typing import TYPE_CHECKING, Any

from .. import wire
from ..signatures import HEADER, sign

if TYPE_CHECKING:
    from django.test import Client

__all__ = [
    "EVENT_FAMILIES",
    "EVENT_TYPES",
    "full_event_type",
    "post_webhook",
    "sign_webhook",
    "webhook_event",
]

EVENT_TYPES = {name: wire.full_event_type(name) for name in wire.ACCOUNT_CONNECTION_EVENTS}
"""Short names of the pipes event types, as the management command accepts them, and the
type each stands for with no family given (``pipes.connected_account.*``, and
``pipes.account_connection.add_failed``, which only that family has)."""

EVENT_FAMILIES = wire.EVENT_FAMILIES
"""``{"connected_account": {...}, "account_connection": {...}}``: each family's short
names and full types, for ``family=``."""


def sign_webhook(body: bytes, secret: str, timestamp: float | None = None) -> str:
    """The ``WorkOS-Signature`` header value for ``body``; ``timestamp`` in seconds."""
    return sign(body, secret, timestamp)


full_event_type = wire.full_event_type


def webhook_event(
    event_type: str,
    provider: str = "salesforce",
    user_id: str | None = "user_01TESTUSER",
    organization_id: str | None = None,
    *,
    event_id: str | None = None,
    family: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    """A WorkOS event envelope shaped like the real ones.

    ``event_type`` is a full type of either pipes family, or a short pipes name
    (``"connected"``...) of ``family`` (``"connected_account"``, the default, or
    ``"account_connection"``; ``"add_failed"`` is of the latter either way).
    Pipes events get a ``connected_account`` (or ``connection_failed``) data object;
    ``data`` keyword arguments are added to it or override its fields.
    """
    return wire.pipes_event(
        event_type, provider, user_id, organization_id, event_id=event_id, family=family, **data
    )


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
