"""The emulator's memory: connected accounts, their tokens, and pending consents.

One :class:`Store` behind one lock, holding immutable :class:`Connection` snapshots, so
many server threads and the test thread can read and change it at once and nobody
ever sees half an update.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .. import wire
from .providers import Provider

CONNECTED = wire.STATE_CONNECTED
NEEDS_REAUTHORIZATION = wire.STATE_NEEDS_REAUTHORIZATION
DISCONNECTED = wire.STATE_DISCONNECTED

# WorkOS refreshes a token when asked near its expiry; the emulator does the same
# within this window (or half the lifetime, for very short lifetimes).
REFRESH_WINDOW = 300.0

Key = tuple[str, str, str | None]


class Keep:
    """The "leave it as it is" value of an optional label (``KEEP``), unlike ``None``,
    which clears it: WorkOS tells a left-out ``account_display_name`` from a null one."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = Keep()


class UnknownConnection(LookupError):
    """No connected account exists for this provider, user and organization."""


def make_key(provider: str, user_id: str, organization_id: str | None) -> Key:
    return (provider, user_id, organization_id or None)


@dataclass(frozen=True)
class Connection:
    """A connected account and its current access token, as the emulator holds it."""

    id: str
    provider: str
    user_id: str
    organization_id: str | None
    scopes: tuple[str, ...]
    missing_scopes: tuple[str, ...]
    state: str
    access_token: str
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    account_identifier: str | None = None
    account_display_name: str | None = None
    # The grant was revoked at the provider (``revoke_at_provider``): the provider
    # refuses the token, and WorkOS learns it on the next token call.
    revoked_at_provider: bool = False

    @property
    def key(self) -> Key:
        return make_key(self.provider, self.user_id, self.organization_id)

    @property
    def data_integration_id(self) -> str:
        return wire.stable_id("data_integration", self.provider)

    def connected_account(self, state: str | None = None) -> dict[str, Any]:
        """The ``connected_account`` object of the user-management endpoints."""
        return wire.connected_account(
            self.id,
            user_id=self.user_id,
            organization_id=self.organization_id,
            scopes=self.scopes,
            state=state or self.state,
            created_at=self.created_at,
            updated_at=self.updated_at,
            account_identifier=self.account_identifier,
            account_display_name=self.account_display_name,
            established_by_user_id=self.user_id,
        )

    def event_data(self, state: str | None = None) -> dict[str, Any]:
        """The ``data`` of a ``pipes.connected_account.*`` webhook event."""
        return wire.account_event_data(self.connected_account(state), self.provider)

    def token_answer(self) -> dict[str, Any]:
        """The body of a token call while this account is connected."""
        return wire.active_token_answer(
            self.access_token,
            expires_at=self.expires_at,
            scopes=self.scopes,
            missing_scopes=self.missing_scopes,
        )

    def to_json(self) -> dict[str, Any]:
        """Everything needed to restore the connection from a state file."""
        return {
            "id": self.id,
            "provider": self.provider,
            "user_id": self.user_id,
            "organization_id": self.organization_id,
            "scopes": list(self.scopes),
            "missing_scopes": list(self.missing_scopes),
            "state": self.state,
            "access_token": self.access_token,
            "expires_at": wire.expiry(self.expires_at),
            "created_at": wire.timestamp(self.created_at),
            "updated_at": wire.timestamp(self.updated_at),
            "account_identifier": self.account_identifier,
            "account_display_name": self.account_display_name,
            "revoked_at_provider": self.revoked_at_provider,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Connection:
        created = wire.parse_timestamp(data["created_at"])
        updated = wire.parse_timestamp(data["updated_at"])
        if created is None or updated is None:
            raise ValueError("created_at and updated_at are required")
        return cls(
            id=str(data["id"]),
            provider=str(data["provider"]),
            user_id=str(data["user_id"]),
            organization_id=data.get("organization_id") or None,
            scopes=tuple(data.get("scopes") or ()),
            missing_scopes=tuple(data.get("missing_scopes") or ()),
            state=str(data.get("state") or CONNECTED),
            access_token=str(data["access_token"]),
            expires_at=wire.parse_timestamp(data.get("expires_at")),
            created_at=created,
            updated_at=updated,
            account_identifier=data.get("account_identifier"),
            account_display_name=data.get("account_display_name"),
            revoked_at_provider=bool(data.get("revoked_at_provider")),
        )


@dataclass(frozen=True)
class ConsentRequest:
    """An authorize call waiting for the user's Allow or Deny on the consent page.

    ``state`` identifies the authorization to the app: the authorize answer carries it,
    and WorkOS adds it to ``return_to`` alongside an ``error``.
    """

    id: str
    state: str
    provider: str
    user_id: str
    organization_id: str | None
    return_to: str | None
    connection_intent: str | None
    connected_account_id: str | None
    created_at: datetime
    account_display_name: str | Keep | None = KEEP


def identifier_for(key: Key) -> str:
    """A plausible provider-side account: ``user_01h@salesforce.example.com``.

    Derived from the key, so reconnecting the same account keeps it, as a provider
    would; correlation only, like WorkOS's own (it is not a selector).
    """
    provider, user_id, _ = key
    local = "".join(char for char in user_id.lower() if char.isalnum() or char in "._-")
    return f"{local or 'account'}@{provider}.example.com"


class Store:
    """Thread-safe connections and consents; tokens are minted and rotated here."""

    def __init__(self, providers: Mapping[str, Provider], token_lifetime: float | None) -> None:
        self._providers = providers
        self._lifetime = token_lifetime
        self._lock = threading.RLock()
        self._connections: dict[Key, Connection] = {}
        self._consents: dict[str, ConsentRequest] = {}

    def get(self, key: Key) -> Connection | None:
        with self._lock:
            return self._connections.get(key)

    def all(self) -> list[Connection]:
        with self._lock:
            return sorted(self._connections.values(), key=lambda c: c.created_at)

    def connect(
        self,
        key: Key,
        scopes: Sequence[str],
        missing_scopes: Sequence[str],
        account_display_name: str | Keep | None = KEEP,
    ) -> Connection:
        """Create or re-connect an account: a fresh token, the state ``connected``.

        The display name is kept unless one (or ``None``, to clear it) is given.
        """
        moment = wire.now()
        with self._lock:
            existing = self._connections.get(key)
            label = account_display_name
            if isinstance(label, Keep):
                label = existing.account_display_name if existing else None
            connection = Connection(
                id=existing.id if existing else wire.new_id("ca"),
                provider=key[0],
                user_id=key[1],
                organization_id=key[2],
                scopes=tuple(scopes),
                missing_scopes=tuple(missing_scopes),
                state=CONNECTED,
                access_token=self._mint(key[0]),
                expires_at=self._expiry(moment),
                created_at=existing.created_at if existing else moment,
                updated_at=moment,
                account_identifier=identifier_for(key),
                account_display_name=label,
            )
            self._connections[key] = connection
            return connection

    def set_state(self, key: Key, state: str) -> tuple[Connection, bool]:
        """Put a connection in ``state``; and whether that was a change."""
        with self._lock:
            current = self._require(key)
            if current.state == state:
                return current, False
            changed = replace(current, state=state, updated_at=wire.now())
            self._connections[key] = changed
            return changed, True

    def expire(self, key: Key) -> Connection:
        """Put the token's expiry in the past, so the next token call rotates it."""
        with self._lock:
            current = self._require(key)
            past = wire.now().replace(microsecond=0) - timedelta(seconds=1)
            changed = replace(current, expires_at=past)
            self._connections[key] = changed
            return changed

    def revoke_at_provider(self, key: Key) -> Connection:
        """Mark the grant revoked at the provider: its token dies, WorkOS hasn't noticed."""
        with self._lock:
            current = self._require(key)
            changed = replace(current, revoked_at_provider=True)
            self._connections[key] = changed
            return changed

    def by_token(self, token: str) -> Connection | None:
        """The connection whose current access token this is, if any."""
        given = token.encode("utf-8")
        with self._lock:
            found = None
            for connection in self._connections.values():
                if hmac.compare_digest(connection.access_token.encode("utf-8"), given):
                    found = connection
            return found

    def remove(self, key: Key) -> Connection:
        with self._lock:
            removed = self._require(key)
            del self._connections[key]
            return removed

    def token(self, key: Key) -> tuple[Connection | None, bool]:
        """The connection for a token call, rotated first if due; and whether it changed.

        A grant revoked at the provider can't be refreshed: the connection moves to
        ``needs_reauthorization`` instead (the caller sends the webhook).
        """
        moment = wire.now()
        with self._lock:
            current = self._connections.get(key)
            if current is not None and current.state == CONNECTED and current.revoked_at_provider:
                flipped = replace(current, state=NEEDS_REAUTHORIZATION, updated_at=moment)
                self._connections[key] = flipped
                return flipped, True
            if current is None or current.state != CONNECTED or not self._due(current, moment):
                return current, False
            rotated = replace(
                current, access_token=self._mint(key[0]), expires_at=self._expiry(moment)
            )
            self._connections[key] = rotated
            return rotated, True

    def replace_all(self, connections: Iterable[Connection]) -> None:
        with self._lock:
            self._connections = {c.key: c for c in connections}

    def add_consent(self, consent: ConsentRequest) -> None:
        with self._lock:
            self._consents[consent.id] = consent

    def consent(self, consent_id: str) -> ConsentRequest | None:
        with self._lock:
            return self._consents.get(consent_id)

    def pop_consent(self, consent_id: str) -> ConsentRequest | None:
        """Take a consent out, so each link can be answered once."""
        with self._lock:
            return self._consents.pop(consent_id, None)

    def clear(self) -> None:
        with self._lock:
            self._connections.clear()
            self._consents.clear()

    def _require(self, key: Key) -> Connection:
        connection = self._connections.get(key)
        if connection is None:
            provider, user_id, organization_id = key
            where = f" in {organization_id}" if organization_id else ""
            raise UnknownConnection(f"no {provider} connection for {user_id}{where}")
        return connection

    def _mint(self, provider: str) -> str:
        known = self._providers.get(provider)
        prefix = known.token_prefix if known else "tok_"
        return f"{prefix}emu_{secrets.token_urlsafe(32)}"

    def _expiry(self, moment: datetime) -> datetime | None:
        if not self._lifetime:
            return None
        return moment.replace(microsecond=0) + timedelta(seconds=self._lifetime)

    def _due(self, connection: Connection, moment: datetime) -> bool:
        if connection.expires_at is None:
            return False
        window = min(REFRESH_WINDOW, (self._lifetime or 0) / 2)
        return (connection.expires_at - moment).total_seconds() <= window
