"""The answers of ``get_access_token``: small immutable objects that never show a token.

They mirror the official SDKs' ``getAccessToken`` response in Python names. ``repr``
masks the token, so a result can be logged or shown in a debug page safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from django.utils.dateparse import parse_datetime

from . import wire
from .masking import mask

NOT_INSTALLED = wire.NOT_INSTALLED
NEEDS_REAUTHORIZATION = wire.NEEDS_REAUTHORIZATION


@dataclass(frozen=True)
class AccessToken:
    """An OAuth access token for one provider, vended by WorkOS."""

    access_token: str = field(repr=False)
    expires_at: datetime | None = None
    scopes: tuple[str, ...] = ()
    missing_scopes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"AccessToken(access_token={mask(self.access_token)!r}, "
            f"expires_at={self.expires_at!r}, scopes={self.scopes!r}, "
            f"missing_scopes={self.missing_scopes!r})"
        )

    __str__ = __repr__

    @property
    def masked(self) -> str:
        """The token as it may be shown to a person: ``ya29…``."""
        return mask(self.access_token)

    def has_scopes(self, required: tuple[str, ...] | list[str]) -> bool:
        """True when every required scope was granted and none of them is missing."""
        granted = set(self.scopes) - set(self.missing_scopes)
        return set(required) <= granted


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
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _parse_strings(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"'{name}' must be a list of strings")
    return tuple(value)


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


def _optional_string(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"'{name}' must be a string or null")
    return value
