"""The connected-account endpoints and the providers listings, for users and organizations.

``GET|DELETE /user_management/users/{user_id}/connected_accounts/{provider}``,
``GET /user_management/users/{user_id}/data_providers``, and the organization's own:
``GET|DELETE /organizations/{organization_id}/connected_accounts/{provider}``,
``GET /organizations/{organization_id}/data_providers``. The account is the
compatibility one unless the call names one (``connected_account_id``) or opts into
several (``supports_multiple_connections``); several matching with none named is the
409 ``account_selection_required``. Listings count as ``data_providers`` calls.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import wire
from .accounts import Accounts
from .api import known_provider, selection, selection_required
from .guard import ApiGuard, flag, not_found, optional_string
from .state import (
    COMPATIBILITY,
    ORGANIZATION,
    USER,
    AccountSelectionRequired,
    Connection,
    Key,
    make_key,
)
from .web import Handler, HttpError, Request, Response, Router, json_response, no_content

USER_ACCOUNT = "/user_management/users/{user_id}/connected_accounts/{provider}"
ORGANIZATION_ACCOUNT = "/organizations/{organization_id}/connected_accounts/{provider}"


class ConnectedApi:
    """Reading and deleting connected accounts, and listing providers with them."""

    def __init__(self, accounts: Accounts, guard: ApiGuard) -> None:
        self.accounts = accounts
        self.guard = guard

    def register(self, router: Router) -> None:
        routes: list[tuple[str, str, str, Handler]] = [
            ("GET", USER_ACCOUNT, "connected_account", self._get),
            ("DELETE", USER_ACCOUNT, "delete_connected_account", self._delete),
            ("GET", ORGANIZATION_ACCOUNT, "organization_connected_account", self._get),
            ("DELETE", ORGANIZATION_ACCOUNT, "delete_organization_connected_account", self._delete),
        ]
        for method, pattern, operation, step in routes:
            router.add(method, pattern, self.guard.route(operation, step))
        listings = [
            ("/user_management/users/{user_id}/data_providers", "data_providers"),
            ("/organizations/{organization_id}/data_providers", "organization_data_providers"),
        ]
        for pattern, operation in listings:
            handler = self.guard.route(operation, self._list, "data_providers")
            router.add("GET", pattern, handler)

    def _get(self, request: Request, params: Mapping[str, str]) -> Response:
        return json_response(200, self._account(request, params).connected_account())

    def _delete(self, request: Request, params: Mapping[str, str]) -> Response:
        connection = self._account(request, params)
        try:
            # Like WorkOS, the webhook goes out afterwards: the caller doesn't wait for it.
            self.accounts.remove(connection, wait=False)
        except LookupError:  # removed by another call meanwhile
            raise _not_found(params) from None
        return no_content()

    def _list(self, request: Request, params: Mapping[str, str]) -> Response:
        """Every configured provider, in a stable order, with this owner's accounts: the
        compatibility one, and every one when the call supports several."""
        owner = ORGANIZATION if "organization_id" in params else USER
        multiple = flag(request.query, "supports_multiple_connections")
        organization_id = params.get("organization_id") or optional_string(
            request.query, "organization_id"
        )
        items = []
        for provider in self.accounts.providers.values():
            key = make_key(provider.slug, params.get("user_id"), organization_id, owner)
            mine = self.accounts.accounts(key)
            first = next((c for c in mine if c.role == COMPATIBILITY), None)
            compatibility = None if first is None else first.connected_account()
            shown = [c.connected_account() for c in mine] if multiple else []
            if not multiple and compatibility is not None:
                shown = [compatibility]
            items.append(
                wire.data_provider(
                    provider.slug,
                    name=provider.name,
                    description=provider.description,
                    scopes=provider.scopes or None,
                    created_at=self.accounts.configured_at,
                    updated_at=self.accounts.configured_at,
                    compatibility=compatibility,
                    accounts=shown,
                    connection_owner=owner,
                    auth_methods=provider.auth_methods,
                    credentials_type=provider.credentials_type,
                )
            )
        return json_response(200, {"object": "list", "data": items})

    def _account(self, request: Request, params: Mapping[str, str]) -> Connection:
        """The account a connected-account call means, or its 404 (or 409)."""
        provider = known_provider(self.accounts, params)
        query = request.query
        account_id, multiple = selection(query)
        try:
            key = self._key(provider, params, query)
            connection = self.accounts.select(key, account_id, multiple)
        except AccountSelectionRequired:
            raise selection_required() from None
        if connection is None:
            raise _not_found(params)
        return connection

    @staticmethod
    def _key(provider: str, params: Mapping[str, str], query: Mapping[str, str]) -> Key:
        if "organization_id" in params:
            return make_key(provider, None, params["organization_id"], ORGANIZATION)
        return make_key(provider, params["user_id"], optional_string(query, "organization_id"))


def _not_found(params: Mapping[str, str]) -> HttpError:
    owner = (
        f"user '{params['user_id']}'"
        if "user_id" in params
        else f"organization '{params['organization_id']}'"
    )
    return not_found(f"No {params['provider']} connected account for {owner}.")
