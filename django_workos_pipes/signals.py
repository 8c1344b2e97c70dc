"""Signals for projects that react to connection changes (WorkOS events, disconnects) and
to connections that need the user.

The webhook's two signals are sent with ``Signal.send``, not ``send_robust``: a receiver
that raises makes the endpoint answer 500, the event is not marked handled, and WorkOS
delivers it again. Receivers should therefore be idempotent, or cheap enough to run twice.

The sender is the webhook view class (:class:`~django_workos_pipes.webhooks.WebhookView`,
or the subclass that received the event), or, for a disconnect made through this app,
the service's class (:class:`~django_workos_pipes.service.PipesService`).
"""

from __future__ import annotations

from django.dispatch import Signal

webhook_received = Signal()
"""Every verified event, once per event id, pipes events or not.

Keyword arguments: ``event`` (the parsed envelope, a dict with ``object``, ``id``,
``event``, ``data``...) and ``payload`` (the raw request body, bytes, exactly as signed).
"""

DISCONNECT = "disconnect"
"""The ``event_type`` of :data:`connection_changed` when this app disconnected an account
(``pipes.disconnect``): not a WorkOS event type, and ``event`` is then None."""

connection_changed = Signal()
"""A connected account changed, or an attempt to connect one failed.

Sent for every event of both pipes families (``pipes.connected_account.*`` and
``pipes.account_connection.*``), and once by ``pipes.disconnect`` when it removed an
account. For a change, its cached tokens and credentials and the cached listing have
already been invalidated; a failed attempt (``connection_failed``, ``add_failed``)
invalidated nothing, since the connection is as it was.

Keyword arguments: ``provider`` (the provider slug), ``user_id`` (None for an
organization-owned connection), ``organization_id`` (or None), ``event_type`` (e.g.
``"pipes.account_connection.disconnected"``, or :data:`DISCONNECT`), ``event`` (the
parsed envelope; None for :data:`DISCONNECT`), ``connected_account_id`` (the account an
event names, else None), and ``error_code`` / ``error_reason`` (WorkOS's code, e.g.
``access_denied``, and its text or None, for a failed attempt; both None otherwise).
WorkOS sends its own ``disconnected`` event after a disconnect too, and may send one
change under both families' names: receivers should be idempotent.
"""

reauthorization_required = Signal()
"""A connection needs its user: WorkOS answered inactive, or the provider refused the
freshest token WorkOS had. Sent just before
:class:`~django_workos_pipes.exceptions.PipesReauthorizationRequired` is raised, in a
view or in a background job, once per raise (so possibly more than once for one
connection: receivers should be idempotent).

Sent with ``send_robust``: a receiver that raises is logged and does not replace the
exception the caller is about to handle. The sender is the service's class. Keyword
arguments: ``provider``, ``user_id``, ``organization_id`` (or None), ``error``, ``owner``
(``"user"``, or ``"organization"`` for an organization's shared connection, which its
administrators must fix; ``user_id`` is then the member who met it) and
``connected_account_id`` (or None), as on the exception. A typical receiver e-mails the
user a reconnect link, or pauses their nightly sync until ``connection_changed`` says
they are connected again.
"""
