"""WorkOS answers for the connections tests: providers listings and connected accounts,
shaped like the official SDK's models (a test checks them against the SDK itself)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import responses
from responses import matchers

from django_workos_pipes import wire
from tests.conftest import WORKOS

CREATED = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
UPDATED = datetime(2030, 2, 3, 4, 5, 6, tzinfo=timezone.utc)


def users_url(user_id: str = "user_ann") -> str:
    return f"{WORKOS}/user_management/users/{user_id}"


def listing_url(user_id: str = "user_ann") -> str:
    return f"{users_url(user_id)}/data_providers"


def account_url(provider: str, user_id: str = "user_ann") -> str:
    return f"{users_url(user_id)}/connected_accounts/{provider}"


def account(
    state: str = "connected",
    *,
    account_id: str = "ca_01SALESFORCE",
    user_id: str | None = "user_ann",
    organization_id: str | None = None,
    scopes: Iterable[str] = ("api", "refresh_token"),
    **extra: Any,
) -> dict[str, Any]:
    """A ``connected_account`` object with every key the SDK requires."""
    return wire.connected_account(
        account_id,
        user_id=user_id,
        organization_id=organization_id,
        scopes=scopes,
        state=state,
        created_at=CREATED,
        updated_at=UPDATED,
        **extra,
    )


def provider(
    slug: str, name: str, connected: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A ``data_provider`` item of the listing, with the user's account (or none)."""
    return {
        "object": "data_provider",
        "id": wire.stable_id("data_integration", slug),
        "name": name,
        "description": f"{name} for the tests",
        "slug": slug,
        "integration_type": slug,
        "credentials_type": "oauth2",
        "scopes": ["api"],
        "connection_owner": "user",
        "ownership": "userland_user",
        "created_at": wire.timestamp(CREATED),
        "updated_at": wire.timestamp(CREATED),
        "connected_account": connected,
        "connected_accounts": [connected] if connected is not None else [],
        "auth_methods": ["oauth"],
        **extra,
    }


def listing(*providers: dict[str, Any]) -> dict[str, Any]:
    return {"object": "list", "data": list(providers)}


def ann_listing() -> dict[str, Any]:
    """Ann: Salesforce connected, HubSpot to reauthorize, Slack never connected."""
    return listing(
        provider(
            "salesforce",
            "Salesforce",
            account(account_display_name="Acme Sales", account_identifier="00D5g000004"),
        ),
        provider(
            "hubspot",
            "HubSpot",
            account(
                "needs_reauthorization",
                account_id="ca_01HUBSPOT",
                scopes=["crm.objects.contacts.read"],
                account_identifier="portal-4242",
            ),
        ),
        provider("slack", "Slack"),
    )


def stub_listing(
    upstream: responses.RequestsMock,
    body: Any = None,
    *,
    user_id: str = "user_ann",
    organization_id: str | None = None,
    status: int = 200,
) -> None:
    """Answer the listing of exactly this user (and organization, as a query parameter)."""
    query = {"organization_id": organization_id} if organization_id else {}
    upstream.get(
        listing_url(user_id),
        json=ann_listing() if body is None else body,
        status=status,
        match=[matchers.query_param_matcher(query)],
    )


def stub_delete(
    upstream: responses.RequestsMock,
    provider: str,
    *,
    user_id: str = "user_ann",
    organization_id: str | None = None,
    status: int = 204,
    body: Any = None,
) -> None:
    query = {"organization_id": organization_id} if organization_id else {}
    upstream.delete(
        account_url(provider, user_id),
        status=status,
        body=b"" if body is None else body,
        match=[matchers.query_param_matcher(query)],
    )


def listing_calls(upstream: responses.RequestsMock) -> int:
    return sum(
        1 for call in upstream.calls if call.request.url.split("?")[0].endswith("/data_providers")
    )
