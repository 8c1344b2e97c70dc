"""Organization-owned connections in the service and the client: the wire calls, one
cache entry per (provider, organization) shared by every member, and its invalidation.
WorkOS is stubbed with ``responses`` at the HTTP boundary."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import responses
from responses import matchers

from django_workos_pipes import pipes, wire
from django_workos_pipes.caching.keys import connection_keys
from django_workos_pipes.exceptions import InvalidPathSegment, PipesReauthorizationRequired
from django_workos_pipes.owners import OWNERS, ConnectionRef, check_owner
from django_workos_pipes.signals import DISCONNECT, connection_changed
from django_workos_pipes.testing import post_webhook, webhook_event
from django_workos_pipes.workos.client import PipesClient
from tests import builders
from tests.builders import inactive_answer, token_answer
from tests.settings import API_KEY
from tests.stubs import WORKOS

ORG = "org_01ACME"
MEMBERS = ("user_ann", "user_bob", "user_cid")
TOKEN_URL = f"{WORKOS}/data-integrations/salesforce/token"
ORG_ACCOUNT_URL = f"{WORKOS}/organizations/{ORG}/connected_accounts/salesforce"
ORG_LISTING_URL = f"{WORKOS}/organizations/{ORG}/data_providers"


def organization_token(
    workos_stub: responses.RequestsMock,
    member: str = "user_ann",
    body: dict[str, Any] | None = None,
    **extra: Any,
) -> responses.BaseResponse:
    """The token call for the organization's connection, asked by ``member``: exactly
    this body, or no stub matches."""
    expected = {
        "user_id": member,
        "organization_id": ORG,
        "connection_owner": "organization",
        **extra,
    }
    return workos_stub.post(
        TOKEN_URL,
        json=token_answer("ya29.shared-org-token") if body is None else body,
        match=[matchers.json_params_matcher(expected)],
    )


def organization_tokens(workos_stub: responses.RequestsMock) -> list[dict[str, Any]]:
    """Answer the organization's token to any member; the bodies sent, in order."""
    sent: list[dict[str, Any]] = []

    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        sent.append(json.loads(request.body))
        return 200, {}, json.dumps(token_answer("ya29.shared-org-token"))

    workos_stub.add_callback(responses.POST, TOKEN_URL, callback=respond)
    return sent


def shared_token(user_id: str = "user_ann") -> None:
    """A member reads the organization's Salesforce token (the shared entry)."""
    pipes.get_access_token("salesforce", user_id=user_id, organization_id=ORG, owner="organization")


# Owner values ------------------------------------------------------------------------


def test_owner_is_user_or_organization_and_nothing_else() -> None:
    assert OWNERS == (wire.OWNER_USER, wire.OWNER_ORGANIZATION) == ("user", "organization")
    assert [check_owner(owner) for owner in OWNERS] == ["user", "organization"]
    for wrong in ("org", "Organization", "", None, 1):
        with pytest.raises(ValueError, match="owner must be 'user' or 'organization'"):
            check_owner(wrong)


@pytest.mark.parametrize(
    "call",
    [
        lambda: pipes.get_access_token("salesforce", user_id="user_ann", owner="team"),  # type: ignore[arg-type]
        lambda: pipes.get_access_token("salesforce", user_id="user_ann", owner="organization"),
        lambda: pipes.get_access_token(
            "salesforce", user_id="user_ann", organization_id="", owner="organization"
        ),
        lambda: pipes.disconnect("salesforce", owner="organization"),
        lambda: pipes.disconnect("salesforce"),
        lambda: pipes.get_connected_account("salesforce", organization_id=ORG),
        lambda: pipes.session("salesforce", user_id="user_ann", owner="organisation"),  # type: ignore[arg-type]
        lambda: pipes.list_organization_connections(""),
        lambda: pipes.invalidate("salesforce", owner="organization"),
    ],
)
def test_a_wrong_owner_or_a_missing_id_fails_before_workos_is_asked(
    workos_stub: responses.RequestsMock, call: Any
) -> None:
    with pytest.raises(ValueError):
        call()
    assert len(workos_stub.calls) == 0


# Tokens ------------------------------------------------------------------------------


def test_the_token_call_names_the_owner_the_organization_and_the_member(
    workos_stub: responses.RequestsMock,
) -> None:
    organization_token(workos_stub, "user_bob")

    result = pipes.get_access_token(
        "salesforce", user_id="user_bob", organization_id=ORG, owner="organization"
    )

    assert result.active and result.access_token is not None
    assert result.access_token.access_token == "ya29.shared-org-token"


def test_a_user_owned_call_sends_no_owner(workos_stub: responses.RequestsMock) -> None:
    workos_stub.post(
        TOKEN_URL,
        json=token_answer(),
        match=[matchers.json_params_matcher({"user_id": "user_ann", "organization_id": ORG})],
    )
    assert pipes.get_access_token("salesforce", user_id="user_ann", organization_id=ORG).active


def test_three_members_loading_100_times_cost_one_upstream_call(
    lenient_workos_stub: responses.RequestsMock,
) -> None:
    sent = organization_tokens(lenient_workos_stub)

    for _ in range(100):
        for member in MEMBERS:
            result = pipes.get_access_token(
                "salesforce", user_id=member, organization_id=ORG, owner="organization"
            )
            assert result.active

    assert len(sent) == 1


def test_the_organization_entry_is_keyed_without_the_user() -> None:
    keys = {connection_keys("salesforce", member, ORG, owner="organization") for member in MEMBERS}
    assert len(keys) == 1
    (shared,) = keys
    assert shared != connection_keys("salesforce", "user_ann", ORG)
    assert shared != connection_keys("salesforce", None, "org_other", owner="organization")


def test_the_organization_and_a_member_s_own_connection_are_apart(
    lenient_workos_stub: responses.RequestsMock,
) -> None:
    organization_token(lenient_workos_stub)
    lenient_workos_stub.post(
        TOKEN_URL,
        json=inactive_answer("not_installed"),
        match=[matchers.json_params_matcher({"user_id": "user_ann", "organization_id": ORG})],
    )

    shared = pipes.get_access_token(
        "salesforce", user_id="user_ann", organization_id=ORG, owner="organization"
    )
    own = pipes.get_access_token("salesforce", user_id="user_ann", organization_id=ORG)

    assert shared.active and not own.active


@pytest.mark.parametrize(
    "invalidate",
    [
        lambda: pipes.invalidate_organization("salesforce", ORG),
        lambda: pipes.invalidate("salesforce", organization_id=ORG, owner="organization"),
        lambda: asyncio.run(pipes.ainvalidate_organization("salesforce", ORG)),
    ],
)
def test_organization_invalidation_ends_the_shared_entry(
    lenient_workos_stub: responses.RequestsMock, invalidate: Any
) -> None:
    sent = organization_tokens(lenient_workos_stub)
    shared_token()

    assert invalidate() is True
    shared_token()

    assert len(sent) == 2


def test_a_member_s_own_invalidation_keeps_the_shared_entry(
    lenient_workos_stub: responses.RequestsMock,
) -> None:
    sent = organization_tokens(lenient_workos_stub)
    shared_token()

    pipes.invalidate("salesforce", user_id="user_ann", organization_id=ORG)
    pipes.invalidate_organization("salesforce", "org_other")
    shared_token()

    assert len(sent) == 1


@pytest.mark.django_db
def test_an_organization_event_ends_the_shared_entry(
    lenient_workos_stub: responses.RequestsMock, client: Any
) -> None:
    sent = organization_tokens(lenient_workos_stub)
    shared_token("user_bob")

    event = webhook_event("reauthorization_needed", "salesforce", None, ORG)
    assert post_webhook(client, event).status_code == 200
    shared_token("user_bob")

    assert len(sent) == 2


def test_require_access_token_names_the_organization(workos_stub: responses.RequestsMock) -> None:
    organization_token(workos_stub, body=inactive_answer("needs_reauthorization"))

    with pytest.raises(PipesReauthorizationRequired) as caught:
        pipes.require_access_token(
            "salesforce", user_id="user_ann", organization_id=ORG, owner="organization"
        )

    assert (caught.value.owner, caught.value.organization_id) == ("organization", ORG)
    assert "connection of organization org_01AC" in str(caught.value)
    assert "administrator" in str(caught.value)


def test_a_session_calls_the_provider_with_the_shared_token(
    workos_stub: responses.RequestsMock,
) -> None:
    organization_token(workos_stub, "user_cid")
    workos_stub.get(
        "https://acme.my.salesforce.com/services/data/",
        json={},
        match=[matchers.header_matcher({"Authorization": "Bearer ya29.shared-org-token"})],
    )

    session = pipes.session(
        "salesforce", user_id="user_cid", organization_id=ORG, owner="organization"
    )

    assert session.get("https://acme.my.salesforce.com/services/data/").status_code == 200


def test_async_twins_take_the_owner(lenient_workos_stub: responses.RequestsMock) -> None:
    sent = organization_tokens(lenient_workos_stub)
    ask = {"user_id": "user_ann", "organization_id": ORG, "owner": "organization"}

    token = asyncio.run(pipes.arequire_access_token("salesforce", **ask))
    again = asyncio.run(pipes.aget_access_token("salesforce", **ask))

    assert token.access_token == "ya29.shared-org-token" and again.active
    assert len(sent) == 1


# The organization's accounts and listing -------------------------------------------------


def organization_provider(connected: dict[str, Any] | None) -> dict[str, Any]:
    return builders.data_provider(
        "salesforce",
        "Salesforce",
        connected,
        connection_owner="organization",
        ownership="organization",
    )


def organization_account(**extra: Any) -> dict[str, Any]:
    return builders.account(
        account_id="ca_01ORGSF",
        user_id=None,
        organization_id=ORG,
        established_by_user_id="user_ann",
        **extra,
    )


def test_the_organization_listing_is_its_own_endpoint_and_cached_once(
    workos_stub: responses.RequestsMock,
) -> None:
    workos_stub.get(
        ORG_LISTING_URL,
        json=builders.listing(organization_provider(organization_account())),
        match=[matchers.query_param_matcher({})],
    )

    first = pipes.list_organization_connections(ORG)
    second = pipes.list_organization_connections(ORG)

    assert first == second
    (salesforce,) = first
    assert salesforce.connection_owner == "organization" and salesforce.active
    assert salesforce.account is not None and salesforce.account.organization_id == ORG
    assert salesforce.account.user_id is None
    assert len(workos_stub.calls) == 1


def test_the_organization_listing_follows_the_organization_s_invalidations(
    lenient_workos_stub: responses.RequestsMock,
) -> None:
    lenient_workos_stub.get(ORG_LISTING_URL, json=builders.listing(organization_provider(None)))
    pipes.list_organization_connections(ORG)

    pipes.invalidate("salesforce", user_id="user_ann", organization_id=ORG)
    pipes.list_organization_connections(ORG)
    assert len(lenient_workos_stub.calls) == 1

    pipes.invalidate_organization("hubspot", ORG)
    pipes.list_organization_connections(ORG)
    assert len(lenient_workos_stub.calls) == 2
    assert asyncio.run(pipes.alist_organization_connections(ORG))[0].account is None


def test_the_organization_s_account_is_read_from_its_path(
    workos_stub: responses.RequestsMock,
) -> None:
    workos_stub.get(
        ORG_ACCOUNT_URL, json=organization_account(), match=[matchers.query_param_matcher({})]
    )
    workos_stub.get(
        f"{WORKOS}/organizations/org_none/connected_accounts/salesforce",
        status=404,
        json={"message": "Not found", "code": "entity_not_found"},
    )

    account = pipes.get_connected_account("salesforce", organization_id=ORG, owner="organization")
    missing = asyncio.run(
        pipes.aget_connected_account("salesforce", organization_id="org_none", owner="organization")
    )

    assert account is not None and account.id == "ca_01ORGSF"
    assert account.established_by_user_id == "user_ann"
    assert missing is None


def test_disconnecting_the_organization_s_account(
    lenient_workos_stub: responses.RequestsMock,
) -> None:
    sent = organization_tokens(lenient_workos_stub)
    lenient_workos_stub.delete(
        ORG_ACCOUNT_URL, status=204, match=[matchers.query_param_matcher({})]
    )
    shared_token()
    changes: list[dict[str, Any]] = []

    def receiver(**kwargs: Any) -> None:
        changes.append(kwargs)

    connection_changed.connect(receiver)
    try:
        removed = pipes.disconnect("salesforce", organization_id=ORG, owner="organization")
    finally:
        connection_changed.disconnect(receiver)
    shared_token()

    assert removed is True
    assert [(c["user_id"], c["organization_id"], c["event_type"]) for c in changes] == [
        (None, ORG, DISCONNECT)
    ]
    assert len(sent) == 2  # the shared entry was forgotten


def test_connect_and_reauthorize_the_organization_s_connection(
    workos_stub: responses.RequestsMock,
) -> None:
    authorize = f"{WORKOS}/data-integrations/salesforce/authorize"
    common = {
        "user_id": "user_ann",
        "organization_id": ORG,
        "connection_owner": "organization",
        "return_to": "https://app.example.com/team/",
    }
    workos_stub.post(
        authorize,
        json={"url": "https://workos.example/consent/1"},
        match=[matchers.json_params_matcher(common)],
    )
    workos_stub.get(ORG_ACCOUNT_URL, json=organization_account())
    workos_stub.post(
        authorize,
        json={"url": "https://workos.example/consent/2"},
        match=[
            matchers.json_params_matcher(
                {
                    **common,
                    "connection_intent": "reauthorize",
                    "connected_account_id": "ca_01ORGSF",
                }
            )
        ],
    )
    flow = {
        "user_id": "user_ann",
        "organization_id": ORG,
        "owner": "organization",
        "return_to": "https://app.example.com/team/",
    }

    assert pipes.authorize_url("salesforce", **flow) == "https://workos.example/consent/1"
    again = pipes.authorize_url("salesforce", reauthorize=True, **flow)
    assert again == "https://workos.example/consent/2"


def test_the_client_refuses_an_empty_organization_before_sending() -> None:
    client = PipesClient(api_key=API_KEY, base_url=WORKOS)
    with pytest.raises(InvalidPathSegment):
        client.list_organization_data_providers("")
    with pytest.raises(InvalidPathSegment):
        client.get_connected_account(
            ConnectionRef("salesforce", user_id=None, owner="organization")
        )


def test_the_support_command_lists_the_organization_s_shared_connections(
    workos_stub: responses.RequestsMock,
) -> None:
    from io import StringIO

    from django.core.management import CommandError, call_command

    workos_stub.get(
        ORG_LISTING_URL, json=builders.listing(organization_provider(organization_account()))
    )
    out = StringIO()

    call_command(
        "workos_pipes_connections", "--organization", ORG, "--shared", "--json", stdout=out
    )

    body = json.loads(out.getvalue())
    assert (body["user_id"], body["organization_id"]) == (None, ORG)
    assert [c["provider"] for c in body["connections"]] == ["salesforce"]
    with pytest.raises(CommandError, match="--shared needs --organization"):
        call_command("workos_pipes_connections", "--shared")


# Credentials of the organization's connection ---------------------------------------------


def test_the_organization_s_credential_is_shared_and_sends_the_owner(
    lenient_workos_stub: responses.RequestsMock,
) -> None:
    sent: list[dict[str, Any]] = []

    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        sent.append(json.loads(request.body))
        credential = {
            "object": "credential",
            "auth_method": "api_key",
            "value": "zd-org-api-key-0123456789",
            "config": {"subdomain": "acme"},
        }
        return 200, {}, json.dumps({"active": True, "credential": credential})

    lenient_workos_stub.add_callback(
        responses.POST, f"{WORKOS}/data-integrations/zendesk/credentials", callback=respond
    )

    for member in MEMBERS * 20:
        result = pipes.get_credentials("zendesk", user_id=member, **SHARED_ASK)
        assert result.credential is not None and result.credential.config == {"subdomain": "acme"}

    assert sent == [
        {"user_id": "user_ann", "organization_id": ORG, "connection_owner": "organization"}
    ]
    pipes.invalidate_organization("zendesk", ORG)
    asyncio.run(pipes.aget_credentials("zendesk", user_id="user_bob", **SHARED_ASK))
    assert len(sent) == 2


@pytest.mark.parametrize("error", [409, 200])
def test_account_selection_required_for_credentials_in_both_forms(
    workos_stub: responses.RequestsMock, error: int
) -> None:
    body = (
        {"active": False, "error": "account_selection_required"}
        if error == 200
        else {"message": "Pick one.", "code": "account_selection_required"}
    )
    workos_stub.post(f"{WORKOS}/data-integrations/zendesk/credentials", status=error, json=body)

    result = pipes.get_credentials("zendesk", user_id="user_ann")

    assert (result.active, result.error) == (False, "account_selection_required")


SHARED_ASK: dict[str, Any] = {"organization_id": ORG, "owner": "organization"}
