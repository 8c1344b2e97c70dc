"""The answers of the service: small immutable objects that never show a token.

They mirror the official SDKs' responses in Python names: ``getAccessToken`` (a
:class:`TokenResult`, whose ``repr`` masks the token, so it can be logged or shown in a
debug page safely), the credentials call (a :class:`CredentialResult`, whose
:class:`Credential` masks its secret the same way), the connected account
(:class:`ConnectedAccount`) and the providers listing (:class:`Connection`), neither of
which holds anything secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import Field, dataclass, field
from datetime import datetime, timezone
from typing import Any, ClassVar, NoReturn, TypeVar

from django.utils.dateparse import parse_datetime

from . import wire
from .masking import mask

NOT_INSTALLED = wire.NOT_INSTALLED
NEEDS_REAUTHORIZATION = wire.NEEDS_REAUTHORIZATION
ACCOUNT_SELECTION_REQUIRED = wire.ACCOUNT_SELECTION_REQUIRED


class _Secret:
    """What a token and a credential share: one field holds a secret, which ``str``,
    ``repr`` and :attr:`masked` show masked (both end up in logs and error pages), and
    the scopes it was granted."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]
    _SECRET: ClassVar[str]
    """The name of the field that holds the secret."""
    scopes: tuple[str, ...]
    missing_scopes: tuple[str, ...]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={self._shown(name)!r}" for name in self.__dataclass_fields__)
        return f"{type(self).__name__}({shown})"

    __str__ = __repr__

    @property
    def masked(self) -> str:
        """The secret as it may be shown to a person: ``ya29…``."""
        return mask(getattr(self, self._SECRET))

    def has_scopes(self, required: tuple[str, ...] | list[str]) -> bool:
        """True when every required scope was granted and none of them is missing."""
        granted = set(self.scopes) - set(self.missing_scopes)
        return set(required) <= granted

    def _shown(self, name: str) -> Any:
        value = getattr(self, name)
        if name == self._SECRET:
            return mask(value)
        return dict(value) if isinstance(value, Mapping) else value


@dataclass(frozen=True, repr=False)
class AccessToken(_Secret):
    """An OAuth access token for one provider, vended by WorkOS."""

    _SECRET = "access_token"

    access_token: str = field(repr=False)
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    missing_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TokenResult:
    """Either an active connection with its token, or an inactive one with an error code.

    ``error`` is an open set: ``not_installed``, ``needs_reauthorization`` or any code
    WorkOS adds later, passed through as a string.
    """

    active: bool
    access_token: AccessToken | None = None
    error: str | None = None

    @classmethod
    def connected(cls, token: AccessToken) -> TokenResult:
        return cls(active=True, access_token=token)

    @property
    def granted(self) -> AccessToken | None:
        """The token when the connection is active: what a cached answer is kept for."""
        return self.access_token if self.active else None

    @classmethod
    def inactive(cls, error: str) -> TokenResult:
        return cls(active=False, error=error)

    @classmethod
    def from_api(cls, body: Any) -> TokenResult:
        """Build a result from the JSON body of ``POST /data-integrations/{p}/token``.

        Raises ``ValueError`` (with a message that quotes no value) when the body is not
        one of the shapes the API documents.
        """
        if not isinstance(body, Mapping) or not isinstance(body.get("active"), bool):
            raise ValueError("expected an object with a boolean 'active'")
        if not body["active"]:
            error = body.get("error")
            if not isinstance(error, str) or not error:
                raise ValueError("an inactive answer must carry an 'error' string")
            return cls.inactive(error)
        return cls.connected(_parse_token(body.get("access_token")))


def _parse_token(data: Any) -> AccessToken:
    if not isinstance(data, Mapping):
        raise ValueError("an active answer must carry an 'access_token' object")
    value = data.get("access_token")
    if not isinstance(value, str) or not value:
        raise ValueError("'access_token.access_token' must be a non-empty string")
    return AccessToken(
        access_token=value,
        expires_at=_parse_expiry(data.get("expires_at")),
        scopes=_parse_strings(data.get("scopes"), "scopes"),
        missing_scopes=_parse_strings(data.get("missing_scopes"), "missing_scopes"),
    )


def _parse_expiry(value: Any) -> datetime | None:
    if value is None:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError("'expires_at' must be an ISO 8601 date-time or null")
    return _utc(parsed)


def _parse_strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"'{name}' must be a list of strings")
    return tuple(value)


# Credentials: the generic form of the token call --------------------------------------

AUTH_OAUTH = "oauth"
AUTH_API_KEY = "api_key"
AUTH_CLIENT_CREDENTIALS = "client_credentials"
UNKNOWN_ERROR = "unknown"
"""The ``error`` of an inactive credentials answer that carried none."""

_V = TypeVar("_V")


class ReadOnlyDict(dict[str, _V]):
    """A dict that refuses every change: a cached answer is shared by every request of
    the process, so no caller may alter it. Still a dict: it serialises to JSON, and it
    pickles and copies (task queues, ``dataclasses.astuple``)."""

    __slots__ = ()

    def _refuse(self) -> NoReturn:
        raise TypeError(f"{type(self).__name__} is read-only")

    def __setitem__(self, key: str, value: _V) -> None:
        self._refuse()

    def __delitem__(self, key: str) -> None:
        self._refuse()

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def clear(self) -> None:
        self._refuse()

    def pop(self, *args: Any) -> Any:
        self._refuse()

    def popitem(self) -> tuple[str, _V]:
        self._refuse()

    def setdefault(self, *args: Any) -> Any:
        self._refuse()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._refuse()

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self),))


@dataclass(frozen=True, repr=False)
class Credential(_Secret):
    """What a provider's API takes from this connection, vended by WorkOS.

    ``value`` is the secret: an OAuth access token, an API key or a client-credentials
    token, by ``auth_method`` (an open set: a method WorkOS adds later is kept as a
    string). ``str`` and ``repr`` mask it, so a credential can be logged or shown in a
    debug page. ``config`` holds the provider's non-secret, declared settings (a Zendesk
    ``subdomain``), ``metadata`` non-secret fields of the provider's token answer (a
    Salesforce ``instance_url``); both are read-only. API keys carry no expiry and no
    scopes.
    """

    auth_method: str
    value: str = field(repr=False)
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    missing_scopes: tuple[str, ...] = ()
    config: Mapping[str, str] = field(default_factory=ReadOnlyDict, hash=False)
    metadata: Mapping[str, Any] = field(default_factory=ReadOnlyDict, hash=False)

    _SECRET = "value"


@dataclass(frozen=True)
class CredentialResult:
    """The answer of ``POST /data-integrations/{p}/credentials``: an active connection
    with its :class:`Credential`, or an inactive one with an error code (an open set, as
    for :class:`TokenResult`)."""

    active: bool
    credential: Credential | None = None
    error: str | None = None

    @classmethod
    def connected(cls, credential: Credential) -> CredentialResult:
        return cls(active=True, credential=credential)

    @classmethod
    def inactive(cls, error: str) -> CredentialResult:
        return cls(active=False, error=error)

    @property
    def granted(self) -> Credential | None:
        """The credential when the connection is active."""
        return self.credential if self.active else None

    @classmethod
    def from_api(cls, body: Any) -> CredentialResult:
        """Build a result from the JSON body of the credentials call, leniently: as in the
        official Python SDK, every field of ``credential`` may be left out (``auth_method``
        then reads ``oauth``, lists and maps empty, ``expires_at`` never). A field sent
        with the wrong type, an unreadable ``expires_at`` or an active answer with no
        ``value`` raises ``ValueError``, with a message that quotes no value.
        """
        if not isinstance(body, Mapping):
            raise ValueError("expected an object")
        active = body.get("active")
        if active is None:  # the SDK types it ``true`` or absent
            active = body.get("credential") is not None
        if not isinstance(active, bool):
            raise ValueError("'active' must be a boolean")
        if not active:
            error = body.get("error")
            if error is not None and not isinstance(error, str):
                raise ValueError("'error' must be a string")
            return cls.inactive(error or UNKNOWN_ERROR)
        return cls.connected(_parse_credential(body.get("credential")))


def _parse_credential(data: Any) -> Credential:
    if not isinstance(data, Mapping):
        raise ValueError("an active answer must carry a 'credential' object")
    value = data.get("value")
    if not isinstance(value, str) or not value:
        raise ValueError("'credential.value' must be a non-empty string")
    return Credential(
        auth_method=_optional_string(data, "auth_method") or AUTH_OAUTH,
        value=value,
        expires_at=_parse_expiry(data.get("expires_at")),
        scopes=_parse_strings(data.get("scopes"), "scopes"),
        missing_scopes=_parse_strings(data.get("missing_scopes"), "missing_scopes"),
        config=_parse_config(data.get("config")),
        metadata=_parse_metadata(data.get("metadata")),
    )


def _parse_config(value: Any) -> Mapping[str, str]:
    if value is None:
        return ReadOnlyDict()
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise ValueError("'config' must map strings to strings")
    return ReadOnlyDict(value)


def _parse_metadata(value: Any) -> Mapping[str, Any]:
    if value is None:
        return ReadOnlyDict()
    if not isinstance(value, Mapping):
        raise ValueError("'metadata' must be an object")
    return ReadOnlyDict(value)


# Connected accounts and the providers listing ---------------------------------------

STATE_CONNECTED = wire.STATE_CONNECTED
STATE_NEEDS_REAUTHORIZATION = wire.STATE_NEEDS_REAUTHORIZATION
STATE_DISCONNECTED = wire.STATE_DISCONNECTED
STATE_UNKNOWN = "unknown"
"""The state of an account whose answer carried none (the API always sends one)."""

# ``ownership`` is the deprecated spelling of ``connection_owner``.
_OWNERSHIP = {"userland_user": "user", "organization": "organization"}


@dataclass(frozen=True)
class ConnectedAccount:
    """A user's (or organization's) connection to one provider, as WorkOS describes it.

    Field names are the official SDK's. Enumerations (``state``, ``connection_role``,
    ``auth_method``) are open: a value WorkOS adds later is kept as a string. Nothing
    secret is kept: the ``api_key_last_4``, ``client_id``, ``client_secret_last_4`` and
    ``config`` the API may send are left out.
    """

    id: str
    state: str
    scopes: tuple[str, ...] = ()
    account_identifier: str | None = None
    account_display_name: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    connection_role: str | None = None
    auth_method: str = "oauth"
    user_id: str | None = None
    organization_id: str | None = None
    established_by_user_id: str | None = None
    state_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.state == STATE_CONNECTED

    @property
    def label(self) -> str | None:
        """What a person recognises the account by: its display name, else its identifier."""
        return self.account_display_name or self.account_identifier

    @classmethod
    def from_api(cls, data: Any) -> ConnectedAccount:
        """Build an account from a ``connected_account`` object.

        Raises ``ValueError`` (quoting no value) when it has no ``id`` or a key of the
        wrong type; a missing optional key, or an unknown enumeration value, is fine.
        """
        if not isinstance(data, Mapping):
            raise ValueError("a connected account must be an object")
        account_id = data.get("id")
        if not isinstance(account_id, str) or not account_id:
            raise ValueError("a connected account must have a string 'id'")
        return cls(
            id=account_id,
            state=_optional_string(data, "state") or STATE_UNKNOWN,
            scopes=_parse_strings(data.get("scopes"), "scopes"),
            account_identifier=_optional_string(data, "account_identifier"),
            account_display_name=_optional_string(data, "account_display_name"),
            created_at=_parse_moment(data.get("created_at")),
            updated_at=_parse_moment(data.get("updated_at")),
            connection_role=_optional_string(data, "connection_role"),
            auth_method=_optional_string(data, "auth_method") or "oauth",
            user_id=_optional_string(data, "user_id"),
            organization_id=_optional_string(data, "organization_id"),
            established_by_user_id=_optional_string(data, "established_by_user_id"),
            state_reason=_optional_string(data, "state_reason"),
        )

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict with the SDK's field names (timestamps in ISO 8601)."""
        return {
            "id": self.id,
            "state": self.state,
            "active": self.active,
            "scopes": list(self.scopes),
            "account_identifier": self.account_identifier,
            "account_display_name": self.account_display_name,
            "connection_role": self.connection_role,
            "auth_method": self.auth_method,
            "user_id": self.user_id,
            "organization_id": self.organization_id,
            "established_by_user_id": self.established_by_user_id,
            "state_reason": self.state_reason,
            "created_at": _isoformat(self.created_at),
            "updated_at": _isoformat(self.updated_at),
        }


@dataclass(frozen=True)
class Connection:
    """One provider configured in WorkOS, and the user's connection to it, if any.

    ``account`` is the compatibility connection (the one tokens are vended for when no
    account is named) or None when the user never connected; ``accounts`` is every
    account of the provider that WorkOS listed: that one alone, unless the listing was
    asked for with ``supports_multiple_connections``. ``connection_owner`` is ``"user"``
    or ``"organization"`` (a connection the organization's members share).
    """

    provider: str
    name: str
    account: ConnectedAccount | None = None
    accounts: tuple[ConnectedAccount, ...] = ()
    description: str | None = None
    connection_owner: str = "user"

    @property
    def state(self) -> str | None:
        """``connected``, ``needs_reauthorization``, ``disconnected``, a state WorkOS
        adds later, or None when there is no account."""
        return self.account.state if self.account is not None else None

    @property
    def active(self) -> bool:
        return self.state == STATE_CONNECTED

    @classmethod
    def from_api(cls, data: Any) -> Connection:
        """Build a connection from a ``data_provider`` object of the providers listing."""
        if not isinstance(data, Mapping):
            raise ValueError("a data provider must be an object")
        slug = data.get("slug")
        if not isinstance(slug, str) or not slug:
            raise ValueError("a data provider must have a string 'slug'")
        raw = data.get("connected_account")
        account = None if raw is None else ConnectedAccount.from_api(raw)
        listed = data.get("connected_accounts")
        accounts: tuple[ConnectedAccount, ...]
        if listed is None:  # older answers: the compatibility account alone
            accounts = (account,) if account is not None else ()
        elif isinstance(listed, list):
            accounts = tuple(ConnectedAccount.from_api(item) for item in listed)
        else:
            raise ValueError("'connected_accounts' must be a list")
        owner = _optional_string(data, "connection_owner")
        ownership = _optional_string(data, "ownership")
        return cls(
            provider=slug,
            name=_optional_string(data, "name") or slug,
            account=account,
            accounts=accounts,
            description=_optional_string(data, "description"),
            connection_owner=owner or _OWNERSHIP.get(ownership or "", ownership or "user"),
        )

    @classmethod
    def list_from_api(cls, body: Any) -> tuple[Connection, ...]:
        """Every connection of a ``{"object": "list", "data": [...]}`` providers answer."""
        data = body.get("data") if isinstance(body, Mapping) else None
        if not isinstance(data, list):
            raise ValueError("expected an object with a 'data' list")
        return tuple(cls.from_api(item) for item in data)

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict: the provider, its state and its accounts, nothing secret."""
        return {
            "provider": self.provider,
            "name": self.name,
            "description": self.description,
            "connection_owner": self.connection_owner,
            "state": self.state,
            "active": self.active,
            "account": self.account.as_json() if self.account is not None else None,
            "accounts": [account.as_json() for account in self.accounts],
        }


def _optional_string(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"'{name}' must be a string or null")


def _parse_moment(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime; None when absent or unreadable
    (a display field is not worth refusing a whole answer for)."""
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but impossible: "2024-02-30T..."
        parsed = None
    return None if parsed is None else _utc(parsed)


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC; WorkOS sends UTC, so a naive timestamp is taken to be UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _isoformat(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@dataclass(frozen=True)
class WorkOSUser:
    """The parts of a WorkOS user object this app uses to link a Django user to it."""

    id: str
    email: str
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    @classmethod
    def from_api(cls, body: Any) -> WorkOSUser:
        """Build from a user object (get, create); ``ValueError`` when it isn't one."""
        if not isinstance(body, Mapping):
            raise ValueError("expected a user object")
        user_id, email = body.get("id"), body.get("email")
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("a user must have a non-empty 'id' string")
        if not isinstance(email, str):
            raise ValueError("a user must have an 'email' string")
        return cls(
            id=user_id,
            email=email,
            external_id=_optional_string(body, "external_id"),
            first_name=_optional_string(body, "first_name"),
            last_name=_optional_string(body, "last_name"),
        )


@dataclass(frozen=True)
class WorkOSOrganization:
    """The parts of a WorkOS organization object this app uses to link to it."""

    id: str
    name: str
    external_id: str | None = None

    @classmethod
    def from_api(cls, body: Any) -> WorkOSOrganization:
        """Build from an organization object; ``ValueError`` when it isn't one."""
        if not isinstance(body, Mapping):
            raise ValueError("expected an organization object")
        organization_id, name = body.get("id"), body.get("name")
        if not isinstance(organization_id, str) or not organization_id:
            raise ValueError("an organization must have a non-empty 'id' string")
        if not isinstance(name, str):
            raise ValueError("an organization must have a 'name' string")
        return cls(id=organization_id, name=name, external_id=_optional_string(body, "external_id"))
