"""Connected accounts and what each change to them sets off: a save, and a webhook.

The :class:`~.state.Store` only holds connections; :class:`Accounts` is what the
handlers and :class:`~.methods.ConnectionMethods` (the emulator's own methods) change
them through, so every change is saved to the state file and (for a state change)
sends its signed webhook, in the order the changes happened, named in the event family
chosen (``connected_account``, or the newer ``account_connection``). The state changes
are one table, :data:`CHANGES`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from .. import wire
from .persistence import StateFile
from .providers import Provider
from .state import (
    DISCONNECTED,
    NEEDS_REAUTHORIZATION,
    OAUTH,
    ORGANIZATION,
    OWNERS,
    USER,
    Connection,
    ConsentRequest,
    Grant,
    Key,
    Store,
    make_key,
    require,
)
from .webhooks import Delivery, WebhookSender

logger = logging.getLogger("django_workos_pipes.emulator")

WEBHOOK_WAIT = 10.0
EVENT_FAMILIES = wire.EVENT_FAMILIES


class Change(NamedTuple):
    """One state change: its step on the store (the connection after it, and whether
    it changed anything a webhook names) and that webhook's change, if it sends one."""

    step: Callable[[Store, str], tuple[Connection, bool]]
    event: str | None = None
    state: str | None = None  # the state the webhook reports, if not the connection's


CHANGES: Mapping[str, Change] = {
    "needs_reauthorization": Change(
        lambda store, cid: store.set_state(cid, NEEDS_REAUTHORIZATION), "reauthorization_needed"
    ),
    "disconnect": Change(
        lambda store, cid: (store.remove(cid), True), "disconnected", DISCONNECTED
    ),
    # No webhook: WorkOS sends none when a token expires, it hands out a fresh one on
    # the next token call.
    "expire": Change(lambda store, cid: (store.expire(cid), False)),
    # No webhook: WorkOS doesn't know yet; the next token call finds out.
    "revoke_at_provider": Change(lambda store, cid: (store.revoke_at_provider(cid), False)),
}
"""The state changes the emulator can make to an account, by name (the control API's
``/_emulator/connections/{action}``)."""


class Accounts:
    """Thread-safe connections and consents, saved and announced as they change."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        token_lifetime: float | None,
        webhooks: WebhookSender | None = None,
        state_file: StateFile | None = None,
        event_family: str = "connected_account",
    ) -> None:
        self.providers = providers
        self.token_lifetime = token_lifetime
        # When the providers were "configured": their created_at and updated_at.
        self.configured_at = wire.now()
        self._store = Store(providers, token_lifetime)
        self._webhooks = webhooks
        self._state_file = state_file
        self._lock = threading.Lock()
        # Held while a change is applied, saved and its webhook queued, so webhooks
        # leave in the order the changes happened.
        self._changes = threading.RLock()
        self._events: list[dict[str, Any]] = []
        self._deliveries: list[Delivery] = []
        self._family = "connected_account"
        self.event_family = event_family
        if state_file is not None:
            self._store.replace_all(state_file.connections())

    @property
    def event_family(self) -> str:
        """Which names the webhooks carry: ``connected_account`` (``pipes.connected_account.*``)
        or ``account_connection`` (``pipes.account_connection.*``)."""
        return self._family

    @event_family.setter
    def event_family(self, family: str) -> None:
        if family not in EVENT_FAMILIES:
            raise ValueError(f"event_family must be one of {', '.join(EVENT_FAMILIES)}")
        self._family = family

    # Changes -----------------------------------------------------------------------

    def connect(
        self,
        key: Key,
        grant: Grant,
        auth_method: str,
        intent: str | None,
        connected_account_id: str | None,
    ) -> Connection:
        """Connect (or re-connect) with a fresh token; waits for the ``connected`` webhook.
        ``intent="add"`` adds another account; ``connected_account_id`` re-connects that one.
        """
        with self._changes:
            connection = self._store.connect(
                key,
                grant,
                auth_method=auth_method,
                connected_account_id=connected_account_id,
                add=intent == "add",
            )
            delivery = self._changed("connected", connection)
        await_delivery(delivery)
        return connection

    def change(
        self,
        action: str,
        provider: str,
        user_id: str | None,
        organization_id: str | None,
        owner: str,
        connected_account_id: str | None,
    ) -> Connection:
        """Apply ``action`` (a name in :data:`CHANGES`) to the account named: the one
        ``connected_account_id`` names (found by id alone when no owner is given), else
        the owner's compatibility one."""
        target = None
        if connected_account_id is not None and user_id is None and organization_id is None:
            target = self._store.by_id(connected_account_id)
        if target is None or target.provider != provider:
            key = self.key(provider, user_id, organization_id, owner)
            target = require(key, self._store.select(key, connected_account_id))
        return self.apply(action, target, wait=True)

    def remove(self, connection: Connection, *, wait: bool) -> Connection:
        """Disconnect; ``wait`` for the webhook unless answering the wire's own DELETE."""
        return self.apply("disconnect", connection, wait=wait)

    def apply(self, action: str, connection: Connection, *, wait: bool) -> Connection:
        """Apply one of :data:`CHANGES`, save, and send its webhook if it sends one
        (``wait`` for that delivery, bounded)."""
        change = CHANGES[action]
        with self._changes:
            changed, happened = change.step(self._store, connection.id)
            event = change.event if happened else None
            delivery = self._changed(event, changed, state=change.state)
        if wait:
            await_delivery(delivery)
        return changed

    def issue_token(
        self, key: Key, connected_account_id: str | None, multiple: bool
    ) -> Connection | None:
        """The connection behind a token (or credentials) call, its token rotated first if
        it is due. Raises :class:`~.state.AccountSelectionRequired` as ``select`` does.

        A grant revoked at the provider is found out here, as WorkOS finds it out when
        its refresh fails: the connection needs reauthorization, and the webhook says
        so (sent without waiting, like the DELETE's).
        """
        with self._changes:
            connection = self._store.select(key, connected_account_id, multiple)
            if connection is None:
                return None
            connection, changed = self._store.token(connection.id)
            if changed:
                flipped = connection.state == NEEDS_REAUTHORIZATION
                self._changed("reauthorization_needed" if flipped else None, connection)
        return connection

    def connection_failed(self, consent: ConsentRequest) -> Delivery | None:
        """The consent was denied: ``connection_failed`` (``add_failed`` for another
        account, in the family that has it), sent once the change is recorded."""
        change = "add_failed" if consent.connection_intent == "add" else "connection_failed"
        if change not in EVENT_FAMILIES[self._family]:
            change = "connection_failed"
        data = wire.connection_failed_data(
            consent.provider, user_id=consent.user_id, organization_id=consent.organization_id
        )
        with self._changes:
            return self._send(change, data)

    def reset(self) -> None:
        """Forget connections, consents and events (no webhooks sent)."""
        with self._changes:
            self._store.clear()
            with self._lock:
                self._events.clear()
                self._deliveries.clear()
            self.save()

    # Reading -----------------------------------------------------------------------

    def select(
        self, key: Key, connected_account_id: str | None = None, multiple: bool = False
    ) -> Connection | None:
        """The connection a call means (see :meth:`~.state.Store.select`)."""
        return self._store.select(key, connected_account_id, multiple)

    def accounts(self, key: Key) -> list[Connection]:
        """Every connection of an owner, the compatibility one first."""
        return self._store.accounts(key)

    def by_id(self, connection_id: str) -> Connection | None:
        return self._store.by_id(connection_id)

    def by_token(self, token: str) -> Connection | None:
        return self._store.by_token(token)

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

    def key(
        self, provider: str, user_id: str | None, organization_id: str | None, owner: str = USER
    ) -> Key:
        """The key of an owner's connections, once provider and owner are known valid."""
        if provider not in self.providers:
            known = ", ".join(sorted(self.providers))
            raise ValueError(f"unknown provider {provider!r}; known: {known}")
        if owner not in OWNERS:
            raise ValueError(f"owner must be one of {', '.join(OWNERS)}")
        if owner == ORGANIZATION:
            if not isinstance(organization_id, str) or not organization_id:
                raise ValueError("an organization's connection needs an organization_id")
        elif not isinstance(user_id, str) or not user_id:
            raise ValueError("user_id must be a non-empty string")
        return make_key(provider, user_id, organization_id, owner)

    # Consents ----------------------------------------------------------------------

    def add_consent(self, consent: ConsentRequest) -> None:
        """Keep a consent for the page; :class:`~.state.UnknownConnection` when it would
        reauthorize an account the owner doesn't have."""
        if consent.connected_account_id is not None:
            require(consent.key, self._store.select(consent.key, consent.connected_account_id))
        self._store.add_consent(consent)

    def pending_consent(self, consent_id: str) -> ConsentRequest | None:
        return self._store.consent(consent_id)

    def take_consent(self, consent_id: str) -> ConsentRequest | None:
        """Take a consent out, so each link can be answered once."""
        return self._store.pop_consent(consent_id)

    def consent_target(self, consent: ConsentRequest) -> Connection | None:
        """The account a consent reconnects, if any (none when it adds one)."""
        if consent.connection_intent == "add":
            return None
        return self._store.select(consent.key, consent.connected_account_id)

    def consent_scopes(self, consent: ConsentRequest) -> tuple[str, ...]:
        """What Allow grants: what the account had and lacked, or the provider's defaults."""
        existing = self.consent_target(consent)
        if existing is None or existing.auth_method != OAUTH:
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
        if self._state_file is not None:
            self._state_file.save_connections(self._store.all())

    def _changed(
        self, change: str | None, connection: Connection, *, state: str | None = None
    ) -> Delivery | None:
        """Save the state and queue the change's webhook (under ``_changes``, so in order)."""
        self.save()
        if change is None:
            return None
        return self._send(change, connection.event_data(state))

    def _send(self, change: str, data: Mapping[str, Any]) -> Delivery | None:
        event = wire.event_envelope(EVENT_FAMILIES[self._family][change], data)
        delivery = self._webhooks.send(event) if self._webhooks is not None else None
        with self._lock:
            self._events.append(event)
            if delivery is not None:
                self._deliveries.append(delivery)
        return delivery


def await_delivery(delivery: Delivery | None) -> None:
    """Wait, bounded, until the receiver has had the webhook (or it was given up)."""
    if delivery is not None and not delivery.done.wait(WEBHOOK_WAIT):
        logger.warning("webhook %s still pending after %.0f s", delivery.event["id"], WEBHOOK_WAIT)
