"""The WorkOS Pipes calls that vend secrets and start connections, in the wire format.

``POST /data-integrations/{provider}/token``, ``/credentials`` and ``/authorize``. Each
goes through the :class:`~.guard.ApiGuard` (recorded, counted, faults, key checked).
A call names its owner (``user_id``, ``organization_id``, ``connection_owner``) and may
pick an account (``connected_account_id``) or opt into several
(``supports_multiple_connections``): several matching with none named is a 409 whose
body ``code`` is ``account_selection_required`` (the SDK's error model; WorkOS documents
no status).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .. import wire
from .accounts import Accounts
from .endpoint import Endpoint
from .guard import ApiGuard, flag, invalid, not_found, optional_string, required_string
from .methods import ConnectionMethods
from .state import (
    API_KEY,
    CONNECTED,
    KEEP,
    NEEDS_REAUTHORIZATION,
    ORGANIZATION,
    OWNERS,
    USER,
    AccountSelectionRequired,
    Connection,
    Keep,
    UnknownConnection,
)
from .web import Handler, HttpError, Request, Response, Router, error_response, json_response

CONNECTION_INTENTS = ("add", "reauthorize")


class PipesApi:
    """The token, credentials and authorize calls.

    ``connections``: the emulator, whose ``issue_token`` a subclass may wrap.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        accounts: Accounts,
        guard: ApiGuard,
        connections: ConnectionMethods,
    ) -> None:
        self.endpoint = endpoint
        self.accounts = accounts
        self.guard = guard
        self.connections = connections

    def register(self, router: Router) -> None:
        routes: list[tuple[str, str, Handler]] = [
            ("token", "/data-integrations/{provider}/token", self._token),
            ("credentials", "/data-integrations/{provider}/credentials", self._credentials),
            ("authorize", "/data-integrations/{provider}/authorize", self._authorize),
        ]
        for operation, pattern, step in routes:
            router.add("POST", pattern, self.guard.route(operation, step))

    def _token(self, request: Request, params: Mapping[str, str]) -> Response:
        """An OAuth token; an API-key connection has none (ask for credentials)."""
        connection = self._issue(request, params)
        if isinstance(connection, Response):
            return connection
        if connection.auth_method == API_KEY:
            message = "This connection uses an API key: get it from the credentials endpoint."
            raise HttpError(error_response(400, message, "auth_method_mismatch"))
        return json_response(200, connection.token_answer())

    def _credentials(self, request: Request, params: Mapping[str, str]) -> Response:
        """The connection's credential: an OAuth token or an API key, with its config."""
        connection = self._issue(request, params)
        if isinstance(connection, Response):
            return connection
        return json_response(200, connection.credential_answer())

    def _issue(self, request: Request, params: Mapping[str, str]) -> Connection | Response:
        """The live connection a token or credentials call names, or the inactive answer."""
        provider = known_provider(self.accounts, params)
        body = request.json_object()
        user_id, organization_id, owner = owner_of(body)
        account_id, multiple = selection(body)
        try:
            connection = self.connections.issue_token(
                provider,
                user_id,
                organization_id,
                owner=owner,
                connected_account_id=account_id,
                multiple=multiple,
            )
        except AccountSelectionRequired:
            raise selection_required() from None
        if connection is None:
            return json_response(200, wire.inactive_token_answer(wire.NOT_INSTALLED))
        if connection.state != CONNECTED:
            return json_response(200, wire.inactive_token_answer(NEEDS_REAUTHORIZATION))
        return connection

    def _authorize(self, request: Request, params: Mapping[str, str]) -> Response:
        provider = known_provider(self.accounts, params)
        body = request.json_object()
        user_id, organization_id, owner = owner_of(body)
        return_to = optional_string(body, "return_to")
        if return_to is not None and not _is_web_url(return_to):
            raise invalid("return_to", "must be an absolute http(s) URL")
        intent = optional_string(body, "connection_intent")
        if intent is not None and intent not in CONNECTION_INTENTS:
            raise invalid("connection_intent", "must be 'add' or 'reauthorize'")
        if body.get("code_challenge") is not None:
            raise invalid("code_challenge", "is not supported by the emulator (finish flow)")
        account_id = optional_string(body, "connected_account_id")
        if intent == "reauthorize" and account_id is None:
            raise invalid("connected_account_id", "is required to reauthorize")
        if account_id is not None and intent != "reauthorize":
            raise invalid("connected_account_id", "is accepted with connection_intent reauthorize")
        try:
            consent = self.connections.start_consent(
                provider,
                user_id,
                organization_id,
                return_to,
                intent,
                account_id,
                _display_name(body),
                owner=owner,
                config=string_map(body, "config"),
            )
        except UnknownConnection:
            raise not_found(f"No connected account '{account_id}' to reauthorize.") from None
        url = f"{self.endpoint.public_url}/consent/{consent.id}"
        return json_response(200, {"url": url, "state": consent.state})


# Shared by the endpoint modules ---------------------------------------------------


def known_provider(accounts: Accounts, params: Mapping[str, str]) -> str:
    slug = params["provider"]
    if slug not in accounts.providers:
        raise HttpError(
            error_response(
                404,
                f"Could not find a data integration for '{slug}'.",
                "entity_not_found",
                entity_id=slug,
            )
        )
    return slug


def owner_of(body: Mapping[str, Any]) -> tuple[str, str | None, str]:
    """``user_id``, ``organization_id`` and ``connection_owner`` of a call body."""
    user_id = required_string(body, "user_id")
    organization_id = optional_string(body, "organization_id")
    owner = optional_string(body, "connection_owner") or USER
    if owner not in OWNERS:
        raise invalid("connection_owner", "must be 'user' or 'organization'")
    if owner == ORGANIZATION and organization_id is None:
        raise invalid("organization_id", "is required when connection_owner is organization")
    return user_id, organization_id, owner


def selection(data: Mapping[str, Any]) -> tuple[str | None, bool]:
    """``connected_account_id`` and ``supports_multiple_connections`` (body or query)."""
    return optional_string(data, "connected_account_id"), flag(
        data, "supports_multiple_connections"
    )


def selection_required() -> HttpError:
    return HttpError(
        error_response(
            409,
            "Several connected accounts match: pass connected_account_id to pick one.",
            "account_selection_required",
        )
    )


def string_map(body: Mapping[str, Any], name: str) -> dict[str, str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()
    ):
        raise invalid(name, "must be an object of strings")
    return dict(value)


def _display_name(body: Mapping[str, Any]) -> str | Keep | None:
    """``account_display_name``: left out keeps the label, null clears it."""
    if "account_display_name" not in body:
        return KEEP
    value = body["account_display_name"]
    if value is not None and not isinstance(value, str):
        raise invalid("account_display_name", "must be a string or null")
    return value


def _is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    printable = all(" " < char < "\x7f" for char in value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and printable
