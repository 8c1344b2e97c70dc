"""The emulator's memory: connected accounts, their secrets, and pending consents.

One :class:`Store` behind one lock, holding immutable :class:`Connection` snapshots, so
many server threads and the test thread can read and change it at once and nobody
ever sees half an update.

An owner (a user, optionally within an organization, or an organization) has at most
one ``compatibility`` connection per provider, the one every call gets unless it asks
for more, and any number of ``standard`` ones, added with ``connection_intent: "add"``.
A call that opts into several (``supports_multiple_connections``) without naming one
(``connected_account_id``) while several match gets :class:`AccountSelectionRequired`.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from .. import wire
from .providers import Provider

CONNECTED = wire.STATE_CONNECTED
NEEDS_REAUTHORIZATION = wire.STATE_NEEDS_REAUTHORIZATION
DISCONNECTED = wire.STATE_DISCONNECTED
USER, ORGANIZATION = "user", "organization"
OWNERS = (USER, ORGANIZATION)
COMPATIBILITY, STANDARD = "compatibility", "standard"
OAUTH, API_KEY = "oauth", "api_key"

# WorkOS refreshes a token when asked near its expiry; the emulator does the same
# within this window (or half the lifetime, for very short lifetimes).
REFRESH_WINDOW = 300.0

# Whose connection: (provider, user id, organization id). An organization's own
# connection has no user id; a user's may be scoped to an organization.
Key = tuple[str, "str | None", "str | None"]


class Keep:
    """The "leave it as it is" value of an optional label (``KEEP``), unlike ``None``,
    which clears it: WorkOS tells a left-out ``account_display_name`` from a null one."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = Keep()


class UnknownConnection(LookupError):
    """No connected account exists for this provider and owner (or with this id)."""


class AccountSelectionRequired(LookupError):
    """Several connected accounts match, and the call named none of them."""


def make_key(
    provider: str, user_id: str | None, organization_id: str | None, owner: str = USER
) -> Key:
    """The key of an owner's connections to ``provider``; ``user_id`` is left out of an
    organization's (any member may act for it)."""
    if owner == ORGANIZATION:
        return (provider, None, organization_id or None)
    return (provider, user_id, organization_id or None)


@dataclass(frozen=True)
class Connection:
    """A connected account and its current secret (an access token, or an API key)."""

    id: str
    provider: str
    user_id: str | None
    organization_id: str | None
    scopes: tuple[str, ...]
    missing_scopes: tuple[str, ...]
    state: str
    access_token: str  # the OAuth access token, or the API key
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    account_identifier: str | None = None
    account_display_name: str | None = None
    # The grant was revoked at the provider (``revoke_at_provider``): the provider
    # refuses the token, and WorkOS learns it on the next token call.
    revoked_at_provider: bool = False
    owner: str = USER
    role: str = COMPATIBILITY
    auth_method: str = OAUTH
    config: Mapping[str, str] = field(default_factory=dict)
    established_by_user_id: str | None = None

    @property
    def key(self) -> Key:
        return make_key(self.provider, self.user_id, self.organization_id, self.owner)

    @property
    def data_integration_id(self) -> str:
        return wire.stable_id("data_integration", self.provider)

    def connected_account(self, state: str | None = None) -> dict[str, Any]:
        """The ``connected_account`` object of the connected-account endpoints."""
        return wire.connected_account(
            self.id,
            user_id=self.user_id,
            organization_id=self.organization_id,
            scopes=self.scopes,
            state=state or self.state,
            created_at=self.created_at,
            updated_at=self.updated_at,
            connection_role=self.role,
            account_identifier=self.account_identifier,
            account_display_name=self.account_display_name,
            auth_method=self.auth_method,
            api_key_last_4=self.access_token[-4:] if self.auth_method == API_KEY else None,
            config=dict(self.config),
            established_by_user_id=self.established_by_user_id,
            state_reason=None,
        )

    def event_data(self, state: str | None = None) -> dict[str, Any]:
        """The ``data`` of a connected / disconnected / reauthorization_needed event: the
        account as events see it (no ``config``, unlike the REST object)."""
        account = self.connected_account(state)
        del account["config"]
        return wire.account_event_data(account, self.provider)

    def token_answer(self) -> dict[str, Any]:
        """The body of a token call while this OAuth account is connected."""
        return wire.active_token_answer(
            self.access_token,
            expires_at=self.expires_at,
            scopes=self.scopes,
            missing_scopes=self.missing_scopes,
        )

    def credential_answer(self) -> dict[str, Any]:
        """The body of a credentials call while this account is connected: an OAuth
        token with its expiry and scopes, or an API key with neither."""
        credential: dict[str, Any] = {
            "object": "credential",
            "auth_method": self.auth_method,
            "value": self.access_token,
        }
        if self.auth_method != API_KEY:
            token = self.token_answer()["access_token"]
            credential.update(
                expires_at=token["expires_at"],
                scopes=token["scopes"],
                missing_scopes=token["missing_scopes"],
                # workos-python 10.8 requires it on OAuth credentials (10.6 documented it
                # for client credentials only): nothing from the provider's answer here.
                metadata={},
            )
        credential["config"] = dict(self.config)
        return {"active": True, "credential": credential}

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
            "owner": self.owner,
            "role": self.role,
            "auth_method": self.auth_method,
            "config": dict(self.config),
            "established_by_user_id": self.established_by_user_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Connection:
        created, updated = saved_times(data)
        owner = str(data.get("owner") or USER)
        if owner not in OWNERS:
            raise ValueError(f"unknown owner {owner!r}")
        return cls(
            id=str(data["id"]),
            provider=str(data["provider"]),
            user_id=data.get("user_id") or None,
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
            owner=owner,
            role=str(data.get("role") or COMPATIBILITY),
            auth_method=str(data.get("auth_method") or OAUTH),
            config=dict(data.get("config") or {}),
            established_by_user_id=data.get("established_by_user_id"),
        )


@dataclass(frozen=True)
class Grant:
    """What a connect (or an API-key install) gives an account.

    ``api_key=None`` for OAuth (a token is minted); ``config=None`` keeps what the
    account had; the display name is kept unless one (or ``None``, to clear it) is given.
    """

    scopes: tuple[str, ...] = ()
    missing_scopes: tuple[str, ...] = ()
    account_display_name: str | Keep | None = KEEP
    api_key: str | None = None
    config: Mapping[str, str] | None = None
    established_by_user_id: str | None = None


@dataclass(frozen=True)
class ConsentRequest:
    """An authorize call waiting for the user's Allow or Deny on the consent page.

    ``state`` identifies the authorization to the app: the authorize answer carries it,
    and WorkOS adds it to ``return_to`` alongside an ``error``. ``user_id`` is the user
    who authorizes: with ``owner == "organization"`` a member acting for it.
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
    owner: str = USER
    config: Mapping[str, str] | None = None

    @property
    def key(self) -> Key:
        return make_key(self.provider, self.user_id, self.organization_id, self.owner)


def saved_times(data: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """``created_at`` and ``updated_at`` of a record read back from the state file;
    every record has both."""
    created = wire.parse_timestamp(data["created_at"])
    updated = wire.parse_timestamp(data["updated_at"])
    if created is None or updated is None:
        raise ValueError("created_at and updated_at are required")
    return created, updated


def identifier_for(key: Key, number: int = 1) -> str:
    """A plausible provider-side account: ``user_01h@salesforce.example.com``.

    Derived from the owner, so reconnecting the same account keeps it, as a provider
    would; a second account of the same owner gets ``+2``. Correlation only, like
    WorkOS's own (it is not a selector).
    """
    provider, user_id, organization_id = key
    owner = user_id or organization_id or "account"
    local = "".join(char for char in owner.lower() if char.isalnum() or char in "._-")
    suffix = f"+{number}" if number > 1 else ""
    return f"{local or 'account'}{suffix}@{provider}.example.com"


class Store:
    """Thread-safe connections and consents; tokens are minted and rotated here."""

    def __init__(self, providers: Mapping[str, Provider], token_lifetime: float | None) -> None:
        self._providers = providers
        self._lifetime = token_lifetime
        self._lock = threading.RLock()
        self._connections: dict[str, Connection] = {}
        self._consents: dict[str, ConsentRequest] = {}

    # Reading -----------------------------------------------------------------------

    def get(self, key: Key) -> Connection | None:
        """The owner's compatibility connection, if any."""
        with self._lock:
            return next((c for c in self._of(key) if c.role == COMPATIBILITY), None)

    def by_id(self, connection_id: str) -> Connection | None:
        with self._lock:
            return self._connections.get(connection_id)

    def accounts(self, key: Key) -> list[Connection]:
        """Every connection of the owner: the compatibility one first, then by age."""
        with self._lock:
            return self._of(key)

    def select(
        self, key: Key, connected_account_id: str | None = None, multiple: bool = False
    ) -> Connection | None:
        """The connection a call means: the one named (if it is the owner's), the only
        one (``multiple``: :class:`AccountSelectionRequired` when several), or the
        compatibility one."""
        with self._lock:
            if connected_account_id is not None:
                found = self._connections.get(connected_account_id)
                return found if found is not None and found.key == key else None
            if not multiple:
                return self.get(key)
            mine = self._of(key)
            if len(mine) > 1:
                raise AccountSelectionRequired(f"{len(mine)} {key[0]} accounts match")
            return mine[0] if mine else None

    def all(self) -> list[Connection]:
        with self._lock:
            return sorted(self._connections.values(), key=lambda c: (c.created_at, c.id))

    def by_token(self, token: str) -> Connection | None:
        """The connection whose current access token (or API key) this is, if any."""
        given = token.encode("utf-8")
        with self._lock:
            found = None
            for connection in self._connections.values():
                if hmac.compare_digest(connection.access_token.encode("utf-8"), given):
                    found = connection
            return found

    # Changing ----------------------------------------------------------------------

    def connect(
        self,
        key: Key,
        grant: Grant,
        *,
        auth_method: str = OAUTH,
        connected_account_id: str | None = None,
        add: bool = False,
    ) -> Connection:
        """Create or re-connect an account: a fresh secret, the state ``connected``.

        ``connected_account_id`` re-connects that account (it must be the owner's);
        ``add`` makes another one (the compatibility one when the owner has none);
        otherwise it is the compatibility connection.
        """
        moment = wire.now()
        provider, user_id, organization_id = key
        with self._lock:
            if connected_account_id is not None:
                existing = self._connections.get(connected_account_id)
                if existing is None or existing.key != key:
                    raise UnknownConnection(f"no connected account {connected_account_id}")
            else:
                existing = None if add else self.get(key)
            mine = self._of(key)
            role = existing.role if existing else (STANDARD if mine else COMPATIBILITY)
            label = grant.account_display_name
            if isinstance(label, Keep):
                label = existing.account_display_name if existing else None
            kept: Mapping[str, str] = existing.config if existing else {}
            config = grant.config if grant.config is not None else kept
            api_key = auth_method == API_KEY
            connection = Connection(
                id=existing.id if existing else wire.new_id("ca"),
                provider=provider,
                user_id=user_id,
                organization_id=organization_id,
                scopes=() if api_key else tuple(grant.scopes),
                missing_scopes=() if api_key else tuple(grant.missing_scopes),
                state=CONNECTED,
                access_token=grant.api_key or self._mint(provider),
                expires_at=None if api_key else self._expiry(moment),
                created_at=existing.created_at if existing else moment,
                updated_at=moment,
                account_identifier=(
                    existing.account_identifier
                    if existing and existing.account_identifier
                    else identifier_for(key, len(mine) + 1)
                ),
                account_display_name=label,
                owner=ORGANIZATION if user_id is None else USER,
                role=role,
                auth_method=auth_method,
                config=dict(config),
                established_by_user_id=grant.established_by_user_id or user_id,
            )
            self._connections[connection.id] = connection
            return connection

    def set_state(self, connection_id: str, state: str) -> tuple[Connection, bool]:
        """Put a connection in ``state``; and whether that was a change."""
        with self._lock:
            current = self._require(connection_id)
            if current.state == state:
                return current, False
            return self._put(replace(current, state=state, updated_at=wire.now())), True

    def expire(self, connection_id: str) -> Connection:
        """Put the token's expiry in the past, so the next token call rotates it."""
        with self._lock:
            current = self._require(connection_id)
            past = wire.now().replace(microsecond=0) - timedelta(seconds=1)
            return self._put(replace(current, expires_at=past))

    def revoke_at_provider(self, connection_id: str) -> Connection:
        """Mark the grant revoked at the provider: its token dies, WorkOS hasn't noticed."""
        with self._lock:
            current = self._require(connection_id)
            return self._put(replace(current, revoked_at_provider=True))

    def remove(self, connection_id: str) -> Connection:
        """Remove a connection. Removing the compatibility one promotes the oldest
        standard one into its slot, so the owner keeps a default account."""
        with self._lock:
            removed = self._connections.pop(self._require(connection_id).id)
            if removed.role == COMPATIBILITY:
                rest = self._of(removed.key)
                if rest:
                    self._put(replace(rest[0], role=COMPATIBILITY))
            return removed

    def token(self, connection_id: str) -> tuple[Connection, bool]:
        """The connection for a token call, rotated first if due; and whether it changed.

        A grant revoked at the provider can't be refreshed: the connection moves to
        ``needs_reauthorization`` instead (the caller sends the webhook).
        """
        moment = wire.now()
        with self._lock:
            current = self._require(connection_id)
            if current.state != CONNECTED or current.auth_method != OAUTH:
                return current, False
            if current.revoked_at_provider:
                flipped = replace(current, state=NEEDS_REAUTHORIZATION, updated_at=moment)
                return self._put(flipped), True
            if not self._due(current, moment):
                return current, False
            rotated = replace(
                current, access_token=self._mint(current.provider), expires_at=self._expiry(moment)
            )
            return self._put(rotated), True

    def replace_all(self, connections: Iterable[Connection]) -> None:
        with self._lock:
            self._connections = {c.id: c for c in connections}

    # Consents ----------------------------------------------------------------------

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

    # Helpers -----------------------------------------------------------------------

    def _of(self, key: Key) -> list[Connection]:
        mine = [c for c in self._connections.values() if c.key == key]
        return sorted(mine, key=lambda c: (c.role != COMPATIBILITY, c.created_at, c.id))

    def _put(self, connection: Connection) -> Connection:
        self._connections[connection.id] = connection
        return connection

    def _require(self, connection_id: str) -> Connection:
        connection = self._connections.get(connection_id)
        if connection is None:
            raise UnknownConnection(f"no connected account {connection_id}")
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


def require(key: Key, connection: Connection | None) -> Connection:
    """``connection``, or :class:`UnknownConnection` naming the owner ``key``."""
    if connection is None:
        provider, user_id, organization_id = key
        owner = user_id or f"organization {organization_id}"
        where = f" in {organization_id}" if user_id and organization_id else ""
        raise UnknownConnection(f"no {provider} connection for {owner}{where}")
    return connection
