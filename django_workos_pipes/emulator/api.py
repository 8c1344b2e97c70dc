"""The WorkOS Pipes endpoints, answering exactly in the wire format.

``POST /data-integrations/{provider}/token`` and ``/authorize``,
``GET|DELETE /user_management/users/{user_id}/connected_accounts/{provider}`` and
``GET /user_management/users/{user_id}/data_providers``. Every call goes through the
:class:`~.guard.ApiGuard`: recorded, counted, exposed to injected faults, key checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .. import wire
from .accounts import Accounts, IssueToken
from .endpoint import Endpoint
from .guard import ApiGuard, flag, invalid, not_found, optional_string, required_string
from .state import CONNECTED, KEEP, NEEDS_REAUTHORIZATION, Connection, Keep, UnknownConnection
from .web import (
    Handler,
    HttpError,
    Request,
    Response,
    Router,
    error_response,
    json_response,
    no_content,
)

CONNECTION_INTENTS = ("add", "reauthorize")
ACCOUNT = "/user_management/users/{user_id}/connected_accounts/{provider}"


class PipesApi:
    """The handlers of the API surface a WorkOS client talks to.

    ``issue_token`` is :meth:`Accounts.issue_token` or a method wrapping it.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        accounts: Accounts,
        guard: ApiGuard,
        issue_token: IssueToken,
    ) -> None:
        self.endpoint = endpoint
        self.accounts = accounts
        self.guard = guard
        self.issue_token = issue_token

    def register(self, router: Router) -> None:
        routes: list[tuple[str, str, str, Handler]] = [
            ("POST", "/data-integrations/{provider}/token", "token", self._token),
            ("POST", "/data-integrations/{provider}/authorize", "authorize", self._authorize),
            ("GET", ACCOUNT, "connected_account", self._get_account),
            ("DELETE", ACCOUNT, "delete_connected_account", self._delete_account),
            (
                "GET",
                "/user_management/users/{user_id}/data_providers",
                "data_providers",
                self._data_providers,
            ),
        ]
        for method, pattern, operation, step in routes:
            router.add(method, pattern, self._guarded(operation, step))

    def _guarded(self, operation: str, step: Handler) -> Handler:
        def handler(request: Request, params: Mapping[str, str]) -> Response:
            return self.guard.serve(operation, step, request, params)

        return handler

    # The answers, once the call is recorded, counted and its key checked -----------

    def _token(self, request: Request, params: Mapping[str, str]) -> Response:
        provider = self._provider(params)
        user_id, organization_id = _identity(request.json_object())
        connection = self.issue_token(provider, user_id, organization_id)
        if connection is None:
            return json_response(200, wire.inactive_token_answer(wire.NOT_INSTALLED))
        if connection.state != CONNECTED:
            return json_response(200, wire.inactive_token_answer(NEEDS_REAUTHORIZATION))
        return json_response(200, connection.token_answer())

    def _authorize(self, request: Request, params: Mapping[str, str]) -> Response:
        provider = self._provider(params)
        body = request.json_object()
        user_id, organization_id = _identity(body)
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
        consent = self.accounts.start_consent(
            provider,
            user_id,
            organization_id,
            return_to,
            intent,
            account_id,
            _display_name(body),
        )
        url = f"{self.endpoint.public_url}/consent/{consent.id}"
        return json_response(200, {"url": url, "state": consent.state})

    def _get_account(self, request: Request, params: Mapping[str, str]) -> Response:
        connection = self._account(request, params)
        return json_response(200, connection.connected_account())

    def _delete_account(self, request: Request, params: Mapping[str, str]) -> Response:
        connection = self._account(request, params)
        try:
            # Like WorkOS, the webhook goes out afterwards: the caller doesn't wait for it.
            self.accounts.remove(connection.key, wait=False)
        except UnknownConnection:  # removed by another call meanwhile
            raise _account_not_found(params) from None
        return no_content()

    def _data_providers(self, request: Request, params: Mapping[str, str]) -> Response:
        """Every configured provider, in a stable order, with this user's account."""
        user_id, query = params["user_id"], request.query
        organization_id = optional_string(query, "organization_id")
        flag(query, "supports_multiple_connections")  # one account per provider here
        items = []
        for provider in self.accounts.providers.values():
            account = self.accounts.get(provider.slug, user_id, organization_id)
            shown = None if account is None else account.connected_account()
            items.append(
                wire.data_provider(
                    provider.slug,
                    name=provider.name,
                    description=provider.description,
                    scopes=provider.scopes or None,
                    created_at=self.accounts.configured_at,
                    updated_at=self.accounts.configured_at,
                    compatibility=shown,
                    accounts=[] if shown is None else [shown],
                )
            )
        return json_response(200, {"object": "list", "data": items})

    # Shared steps ------------------------------------------------------------------

    def _account(self, request: Request, params: Mapping[str, str]) -> Connection:
        """The account a connected-account call names, or its 404.

        ``connected_account_id``, when given, must name that very account;
        ``supports_multiple_connections`` is read but changes nothing while each user
        has one account per provider.
        """
        provider = self._provider(params)
        query = request.query
        flag(query, "supports_multiple_connections")
        wanted = optional_string(query, "connected_account_id")
        connection = self.accounts.get(
            provider, params["user_id"], optional_string(query, "organization_id")
        )
        if connection is None or (wanted is not None and wanted != connection.id):
            raise _account_not_found(params)
        return connection

    def _provider(self, params: Mapping[str, str]) -> str:
        slug = params["provider"]
        if slug not in self.accounts.providers:
            raise HttpError(
                error_response(
                    404,
                    f"Could not find a data integration for '{slug}'.",
                    "entity_not_found",
                    entity_id=slug,
                )
            )
        return slug


def _identity(body: dict[str, Any]) -> tuple[str, str | None]:
    return required_string(body, "user_id"), optional_string(body, "organization_id")


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


def _account_not_found(params: Mapping[str, str]) -> HttpError:
    return not_found(f"No {params['provider']} connected account for user '{params['user_id']}'.")
