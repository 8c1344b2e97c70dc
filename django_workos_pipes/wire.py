"""The WorkOS wire vocabulary: ids, timestamps, event types and the shapes of answers.

One place for what the events parser, the testing helpers and the emulator must agree
on, so that the three can't drift apart. Standard library only, and no Django: the
emulator runs without Django, and the pytest plugin imports this before Django is set
up. Shapes follow the official ``workos`` SDK's models (see the README's references).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, TypeGuard

# Event types. Both families name the same changes; WorkOS may send either.
CONNECTED_ACCOUNT_EVENTS: Mapping[str, str] = {
    "connected": "pipes.connected_account.connected",
    "disconnected": "pipes.connected_account.disconnected",
    "reauthorization_needed": "pipes.connected_account.reauthorization_needed",
    "connection_failed": "pipes.connected_account.connection_failed",
}
ACCOUNT_CONNECTION_EVENTS: Mapping[str, str] = {
    "connected": "pipes.account_connection.connected",
    "disconnected": "pipes.account_connection.disconnected",
    "reauthorization_needed": "pipes.account_connection.reauthorization_needed",
    "connection_failed": "pipes.account_connection.connection_failed",
    "add_failed": "pipes.account_connection.add_failed",
}
EVENT_FAMILIES: Mapping[str, Mapping[str, str]] = {
    "connected_account": CONNECTED_ACCOUNT_EVENTS,
    "account_connection": ACCOUNT_CONNECTION_EVENTS,
}
"""Each family's short names and full types, by family name (``family=`` arguments)."""
PIPES_EVENT_TYPES = frozenset(
    event_type for names in EVENT_FAMILIES.values() for event_type in names.values()
)
"""Every pipes event type of both families."""
FAILED_CHANGES = frozenset({"connection_failed", "add_failed"})
"""The changes that report a failed attempt (``data.object`` is ``"connection_failed"``):
they name no account, and the connection they were about is left as it was."""
EVENT_CONNECTED = CONNECTED_ACCOUNT_EVENTS["connected"]
EVENT_DISCONNECTED = CONNECTED_ACCOUNT_EVENTS["disconnected"]
EVENT_REAUTHORIZATION_NEEDED = CONNECTED_ACCOUNT_EVENTS["reauthorization_needed"]
EVENT_CONNECTION_FAILED = CONNECTED_ACCOUNT_EVENTS["connection_failed"]

# Connected account states, and the inactive token answers' error codes.
STATE_CONNECTED = "connected"
STATE_NEEDS_REAUTHORIZATION = "needs_reauthorization"
STATE_DISCONNECTED = "disconnected"
NOT_INSTALLED = "not_installed"
NEEDS_REAUTHORIZATION = "needs_reauthorization"
ACCOUNT_SELECTION_REQUIRED = "account_selection_required"
"""Several accounts match a call made with ``supports_multiple_connections`` and no
``connected_account_id``: an error body's ``code``, or a 200 answer's ``error``."""

# Who owns a connection: ``connection_owner`` on calls and in provider listings.
OWNER_USER = "user"
OWNER_ORGANIZATION = "organization"


def owner_fields(organization_id: str | None, owner: str) -> dict[str, str]:
    """The fields of a pipes call (token, credentials, authorize) that say whose
    connection it is about; each is left out when it says nothing new, as the official
    SDK does: ``organization_id`` when there is none, ``connection_owner`` for a user's."""
    fields: dict[str, str] = {}
    if organization_id is not None:
        fields["organization_id"] = organization_id
    if owner == OWNER_ORGANIZATION:
        fields["connection_owner"] = OWNER_ORGANIZATION
    return fields


def authorize_body(
    user_id: str,
    return_to: str,
    organization_id: str | None,
    owner: str,
    connected_account_id: str | None,
) -> dict[str, str]:
    """The body of ``POST /data-integrations/{provider}/authorize`` (the testing fake puts
    it in its URL's query): naming an account makes the flow reauthorize it."""
    body = {"user_id": user_id, "return_to": return_to, **owner_fields(organization_id, owner)}
    if connected_account_id is not None:
        body["connection_intent"] = "reauthorize"
        body["connected_account_id"] = connected_account_id
    return body


# Display names of well-known provider slugs (slugs are free, lower-case strings).
PROVIDER_NAMES: Mapping[str, str] = {
    "salesforce": "Salesforce",
    "hubspot": "HubSpot",
    "slack": "Slack",
    "google": "Google",
    "microsoft": "Microsoft",
    "jira": "Jira",
    "github": "GitHub",
    "notion": "Notion",
    "asana": "Asana",
    "dropbox": "Dropbox",
    "apollo-oauth": "Apollo",
}

_EVENT_STATES = {
    "connected": STATE_CONNECTED,
    "disconnected": STATE_DISCONNECTED,
    "reauthorization_needed": STATE_NEEDS_REAUTHORIZATION,
}
# Provider slugs: "free strings, lower case" (salesforce, apollo-oauth). Anything else,
# ``..`` above all, is refused before it can become part of a WorkOS URL.
PROVIDER_SLUG = re.compile(r"[a-z0-9_-]+")


def is_provider_slug(value: object) -> TypeGuard[str]:
    """True for lower-case letters, digits, ``-`` and ``_``; never ``""``, ``.``, ``..``."""
    return isinstance(value, str) and PROVIDER_SLUG.fullmatch(value) is not None


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def event_change(event_type: str) -> str | None:
    """``"pipes.connected_account.disconnected"`` -> ``"disconnected"``; None for an
    event type of neither pipes family."""
    family, _, change = event_type.rpartition(".")
    if family in ("pipes.connected_account", "pipes.account_connection"):
        return change
    return None


# Ids and timestamps.


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


_last_id = 0
_id_lock = threading.Lock()


def new_id(prefix: str) -> str:
    """A WorkOS-looking id (``ca_01HV…``): a ULID, so ids sort by creation time.

    Monotonic within this process: two ids made in the same millisecond still sort in
    the order they were made (the emulator's list cursors compare ids).
    """
    global _last_id
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    with _id_lock:
        if value <= _last_id:  # same millisecond (or the clock went back)
            value = _last_id + 1
        _last_id = value
    return f"{prefix}_{_base32(value, 26)}"


def stable_id(prefix: str, seed: str) -> str:
    """An id derived from ``seed``, the same on every run (data integration ids)."""
    digest = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:17], "big")
    return f"{prefix}_{_base32(digest, 26)}"


def now() -> datetime:
    """The current UTC time, to the millisecond: the precision the wire format keeps."""
    moment = datetime.now(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def timestamp(moment: datetime) -> str:
    """``2024-03-02T16:30:00.123Z``: the form of WorkOS's ``created_at``/``updated_at``."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def expiry(moment: datetime | None) -> str | None:
    """``2024-03-02T16:30:00Z`` (or ``None``): the form of ``expires_at``."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str | None) -> datetime | None:
    """Read back a timestamp written by :func:`timestamp` or :func:`expiry`."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


# Errors.


def error_body(message: str, code: str, **extra: Any) -> dict[str, Any]:
    """The ``{"message", "code"}`` error shape every WorkOS error answer uses."""
    return {"message": message, "code": code, **extra}


def status_code_name(status: int) -> str:
    """A WorkOS-style error code for an HTTP status (429 -> ``rate_limit_exceeded``)."""
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        return "rate_limit_exceeded"
    return re.sub(r"[^a-z0-9]+", "_", status_phrase(status).lower()).strip("_") or "error"


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# Answers of the token call.


def active_token_answer(
    access_token: str,
    *,
    expires_at: datetime | None,
    scopes: Iterable[str] = (),
    missing_scopes: Iterable[str] = (),
) -> dict[str, Any]:
    """The 200 body of ``POST /data-integrations/{slug}/token`` for an active connection."""
    return {
        "active": True,
        "access_token": {
            "object": "access_token",
            "access_token": access_token,
            "expires_at": expiry(expires_at),
            "scopes": list(scopes),
            "missing_scopes": list(missing_scopes),
        },
    }


def inactive_token_answer(error: str) -> dict[str, Any]:
    """The 200 body of the token call for an inactive connection (``not_installed``...)."""
    return {"active": False, "error": error}


# Connected accounts and events.


def connected_account(
    account_id: str,
    *,
    user_id: str | None,
    organization_id: str | None,
    scopes: Iterable[str],
    state: str,
    created_at: datetime,
    updated_at: datetime,
    **extra: Any,
) -> dict[str, Any]:
    """The ``connected_account`` object, with every key the official SDK requires."""
    return {
        "object": "connected_account",
        "id": account_id,
        "user_id": user_id,
        "organization_id": organization_id,
        "scopes": list(scopes),
        "state": state,
        "connection_role": "compatibility",
        "account_identifier": None,
        "account_display_name": None,
        "auth_method": "oauth",
        "created_at": timestamp(created_at),
        "updated_at": timestamp(updated_at),
        **extra,
    }


# ``connection_owner`` and its deprecated spelling, ``ownership`` (which older clients,
# such as the Node SDK, still require).
OWNERSHIP = {"user": "userland_user", "organization": "organization"}


def data_provider(
    slug: str,
    *,
    name: str,
    description: str | None,
    scopes: Iterable[str] | None,
    created_at: datetime,
    updated_at: datetime,
    accounts: Iterable[Mapping[str, Any]] = (),
    compatibility: Mapping[str, Any] | None = None,
    connection_owner: str = "user",
    auth_methods: Iterable[str] = ("oauth",),
    credentials_type: str = "oauth2",
) -> dict[str, Any]:
    """A ``data_provider`` item of the providers listings, with every key the official
    SDK requires: ``compatibility`` is the ``connected_account`` slot, ``accounts`` the
    ``connected_accounts`` list (those the call asked for)."""
    return {
        "object": "data_provider",
        "id": stable_id("data_integration", slug),
        "name": name,
        "description": description,
        "slug": slug,
        "integration_type": slug,
        "credentials_type": credentials_type,
        "scopes": None if scopes is None else list(scopes),
        "connection_owner": connection_owner,
        "ownership": OWNERSHIP.get(connection_owner, connection_owner),
        "auth_methods": list(auth_methods),
        "created_at": timestamp(created_at),
        "updated_at": timestamp(updated_at),
        "connected_account": None if compatibility is None else dict(compatibility),
        "connected_accounts": [dict(account) for account in accounts],
    }


def account_event_data(account: Mapping[str, Any], provider: str) -> dict[str, Any]:
    """The ``data`` of a connected / disconnected / reauthorization_needed event: the
    account as events see it, with the provider it belongs to."""
    return {
        **account,
        "data_integration_id": stable_id("data_integration", provider),
        "provider_slug": provider,
    }


def connection_failed_data(
    provider: str,
    *,
    user_id: str | None,
    organization_id: str | None,
    error_code: str = "access_denied",
    error_reason: str | None = "The user denied access to the application.",
    provider_error: str | None = "access_denied",
    provider_error_description: str | None = "The resource owner denied the request.",
) -> dict[str, Any]:
    """The ``data`` of a ``connection_failed`` (or ``add_failed``) event."""
    return {
        "object": "connection_failed",
        "data_integration_id": stable_id("data_integration", provider),
        "provider_slug": provider,
        "user_id": user_id,
        "organization_id": organization_id,
        "error_code": error_code,
        "error_reason": error_reason,
        "provider_error": provider_error,
        "provider_error_description": provider_error_description,
        "created_at": timestamp(now()),
    }


def full_event_type(name: str, family: str | None = None) -> str:
    """``"disconnected"`` -> ``"pipes.connected_account.disconnected"``, or with
    ``family="account_connection"`` -> ``"pipes.account_connection.disconnected"``; full
    names pass unchanged. With no family, a name only the newer family has
    (``add_failed``) is of that family. Raises ``ValueError`` for an unknown family, or a
    short name the family lacks."""
    if family is None:
        return CONNECTED_ACCOUNT_EVENTS.get(name) or ACCOUNT_CONNECTION_EVENTS.get(name, name)
    names = EVENT_FAMILIES.get(family)
    if names is None:
        raise ValueError(f"unknown event family {family!r}: one of {', '.join(EVENT_FAMILIES)}")
    if "." not in name and name not in names:
        raise ValueError(f"the {family} family has no {name!r} event")
    return names.get(name, name)


def pipes_event(
    event_type: str,
    provider: str,
    user_id: str | None,
    organization_id: str | None = None,
    *,
    event_id: str | None = None,
    family: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    """A pipes event envelope shaped like WorkOS's, for ``event_type`` (a full type or
    a short name such as ``"disconnected"``, of ``family`` as :func:`full_event_type`
    reads it); ``data`` adds or overrides data fields."""
    full_type = full_event_type(event_type, family)
    body: dict[str, Any] = {}
    state = event_state(full_type)
    if event_change(full_type) in FAILED_CHANGES:
        body = connection_failed_data(provider, user_id=user_id, organization_id=organization_id)
    elif state is not None:
        moment = now()
        account = connected_account(
            new_id("ca"),
            user_id=user_id,
            organization_id=organization_id,
            scopes=["api", "refresh_token"],
            state=state,
            created_at=moment,
            updated_at=moment,
        )
        body = account_event_data(account, provider)
    body.update(data)
    return event_envelope(full_type, body, event_id=event_id)


def event_state(event_type: str) -> str | None:
    """The account state an event of this type reports, if it reports one."""
    change = event_change(event_type)
    return _EVENT_STATES.get(change) if change else None


def event_envelope(
    event_type: str, data: Mapping[str, Any], *, event_id: str | None = None
) -> dict[str, Any]:
    """The ``{"object": "event", ...}`` wrapper WorkOS puts around every event."""
    return {
        "object": "event",
        "id": event_id or new_id("event"),
        "event": event_type,
        "data": dict(data),
        "created_at": timestamp(now()),
    }


# Users and organizations (linking a site's own users to WorkOS users).

EMAIL_NOT_AVAILABLE = "email_not_available"
"""The ``errors[].code`` of the 400 WorkOS answers to a user created with an e-mail
address another user already has (observed behaviour: no SDK documents it)."""


def user_object(
    user_id: str,
    *,
    email: str,
    external_id: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    email_verified: bool = False,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The ``user`` object of the user endpoints, with every key the official SDK requires."""
    created = created_at or now()
    return {
        "object": "user",
        "id": user_id,
        "email": email,
        "email_verified": email_verified,
        "first_name": first_name,
        "last_name": last_name,
        "profile_picture_url": None,
        "external_id": external_id,
        "last_sign_in_at": None,
        "metadata": {},
        "created_at": timestamp(created),
        "updated_at": timestamp(updated_at or created),
        **extra,
    }


def email_not_available_error() -> dict[str, Any]:
    """The 400 body of ``POST /user_management/users`` for an e-mail address already taken."""
    return error_body(
        "Could not create user.",
        "user_creation_error",
        errors=[{"code": EMAIL_NOT_AVAILABLE, "message": "This email is not available."}],
    )


def organization_object(
    organization_id: str,
    *,
    name: str,
    external_id: str | None = None,
    created_at: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The ``organization`` object, with every key the official SDK requires."""
    created = timestamp(created_at or now())
    return {
        "object": "organization",
        "id": organization_id,
        "name": name,
        "domains": [],
        "metadata": {},
        "external_id": external_id,
        "created_at": created,
        "updated_at": created,
        **extra,
    }
