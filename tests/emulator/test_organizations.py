"""The whole Pipes surface in the emulator (issue 12): organization-owned connections,
the credentials endpoint for OAuth and API-key installs, several accounts per
provider, a denied consent's ``connection_failed``, and the event family switch.

A real emulator on loopback, webhooks to a real receiver that checks each signature.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from django_workos_pipes.emulator import Emulator
from django_workos_pipes.emulator.cli import build_parser, emulator_from_options
from tests.emulator.calls import call, token
from tests.servers import Receiver

ORG = "org_acme"
ADMIN, MEMBER = "user_admin", "user_member"


def authorize(http: requests.Session, emu: Emulator, provider: str, **body: Any) -> str:
    body.setdefault("user_id", ADMIN)
    answer = call(http, emu, "POST", f"/data-integrations/{provider}/authorize", json=body)
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["url"]
    return url


def credentials(http: requests.Session, emu: Emulator, provider: str, **body: Any) -> Any:
    body.setdefault("user_id", MEMBER)
    return call(http, emu, "POST", f"/data-integrations/{provider}/credentials", json=body)


def org_token(http: requests.Session, emu: Emulator, provider: str, user_id: str) -> Any:
    return token(
        http, emu, provider, user_id=user_id, organization_id=ORG, connection_owner="organization"
    ).json()


# Organization-owned connections ----------------------------------------------------


def test_an_admin_connects_the_organization_and_every_member_gets_its_token(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    url = authorize(http, emu, "salesforce", organization_id=ORG, connection_owner="organization")
    page = http.get(url).text
    assert "Connect your organization's Salesforce account" in page
    assert ORG in page and ADMIN in page and "every member of the organization" in page
    assert http.post(url, data={"decision": "allow"}).status_code == 200

    connection = emu.connection("salesforce", None, ORG, owner="organization")
    assert connection is not None
    assert (connection.owner, connection.user_id, connection.organization_id) == (
        "organization",
        None,
        ORG,
    )
    assert connection.established_by_user_id == ADMIN
    for member in (ADMIN, MEMBER, "user_anyone"):
        answer = org_token(http, emu, "salesforce", member)
        assert answer["active"] is True
        assert answer["access_token"]["access_token"] == connection.access_token
    # The members' own connections are another thing: none.
    own = token(http, emu, "salesforce", user_id=MEMBER, organization_id=ORG).json()
    assert own == {"active": False, "error": "not_installed"}

    (event,) = receiver.events()
    assert event["event"] == "pipes.connected_account.connected"
    assert event["data"]["user_id"] is None and event["data"]["organization_id"] == ORG
    assert event["data"]["established_by_user_id"] == ADMIN


def test_an_organization_owner_needs_an_organization(http: requests.Session, emu: Emulator) -> None:
    for path in ("authorize", "token", "credentials"):
        answer = call(
            http, emu, "POST", f"/data-integrations/slack/{path}",
            json={"user_id": ADMIN, "connection_owner": "organization"},
        )  # fmt: skip
        assert answer.status_code == 422, path
        assert answer.json()["errors"][0]["field"] == "organization_id"
    odd = token(http, emu, "slack", user_id=ADMIN, connection_owner="team")
    assert odd.status_code == 422


def test_the_organization_endpoints_read_list_and_delete_its_account(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    shared = emu.connect("hubspot", ADMIN, ORG, owner="organization")
    emu.connect("hubspot", MEMBER, ORG)  # a member's own, not the organization's
    url = f"/organizations/{ORG}/connected_accounts/hubspot"
    account = call(http, emu, "GET", url).json()
    assert account["id"] == shared.id
    assert account["user_id"] is None and account["organization_id"] == ORG
    assert account["established_by_user_id"] == ADMIN

    listing = call(http, emu, "GET", f"/organizations/{ORG}/data_providers").json()
    items = {item["slug"]: item for item in listing["data"]}
    assert items["hubspot"]["connection_owner"] == "organization"
    assert items["hubspot"]["ownership"] == "organization"
    assert items["hubspot"]["connected_account"]["id"] == shared.id
    assert items["salesforce"]["connected_account"] is None
    users = call(
        http, emu, "GET", f"/user_management/users/{MEMBER}/data_providers",
        params={"organization_id": ORG},
    ).json()  # fmt: skip
    member_items = {item["slug"]: item for item in users["data"]}
    assert member_items["hubspot"]["connected_account"]["user_id"] == MEMBER
    assert emu.listing_calls == 2

    assert call(http, emu, "DELETE", url).status_code == 204
    assert call(http, emu, "GET", url).status_code == 404
    assert call(http, emu, "DELETE", url).status_code == 404
    assert org_token(http, emu, "hubspot", MEMBER)["error"] == "not_installed"
    assert emu.connection("hubspot", MEMBER, ORG) is not None  # the member's own stays
    assert emu.wait_for_webhooks(5)
    assert receiver.event_types()[-1] == "pipes.connected_account.disconnected"


# Credentials -----------------------------------------------------------------------


def test_credentials_of_an_oauth_connection_carry_its_token_and_config(
    http: requests.Session, emu: Emulator
) -> None:
    url = authorize(http, emu, "jira", user_id=MEMBER, config={"site": "acme.atlassian.net"})
    assert http.post(url, data={"decision": "allow"}).status_code == 200
    answer = credentials(http, emu, "jira")
    assert answer.status_code == 200
    body = answer.json()
    assert body["active"] is True
    credential = body["credential"]
    assert credential.keys() == {
        "object", "auth_method", "value", "expires_at", "scopes", "missing_scopes",
        "metadata", "config",
    }  # fmt: skip
    assert (credential["object"], credential["auth_method"]) == ("credential", "oauth")
    assert (
        credential["value"]
        == token(http, emu, "jira", user_id=MEMBER).json()["access_token"]["access_token"]
    )
    assert credential["config"] == {"site": "acme.atlassian.net"}
    assert emu.call_count("credentials") == 1 and emu.token_calls == 1
    missing = credentials(http, emu, "slack").json()
    assert missing == {"active": False, "error": "not_installed"}


def test_an_api_key_install_is_vended_with_its_config_and_no_expiry(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    installed = http.post(
        f"{emu.url}/_emulator/connections",
        json={
            "provider": "zendesk",
            "owner": "organization",
            "organization_id": ORG,
            "auth_method": "api_key",
            "api_key": "zd_secret_key_1234",
            "config": {"subdomain": "acme"},
        },
    )
    assert installed.status_code == 201, installed.text
    assert "zd_secret_key_1234" not in http.get(f"{emu.url}/_emulator/").text
    body = credentials(
        http, emu, "zendesk", organization_id=ORG, connection_owner="organization"
    ).json()
    assert body == {
        "active": True,
        "credential": {
            "object": "credential",
            "auth_method": "api_key",
            "value": "zd_secret_key_1234",
            "config": {"subdomain": "acme"},
        },
    }
    mismatch = org_token(http, emu, "zendesk", MEMBER)
    assert mismatch["code"] == "auth_method_mismatch"
    account = call(http, emu, "GET", f"/organizations/{ORG}/connected_accounts/zendesk").json()
    assert (account["auth_method"], account["api_key_last_4"]) == ("api_key", "1234")
    assert account["scopes"] == [] and account["config"] == {"subdomain": "acme"}
    listed = call(http, emu, "GET", f"/organizations/{ORG}/data_providers").json()["data"]
    zendesk = next(item for item in listed if item["slug"] == "zendesk")
    assert (zendesk["auth_methods"], zendesk["credentials_type"]) == (["api_key"], "api_key")

    user_key = emu.install_api_key("zendesk", MEMBER, config={"subdomain": "beta"})
    mine = credentials(http, emu, "zendesk").json()["credential"]
    assert mine["value"] == user_key.access_token and mine["config"] == {"subdomain": "beta"}
    assert emu.wait_for_webhooks(5)
    events = receiver.events()
    assert [e["data"]["auth_method"] for e in events] == ["api_key", "api_key"]
    assert all("config" not in e["data"] for e in events)


def test_the_consent_page_of_an_api_key_provider_asks_for_the_key(
    http: requests.Session, emu: Emulator
) -> None:
    url = authorize(http, emu, "zendesk", user_id=MEMBER)
    page = http.get(url).text
    assert 'name="api_key"' in page and 'name="config_subdomain"' in page
    refused = http.post(url, data={"decision": "allow", "api_key": "zd_key_5678"})
    assert refused.status_code == 400 and "subdomain" in refused.text
    allowed = http.post(
        url, data={"decision": "allow", "api_key": "zd_key_5678", "config_subdomain": "acme"}
    )
    assert allowed.status_code == 200
    credential = credentials(http, emu, "zendesk").json()["credential"]
    assert credential["value"] == "zd_key_5678" and credential["config"] == {"subdomain": "acme"}


# Several accounts ------------------------------------------------------------------


def test_several_accounts_of_one_provider(http: requests.Session, emu: Emulator) -> None:
    first = emu.connect("github", MEMBER)
    url = authorize(
        http, emu, "github", user_id=MEMBER, connection_intent="add",
        account_display_name="Side project",
    )  # fmt: skip
    assert "Connect another GitHub account" in http.get(url).text
    assert http.post(url, data={"decision": "allow"}).status_code == 200
    second = next(a for a in emu.accounts("github", MEMBER) if a.id != first.id)
    assert (first.role, second.role) == ("compatibility", "standard")
    assert second.account_identifier == f"{MEMBER}+2@github.example.com"

    # Without the plural contract: the compatibility account, as before.
    plain = token(http, emu, "github", user_id=MEMBER).json()
    assert plain["access_token"]["access_token"] == first.access_token
    # With it and no id: the caller must pick.
    several = token(http, emu, "github", user_id=MEMBER, supports_multiple_connections=True)
    assert several.status_code == 409
    assert several.json()["code"] == "account_selection_required"
    picked = token(
        http, emu, "github", user_id=MEMBER, supports_multiple_connections=True,
        connected_account_id=second.id,
    ).json()  # fmt: skip
    assert picked["access_token"]["access_token"] == second.access_token
    assert token(http, emu, "github", user_id=ADMIN, connected_account_id=second.id).json() == {
        "active": False,
        "error": "not_installed",
    }  # another user's account is not theirs to use

    listing = f"/user_management/users/{MEMBER}/data_providers"
    single = {i["slug"]: i for i in call(http, emu, "GET", listing).json()["data"]}["github"]
    assert [a["id"] for a in single["connected_accounts"]] == [first.id]
    plural = call(http, emu, "GET", listing, params={"supports_multiple_connections": "true"})
    github = {i["slug"]: i for i in plural.json()["data"]}["github"]
    assert github["connected_account"]["id"] == first.id
    assert [a["connection_role"] for a in github["connected_accounts"]] == [
        "compatibility",
        "standard",
    ]
    account_url = f"/user_management/users/{MEMBER}/connected_accounts/github"
    ambiguous = call(
        http, emu, "GET", account_url, params={"supports_multiple_connections": "true"}
    )
    assert ambiguous.status_code == 409

    # Reauthorizing names the account; another owner's is a 404.
    url = authorize(
        http, emu, "github", user_id=MEMBER, connection_intent="reauthorize",
        connected_account_id=second.id,
    )  # fmt: skip
    assert emu.pending_consent(url.rsplit("/", 1)[-1]) is not None
    stranger = call(
        http, emu, "POST", "/data-integrations/github/authorize",
        json={"user_id": ADMIN, "connection_intent": "reauthorize", "connected_account_id": second.id},
    )  # fmt: skip
    assert stranger.status_code == 404
    bad = call(
        http, emu, "POST", "/data-integrations/github/authorize",
        json={"user_id": MEMBER, "connected_account_id": second.id},
    )  # fmt: skip
    assert bad.status_code == 422

    # Deleting the compatibility account moves the other into its slot.
    assert (
        call(
            http, emu, "DELETE", account_url, params={"connected_account_id": first.id}
        ).status_code
        == 204
    )
    left = emu.connection("github", MEMBER)
    assert left is not None and left.id == second.id and left.role == "compatibility"


# Deny, and the event families ------------------------------------------------------


def test_deny_sends_connection_failed_and_add_failed_in_the_newer_family(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    url = authorize(http, emu, "slack", user_id=MEMBER, organization_id=ORG)
    assert http.post(url, data={"decision": "deny"}).status_code == 200
    emu.connect("slack", MEMBER)
    url = authorize(http, emu, "slack", user_id=MEMBER, connection_intent="add")
    http.post(url, data={"decision": "deny"})  # no add_failed in this family
    emu.event_family = "account_connection"
    url = authorize(http, emu, "slack", user_id=MEMBER, connection_intent="add")
    http.post(url, data={"decision": "deny"})
    emu.disconnect("slack", MEMBER)
    assert emu.wait_for_webhooks(5)
    events = receiver.events()
    assert [e["event"] for e in events] == [
        "pipes.connected_account.connection_failed",
        "pipes.connected_account.connected",
        "pipes.connected_account.connection_failed",
        "pipes.account_connection.add_failed",
        "pipes.account_connection.disconnected",
    ]
    failed = events[0]["data"]
    assert failed["object"] == "connection_failed"
    assert (failed["provider_slug"], failed["user_id"], failed["organization_id"]) == (
        "slack",
        MEMBER,
        ORG,
    )
    assert failed["error_code"] == "access_denied" and "id" not in failed
    assert emu.connection("slack", MEMBER, ORG) is None


def test_the_event_family_is_switched_by_the_control_api_and_the_command_line(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    switched = http.post(
        f"{emu.url}/_emulator/settings", json={"event_family": "account_connection"}
    )
    assert switched.status_code == 200 and switched.json() == {"event_family": "account_connection"}
    assert http.get(f"{emu.url}/_emulator/state").json()["event_family"] == "account_connection"
    emu.connect("notion", MEMBER)
    emu.needs_reauthorization("notion", MEMBER)
    assert receiver.event_types() == [
        "pipes.account_connection.connected",
        "pipes.account_connection.reauthorization_needed",
    ]
    refused = http.post(f"{emu.url}/_emulator/settings", json={"event_family": "pipes.other"})
    assert refused.status_code == 422
    assert "account_connection" in http.get(f"{emu.url}/_emulator/").text

    options = vars(
        build_parser().parse_args(["--port", "0", "--event-family", "account_connection"])
    )
    assert emulator_from_options(options).event_family == "account_connection"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--event-family", "other"])


def test_the_control_api_acts_on_one_account_by_id(http: requests.Session, emu: Emulator) -> None:
    emu.connect("dropbox", MEMBER)
    other = emu.connect("dropbox", MEMBER, connection_intent="add")
    answer = http.post(
        f"{emu.url}/_emulator/connections/needs_reauthorization",
        json={"provider": "dropbox", "connected_account_id": other.id},
    )
    assert answer.status_code == 200, answer.text
    states = {a.id: a.state for a in emu.accounts("dropbox", MEMBER)}
    assert states[other.id] == "needs_reauthorization"
    assert list(states.values()).count("connected") == 1
    shared = http.post(
        f"{emu.url}/_emulator/connections",
        json={"provider": "asana", "owner": "organization", "organization_id": ORG},
    )
    assert shared.status_code == 201 and shared.json()["user_id"] is None
    page = http.get(f"{emu.url}/_emulator/").text
    assert "the organization" in page and "another account" in page
