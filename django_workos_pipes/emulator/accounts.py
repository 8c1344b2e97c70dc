"""Connected accounts and what each change to them sets off: a save, and a webhook.

The :class:`~.state.Store` only holds connections; :class:`Accounts` is what the
handlers and :class:`~.app.Emulator` change them through, so every change is checked,
saved to the state file, and (for a state change) sends its signed webhook, in the
order the changes happened.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from .. import wire
from . import persistence
from .providers import Provider
from .state import (
    DISCONNECTED,
    NEEDS_REAUTHORIZATION,
    Connection,
    ConsentRequest,
    Key,
    Store,
    make_key,
)
from .webhooks import Delivery, WebhookSender

logger = logging.getLogger("django_workos_pipes.emulator")

WEBHOOK_WAIT = 10.0


class Connect(Protocol):
    """:meth:`Accounts.connect`, or a method that wraps it (``Emulator.connect``)."""

    def __call__(
        self,
        provider: str,
        user_id: str,
        organization_id: str | None = None,
        scopes: Sequence[str] | None = None,
        missing_scopes: Sequence[str] = (),
    ) -> Connection: ...


# :meth:`Accounts.issue_token`, or a method that wraps it (``Emulator.issue_token``).
IssueToken = Callable[[str, str, "str | None"], "Connection | None"]


class Accounts:
    """Thread-safe connections and consents, saved and announced as they change."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        token_lifetime: float | None,
        webhooks: WebhookSender | None = None,
        state_path: Path | None = None,
    ) -> None:
        self.providers = providers
        self.token_lifetime = token_lifetime
        self._store = Store(providers, token_lifetime)
        self._webhooks = webhooks
        self._state_path = state_path
        self._lock = threading.Lock()
        self._save_lock = threading.Lock()
        # Held while a change is applied, saved and its webhook queued, so webhooks
        # leave in the order the changes happened.
        self._changes = threading.RLock()
        self._events: list[dict[str, Any]] = []
        self._deliveries: list[Delivery] = []
        if state_path is not None:
            self._store.replace_all(persistence.load(state_path))

    # Changes -----------------------------------------------------------------------

    def connect(
        self,
        provider: str,
        user_id: str,
        organization_id: str | None = None,
        scopes: Sequence[str] | None = None,
        missing_scopes: Sequence[str] = (),
    ) -> Connection:
        """Connect (or re-connect) with a fresh token; waits for the ``connected`` webhook.

        ``scopes=None`` grants the provider's default scopes.
        """
        key = self.key(provider, user_id, organization_id)
        granted = self.providers[provider].scopes if scopes is None else _strings(scopes, "scopes")
        missing = _strings(missing_scopes, "missing_scopes")
        with self._changes:
            connection = self._store.connect(key, granted, missing)
            delivery = self._changed(wire.EVENT_CONNECTED, connection)
        _await(delivery)
        return connection

    def needs_reauthorization(
        self, provider: str, user_id: str, organization_id: str | None = None
    ) -> Connection:
        """Flip to ``needs_reauthorization``; a webhook only when that is a change."""
        key = self.key(provider, user_id, organization_id)
        with self._changes:
            connection, changed = self._store.set_state(key, NEEDS_REAUTHORIZATION)
            event = wire.EVENT_REAUTHORIZATION_NEEDED if changed else None
            delivery = self._changed(event, connection)
        _await(delivery)
        return connection

    def expire(self, provider: str, user_id: str, organization_id: str | None = None) -> Connection:
        """Expire the token early, with no webhook: WorkOS sends none when a token
        expires, it hands out a fresh one on the next token call."""
        key = self.key(provider, user_id, organization_id)
        with self._changes:
            connection = self._store.expire(key)
            self._changed(None, connection)
        return connection

    def disconnect(
        self, provider: str, user_id: str, organization_id: str | None = None
    ) -> Connection:
        return self.remove(self.key(provider, user_id, organization_id), wait=True)

    def remove(self, key: Key, *, wait: bool) -> Connection:
        """Disconnect; ``wait`` for the webhook unless answering the wire's own DELETE."""
        with self._changes:
            removed = self._store.remove(key)
            delivery = self._changed(wire.EVENT_DISCONNECTED, removed, state=DISCONNECTED)
        if wait:
            _await(delivery)
        return removed

    def issue_token(
        self, provider: str, user_id: str, organization_id: str | None
    ) -> Connection | None:
        """The connection behind a token call, its token rotated first if it is due."""
        connection, rotated = self._store.token(make_key(provider, user_id, organization_id))
        if rotated:
            self.save()
        return connection

    def reset(self) -> None:
        """Forget connections, consents and events (no webhooks sent)."""
        with self._changes:
            self._store.clear()
            with self._lock:
                self._events.clear()
                self._deliveries.clear()
            self.save()

    # Reading -----------------------------------------------------------------------

    def get(
        self, provider: str, user_id: str, organization_id: str | None = None
    ) -> Connection | None:
        return self._store.get(make_key(provider, user_id, organization_id))

    def all(self) -> list[Connection]:
        return self._store.all()

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def key(self, provider: str, user_id: str, organization_id: str | None) -> Key:
        """The key of a connection, once the provider and user are known to be valid."""
        if provider not in self.providers:
            known = ", ".join(sorted(self.providers))
            raise ValueError(f"unknown provider {provider!r}; known: {known}")
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("user_id must be a non-empty string")
        return make_key(provider, user_id, organization_id)

    # Consents ----------------------------------------------------------------------

    def start_consent(
        self,
        provider: str,
        user_id: str,
        organization_id: str | None,
        return_to: str | None,
        connection_intent: str | None = None,
        connected_account_id: str | None = None,
    ) -> ConsentRequest:
        consent = ConsentRequest(
            id=wire.new_id("consent").lower(),
            state=secrets.token_urlsafe(24),
            provider=provider,
            user_id=user_id,
            organization_id=organization_id or None,
            return_to=return_to,
            connection_intent=connection_intent,
            connected_account_id=connected_account_id,
            created_at=wire.now(),
        )
        self._store.add_consent(consent)
        return consent

    def pending_consent(self, consent_id: str) -> ConsentRequest | None:
        return self._store.consent(consent_id)

    def take_consent(self, consent_id: str) -> ConsentRequest | None:
        """Take a consent out, so each link can be answered once."""
        return self._store.pop_consent(consent_id)

    def consent_scopes(self, consent: ConsentRequest) -> tuple[str, ...]:
        """What Allow grants: what the account had and lacked, or the provider's defaults."""
        existing = self.get(consent.provider, consent.user_id, consent.organization_id)
        if existing is None:
            return self.providers[consent.provider].scopes
        return tuple(dict.fromkeys(existing.scopes + existing.missing_scopes))

    # Webhooks and the state file ---------------------------------------------------

    def wait_for_webhooks(self, timeout: float) -> bool:
        return True if self._webhooks is None else self._webhooks.wait(timeout)

    def close(self) -> None:
        """Finish pending webhook deliveries and save the state one last time."""
        if self._webhooks is not None:
            self._webhooks.close()
        self.save()

    def save(self) -> None:
        if self._state_path is None:
            return
        with self._save_lock:
            try:
                persistence.save(self._state_path, self._store.all())
            except OSError as exc:
                logger.warning("could not save the state to %s: %s", self._state_path, exc)

    def _changed(
        self, event_type: str | None, connection: Connection, *, state: str | None = None
    ) -> Delivery | None:
        """Save the state and queue the change's webhook (under ``_changes``, so in order)."""
        self.save()
        if event_type is None:
            return None
        event = wire.event_envelope(event_type, connection.event_data(state))
        delivery = self._webhooks.send(event) if self._webhooks is not None else None
        with self._lock:
            self._events.append(event)
            if delivery is not None:
                self._deliveries.append(delivery)
        return delivery


def _await(delivery: Delivery | None) -> None:
    """Wait, bounded, until the receiver has had the webhook (or it was given up)."""
    if delivery is not None and not delivery.done.wait(WEBHOOK_WAIT):
        logger.warning("webhook %s still pending after %.0f s", delivery.event["id"], WEBHOOK_WAIT)


def _strings(values: Sequence[str], name: str) -> tuple[str, ...]:
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{name} must be a list of strings")
    return tuple(values)
