"""Signals sent by the webhook endpoint, for projects that react to WorkOS events.

Both are sent with ``Signal.send``, not ``send_robust``: a receiver that raises makes the
endpoint answer 500, the event is not marked handled, and WorkOS delivers it again.
Receivers should therefore be idempotent, or cheap enough to run twice.

The sender is the webhook view class (:class:`~django_workos_pipes.webhooks.WebhookView`,
or the subclass that received the event).
"""

from __future__ import annotations

from django.dispatch import Signal

webhook_received = Signal()
"""Every verified event, once per event id, pipes events or not.

Keyword arguments: ``event`` (the parsed envelope, a dict with ``object``, ``id``,
``event``, ``data``...) and ``payload`` (the raw request body, bytes, exactly as signed).
"""

connection_changed = Signal()
"""A connected account changed; its cached token has already been invalidated.

Sent for the four ``pipes.connected_account.*`` events. Keyword arguments:
``provider`` (the provider slug), ``user_id`` (None for an organization-owned
connection), ``organization_id`` (or None), ``event_type`` (e.g.
``"pipes.connected_account.disconnected"``) and ``event`` (the parsed envelope).
"""
