"""Fidelity for the rest of the surface: the official ``workos`` SDK drives each newer
emulator endpoint over loopback, parses every answer, and verifies every webhook with
its own ``verify_event``.

The SDK is a test peer only (WorkOS's client, generated from their API description):
if it reads what the emulator says, the emulator speaks the real protocol.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from workos import BadRequestError, ConflictError, NotFoundError, ServerError, WorkOSClient
from workos.common.models import (
    ApiKeyDataIntegrationVendedCredential,
    OAuthDataIntegrationVendedCredential,
    PipesAccountConnectionAddFailed,
    PipesAccountConnectionConnected,
    PipesAccountConnectionConnectionFailed,
    PipesAccountConnectionDisconnected,
    PipesAccountConnectionReauthorizationNeeded,
    PipesConnectedAccountConnected,
    PipesConnectedAccountConnectionFailed,
    PipesConnectedAccountDisconnected,
    PipesConnectedAccountReauthorizationNeeded,
)

from django_workos_pipes.emulator import Emulator
from tests.emulator.calls import SECRET
from tests.servers import Receiver


def verified(sdk_on_emulator: WorkOSClient, receiver: Receiver) -> list[Any]:
    """Every webhook received, verified and parsed by the SDK."""
    return [
        sdk_on_emulator.webhooks.verify_event(
            event_body=body, event_signature=header, secret=SECRET
        )
        for body, header in receiver.raw()
    ]


# Issue 11: the providers listing and connected accounts ----------------------------


def test_the_sdk_lists_a_users_providers(sdk_on_emulator: WorkOSClient, emu: Emulator) -> None:
    salesforce = emu.connect("salesforce", "user_1", organization_id="org_1")
    emu.connect("slack", "user_1", organization_id="org_1")
    emu.needs_reauthorization("slack", "user_1", "org_1")

    answer = sdk_on_emulator.pipes.list_user_data_providers("user_1", organization_id="org_1")
    assert answer.object == "list"
    assert [item.slug for item in answer.data] == list(emu.providers)
    items = {item.slug: item for item in answer.data}
    item = items["salesforce"]
    assert item.object == "data_provider"
    assert item.name == "Salesforce" and item.description
    assert item.connection_owner.value == "user"
    assert item.ownership is not None and item.ownership.value == "userland_user"
    assert [method.value for method in item.auth_methods or []] == ["oauth"]
    account = item.connected_account
    assert account is not None
    assert account.id == salesforce.id
    assert account.connection_role.value == "compatibility"
    assert account.state.value == "connected"
    assert account.account_identifier == "user_1@salesforce.example.com"
    assert account.organization_id == "org_1"
    assert [a.id for a in item.connected_accounts] == [salesforce.id]
    slack = items["slack"].connected_account
    assert slack is not None and slack.state.value == "needs_reauthorization"
    assert items["github"].connected_account is None and items["github"].connected_accounts == []

    plural = sdk_on_emulator.pipes.list_user_data_providers(
        "user_1", organization_id="org_1", supports_multiple_connections=True
    )
    assert len(plural.data) == len(answer.data)
    nobody = sdk_on_emulator.pipes.list_user_data_providers("user_nobody")
    assert all(item.connected_account is None for item in nobody.data)


def test_the_sdk_reads_and_deletes_a_labelled_account(
    sdk_on_emulator: WorkOSClient, emu: Emulator, http: requests.Session, receiver: Receiver
) -> None:
    url = sdk_on_emulator.pipes.authorize_data_integration(
        "github", user_id="user_1", account_display_name="Work GitHub"
    ).url
    assert http.post(url, data={"decision": "allow"}).status_code == 200

    account = sdk_on_emulator.pipes.get_user_connected_account("user_1", "github")
    assert account.account_display_name == "Work GitHub"
    assert account.account_identifier == "user_1@github.example.com"
    assert account.established_by_user_id == "user_1"
    same = sdk_on_emulator.pipes.get_user_connected_account(
        "user_1", "github", supports_multiple_connections=True, connected_account_id=account.id
    )
    assert same.id == account.id

    with pytest.raises(NotFoundError):
        sdk_on_emulator.pipes.delete_user_connected_account(
            "user_1", "github", connected_account_id="ca_x"
        )
    sdk_on_emulator.pipes.delete_user_connected_account(
        "user_1", "github", supports_multiple_connections=True, connected_account_id=account.id
    )
    with pytest.raises(NotFoundError):
        sdk_on_emulator.pipes.get_user_connected_account("user_1", "github")
    listed = {
        item.slug: item for item in sdk_on_emulator.pipes.list_user_data_providers("user_1").data
    }
    assert listed["github"].connected_account is None
    assert (
        sdk_on_emulator.pipes.get_access_token("github", user_id="user_1").error == "not_installed"
    )

    assert emu.wait_for_webhooks(5)
    connected, disconnected = verified(sdk_on_emulator, receiver)
    assert isinstance(connected, PipesConnectedAccountConnected)
    assert isinstance(disconnected, PipesConnectedAccountDisconnected)
    assert connected.data.account_display_name == "Work GitHub"
    assert disconnected.data.id == account.id
    assert disconnected.data.state.value == "disconnected"


def test_a_listing_outage_reaches_the_sdk_as_its_error(
    sdk_on_emulator: WorkOSClient, emu: Emulator
) -> None:
    emu.inject_fault("status", status=503, on="data_providers")
    with pytest.raises(ServerError):
        sdk_on_emulator.pipes.list_user_data_providers("user_1")
    assert sdk_on_emulator.pipes.list_user_data_providers("user_1").data
    assert emu.listing_calls == 2 and emu.token_calls == 0


# Issue 13: the user endpoints --------------------------------------------------------


def test_the_sdk_creates_links_and_finds_users(
    sdk_on_emulator: WorkOSClient, emu: Emulator
) -> None:
    created = sdk_on_emulator.user_management.create_user(
        email=" Ann@Acme.COM", first_name="Ann", last_name="Example", external_id="17"
    )
    assert created.id.startswith("user_")
    assert created.email == "ann@acme.com"
    assert created.external_id == "17"
    assert created.email_verified is False
    assert created.created_at.tzinfo is not None

    found = sdk_on_emulator.user_management.get_user_by_external_id("17")
    assert found.id == created.id and found.first_name == "Ann"
    assert sdk_on_emulator.user_management.get_user(created.id).email == "ann@acme.com"
    with pytest.raises(NotFoundError):
        sdk_on_emulator.user_management.get_user_by_external_id("18")
    with pytest.raises(NotFoundError):
        sdk_on_emulator.user_management.get_user("user_nobody")

    bob = sdk_on_emulator.user_management.create_user(email="bob@acme.com")
    assert bob.external_id is None
    linked = sdk_on_emulator.user_management.update_user(bob.id, external_id="18", locale="en-GB")
    assert linked.external_id == "18" and linked.locale == "en-GB"
    assert linked.email == "bob@acme.com"
    assert sdk_on_emulator.user_management.get_user_by_external_id("18").id == bob.id


def test_a_taken_email_reaches_the_sdk_as_workos_sends_it(
    sdk_on_emulator: WorkOSClient, emu: Emulator
) -> None:
    sdk_on_emulator.user_management.create_user(email="ann@acme.com")
    with pytest.raises(BadRequestError) as refused:
        sdk_on_emulator.user_management.create_user(email="ANN@acme.com ")
    error = refused.value
    assert error.status_code == 400
    assert error.code == "user_creation_error"
    assert error.errors == [
        {"code": "email_not_available", "message": "This email is not available."}
    ]
    assert error.request_id


def test_the_sdk_lists_and_pages_users(sdk_on_emulator: WorkOSClient, emu: Emulator) -> None:
    made = [emu.create_user(f"user{n}@acme.com", organization_ids=["org_1"]).id for n in range(5)]
    emu.create_user("outsider@else.example")
    page = sdk_on_emulator.user_management.list_users(organization_id="org_1", limit=2)
    assert [user.id for user in page.data] == made[::-1][:2]
    assert page.has_more() and page.after == made[3]
    everyone = [user.id for user in page.auto_paging_iter()]
    assert everyone == made[::-1]
    by_email = sdk_on_emulator.user_management.list_users(email="USER3@acme.com")
    assert [user.id for user in by_email.data] == [made[3]]
    assert not by_email.has_more()
    ascending = sdk_on_emulator.user_management.list_users(order="asc", limit=10)
    assert [user.email for user in ascending.data][-1] == "outsider@else.example"


# Issue 14: a grant revoked at the provider, as WorkOS then tells it -----------------


def test_a_revoked_grant_reaches_the_sdk_as_needs_reauthorization(
    sdk_on_emulator: WorkOSClient, emu: Emulator, receiver: Receiver
) -> None:
    emu.connect("slack", "user_1")
    assert sdk_on_emulator.pipes.get_access_token("slack", user_id="user_1").active is True
    emu.revoke_at_provider("slack", "user_1")
    answer = sdk_on_emulator.pipes.get_access_token("slack", user_id="user_1")
    assert answer.active is False and answer.error == "needs_reauthorization"
    assert answer.access_token is None
    account = sdk_on_emulator.pipes.get_user_connected_account("user_1", "slack")
    assert account.state.value == "needs_reauthorization"

    emu.expire("slack", "user_1")  # a dead token sends no webhook
    assert emu.wait_for_webhooks(5)
    connected, reauthorization = verified(sdk_on_emulator, receiver)
    assert isinstance(connected, PipesConnectedAccountConnected)
    assert isinstance(reauthorization, PipesConnectedAccountReauthorizationNeeded)
    assert reauthorization.data.id == account.id
    assert reauthorization.data.state.value == "needs_reauthorization"


# Issue 12: organizations, credentials, several accounts, every Pipes event ---------

ORG = "org_acme"


def allow(http: requests.Session, url: str, **form: str) -> None:
    assert http.post(url, data={"decision": "allow", **form}).status_code == 200


def deny(http: requests.Session, url: str) -> None:
    assert http.post(url, data={"decision": "deny"}).status_code == 200


def test_the_sdk_drives_an_organizations_connection(
    sdk_on_emulator: WorkOSClient, emu: Emulator, http: requests.Session, receiver: Receiver
) -> None:
    url = sdk_on_emulator.pipes.authorize_data_integration(
        "salesforce", user_id="user_admin", organization_id=ORG, connection_owner="organization"
    ).url
    allow(http, url)

    token = sdk_on_emulator.pipes.get_access_token(
        "salesforce", user_id="user_member", organization_id=ORG, connection_owner="organization"
    )
    assert token.active is True and token.access_token is not None
    account = sdk_on_emulator.pipes.get_organization_connected_account(ORG, "salesforce")
    assert account.organization_id == ORG and account.user_id is None
    assert account.established_by_user_id == "user_admin"
    assert account.connection_role.value == "compatibility"
    listed = sdk_on_emulator.pipes.list_organization_data_providers(
        ORG, supports_multiple_connections=True
    )
    items = {item.slug: item for item in listed.data}
    assert items["salesforce"].connection_owner.value == "organization"
    assert items["salesforce"].connected_account is not None
    assert [a.id for a in items["salesforce"].connected_accounts] == [account.id]
    assert items["zendesk"].auth_methods is not None
    assert [m.value for m in items["zendesk"].auth_methods] == ["api_key"]

    sdk_on_emulator.pipes.delete_organization_connected_account(ORG, "salesforce")
    with pytest.raises(NotFoundError):
        sdk_on_emulator.pipes.get_organization_connected_account(ORG, "salesforce")
    gone = sdk_on_emulator.pipes.get_access_token(
        "salesforce", user_id="user_member", organization_id=ORG, connection_owner="organization"
    )
    assert gone.active is False and gone.error == "not_installed"

    assert emu.wait_for_webhooks(5)
    connected, disconnected = verified(sdk_on_emulator, receiver)
    assert isinstance(connected, PipesConnectedAccountConnected)
    assert isinstance(disconnected, PipesConnectedAccountDisconnected)
    for event in (connected, disconnected):
        assert event.data.user_id is None and event.data.organization_id == ORG
        assert event.data.id == account.id


def test_the_sdk_reads_oauth_and_api_key_credentials(
    sdk_on_emulator: WorkOSClient, emu: Emulator, http: requests.Session, receiver: Receiver
) -> None:
    url = sdk_on_emulator.pipes.authorize_data_integration(
        "jira", user_id="user_1", config={"site": "acme.atlassian.net"}
    ).url
    allow(http, url)
    oauth = sdk_on_emulator.pipes.create_data_integration_credential("jira", user_id="user_1")
    assert oauth.active is True and oauth.credential is not None
    credential = oauth.credential
    assert isinstance(credential, OAuthDataIntegrationVendedCredential)
    vended = sdk_on_emulator.pipes.get_access_token("jira", user_id="user_1").access_token
    assert vended is not None and credential.value == vended.access_token
    assert credential.config == {"site": "acme.atlassian.net"}
    assert credential.expires_at is not None and credential.scopes

    url = sdk_on_emulator.pipes.authorize_data_integration(
        "zendesk", user_id="user_admin", organization_id=ORG, connection_owner="organization"
    ).url
    allow(http, url, api_key="zd_org_key_0042", config_subdomain="acme")
    keyed = sdk_on_emulator.pipes.create_data_integration_credential(
        "zendesk", user_id="user_member", organization_id=ORG, connection_owner="organization"
    )
    assert isinstance(keyed.credential, ApiKeyDataIntegrationVendedCredential)
    assert keyed.credential.value == "zd_org_key_0042"
    assert keyed.credential.config == {"subdomain": "acme"}
    account = sdk_on_emulator.pipes.get_organization_connected_account(ORG, "zendesk")
    assert account.auth_method is not None and account.auth_method.value == "api_key"
    assert account.api_key_last_4 == "0042" and account.config == {"subdomain": "acme"}
    none = sdk_on_emulator.pipes.create_data_integration_credential(
        "zendesk", user_id="user_member"
    )
    assert none.active is False and none.error is not None
    assert none.error.value == "not_installed"

    assert emu.wait_for_webhooks(5)
    events = verified(sdk_on_emulator, receiver)
    assert [type(e) for e in events] == [PipesConnectedAccountConnected] * 2
    assert events[1].data.auth_method is not None
    assert events[1].data.auth_method.value == "api_key"


def test_the_sdk_meets_several_accounts_and_must_pick_one(
    sdk_on_emulator: WorkOSClient, emu: Emulator, http: requests.Session
) -> None:
    first = emu.connect("github", "user_1")
    allow(
        http,
        sdk_on_emulator.pipes.authorize_data_integration(
            "github", user_id="user_1", connection_intent="add", account_display_name="Side"
        ).url,
    )
    with pytest.raises(ConflictError) as conflict:
        sdk_on_emulator.pipes.get_access_token(
            "github", user_id="user_1", supports_multiple_connections=True
        )
    assert conflict.value.code == "account_selection_required"
    with pytest.raises(ConflictError):
        sdk_on_emulator.pipes.create_data_integration_credential(
            "github", user_id="user_1", supports_multiple_connections=True
        )
    listed = sdk_on_emulator.pipes.list_user_data_providers(
        "user_1", supports_multiple_connections=True
    )
    github = {item.slug: item for item in listed.data}["github"]
    assert github.connected_account is not None and github.connected_account.id == first.id
    roles = [a.connection_role.value for a in github.connected_accounts]
    assert roles == ["compatibility", "standard"]
    side = github.connected_accounts[1]
    assert side.account_display_name == "Side"
    picked = sdk_on_emulator.pipes.get_access_token(
        "github", user_id="user_1", supports_multiple_connections=True, connected_account_id=side.id
    )
    assert picked.active is True
    compatibility = sdk_on_emulator.pipes.get_access_token("github", user_id="user_1").access_token
    assert compatibility is not None and compatibility.access_token == first.access_token
    reauthorize = sdk_on_emulator.pipes.authorize_data_integration(
        "github", user_id="user_1", connection_intent="reauthorize", connected_account_id=side.id
    )
    assert reauthorize.url.startswith(f"{emu.url}/consent/")
    with pytest.raises(NotFoundError):
        sdk_on_emulator.pipes.authorize_data_integration(
            "github",
            user_id="user_2",
            connection_intent="reauthorize",
            connected_account_id=side.id,
        )
    sdk_on_emulator.pipes.delete_user_connected_account(
        "user_1", "github", supports_multiple_connections=True, connected_account_id=side.id
    )
    assert [a.id for a in emu.accounts("github", "user_1")] == [first.id]


def test_every_webhook_of_both_families_verifies_with_the_sdk(
    sdk_on_emulator: WorkOSClient, emu: Emulator, http: requests.Session, receiver: Receiver
) -> None:
    deny(http, sdk_on_emulator.pipes.authorize_data_integration("slack", user_id="user_1").url)
    emu.connect("slack", "user_1")
    emu.needs_reauthorization("slack", "user_1")
    emu.disconnect("slack", "user_1")
    switched = http.post(
        f"{emu.url}/_emulator/settings", json={"event_family": "account_connection"}
    )
    assert switched.status_code == 200
    deny(http, sdk_on_emulator.pipes.authorize_data_integration("asana", user_id="user_1").url)
    emu.connect("asana", "user_1", organization_id=ORG)
    deny(
        http,
        sdk_on_emulator.pipes.authorize_data_integration(
            "asana", user_id="user_1", organization_id=ORG, connection_intent="add"
        ).url,
    )
    emu.needs_reauthorization("asana", "user_1", ORG)
    emu.disconnect("asana", "user_1", ORG)
    assert emu.wait_for_webhooks(5)

    events = verified(sdk_on_emulator, receiver)
    assert [type(event) for event in events] == [
        PipesConnectedAccountConnectionFailed,
        PipesConnectedAccountConnected,
        PipesConnectedAccountReauthorizationNeeded,
        PipesConnectedAccountDisconnected,
        PipesAccountConnectionConnectionFailed,
        PipesAccountConnectionConnected,
        PipesAccountConnectionAddFailed,
        PipesAccountConnectionReauthorizationNeeded,
        PipesAccountConnectionDisconnected,
    ]
    failed = events[0].data
    assert failed.provider_slug == "slack" and failed.user_id == "user_1"
    assert failed.error_code == "access_denied"
    added = events[6].data
    assert added.provider_slug == "asana" and added.organization_id == ORG
    assert [e.data.state.value for e in events if hasattr(e.data, "state")] == [
        "connected",
        "needs_reauthorization",
        "disconnected",
        "connected",
        "needs_reauthorization",
        "disconnected",
    ]


def test_the_sdk_finds_an_organization_by_external_id(
    sdk_on_emulator: WorkOSClient, emu: Emulator
) -> None:
    made = sdk_on_emulator.organizations.create_organization(name="Acme", external_id="acme-1")
    assert made.id.startswith("org_") and made.external_id == "acme-1"
    found = sdk_on_emulator.organizations.get_organization_by_external_id("acme-1")
    assert found.id == made.id and found.name == "Acme" and found.domains == []
    assert sdk_on_emulator.organizations.get_organization(made.id).external_id == "acme-1"
    with pytest.raises(NotFoundError):
        sdk_on_emulator.organizations.get_organization_by_external_id("acme-2")
