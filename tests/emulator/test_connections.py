"""The emulator's connections surface: the providers listing, connected accounts with
their labels, and disconnecting one by id (issue 11).

A real emulator on loopback, webhooks to a real receiver that checks each signature.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from django_workos_pipes import wire
from django_workos_pipes.emulator import Emulator
from django_workos_pipes.emulator.faults import MALFORMED_BODIES
from tests.emulator.calls import call, consent_id, running, token
from tests.servers import Receiver

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PROVIDER_KEYS = {
    "object",
    "id",
    "name",
    "description",
    "slug",
    "integration_type",
    "credentials_type",
    "scopes",
    "connection_owner",
    "ownership",
    "auth_methods",
    "created_at",
    "updated_at",
    "connected_account",
    "connected_accounts",
}


def listing(
    http: requests.Session, emu: Emulator, user_id: str = "user_1", **params: str
) -> requests.Response:
    return call(http, emu, "GET", f"/user_management/users/{user_id}/data_providers", params=params)


def by_slug(answer: requests.Response) -> dict[str, dict[str, object]]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["object"] == "list"
    return {item["slug"]: item for item in body["data"]}


def authorize(http: requests.Session, emu: Emulator, provider: str, **body: object) -> str:
    body.setdefault("user_id", "user_1")
    answer = call(http, emu, "POST", f"/data-integrations/{provider}/authorize", json=body)
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["url"]
    return url


def allow(http: requests.Session, url: str) -> None:
    assert http.post(url, data={"decision": "allow"}).status_code == 200


def test_an_unknown_user_gets_every_provider_with_no_account(
    http: requests.Session, emu: Emulator
) -> None:
    answer = listing(http, emu, "user_nobody")
    items = answer.json()["data"]
    assert [item["slug"] for item in items] == list(emu.providers)  # configured order
    for item in items:
        assert item.keys() == PROVIDER_KEYS
        provider = emu.providers[item["slug"]]
        assert item["object"] == "data_provider"
        assert item["id"] == wire.stable_id("data_integration", provider.slug)
        assert item["name"] == provider.name
        assert item["description"] == provider.description
        assert item["integration_type"] == provider.slug
        assert item["credentials_type"] == provider.credentials_type
        assert item["scopes"] == (list(provider.scopes) or None)
        assert (item["connection_owner"], item["ownership"]) == ("user", "userland_user")
        assert item["auth_methods"] == list(provider.auth_methods)
        assert STAMP.match(item["created_at"]) and STAMP.match(item["updated_at"])
        assert item["connected_account"] is None
        assert item["connected_accounts"] == []
    assert listing(http, emu, "user_nobody").json() == answer.json()  # stable


def test_the_listing_shows_each_account_in_its_state(http: requests.Session, emu: Emulator) -> None:
    salesforce = emu.connect("salesforce", "user_1")
    emu.connect("hubspot", "user_1", scopes=["oauth"])
    emu.needs_reauthorization("hubspot", "user_1")
    emu.connect("slack", "user_1", organization_id="org_1")

    items = by_slug(listing(http, emu))
    account = items["salesforce"]["connected_account"]
    assert isinstance(account, dict)
    assert account["id"] == salesforce.id
    assert account["state"] == "connected"
    assert account["connection_role"] == "compatibility"
    assert account["user_id"] == "user_1" and account["organization_id"] is None
    assert account["account_identifier"] == "user_1@salesforce.example.com"
    assert account["account_display_name"] is None
    assert account["scopes"] == list(emu.providers["salesforce"].scopes)
    assert items["salesforce"]["connected_accounts"] == [account]
    assert items["hubspot"]["connected_account"]["state"] == "needs_reauthorization"  # type: ignore[index]
    assert items["slack"]["connected_account"] is None  # another organization's

    in_org = by_slug(listing(http, emu, organization_id="org_1"))
    assert in_org["slack"]["connected_account"]["organization_id"] == "org_1"  # type: ignore[index]
    assert in_org["salesforce"]["connected_account"] is None
    plural = by_slug(listing(http, emu, supports_multiple_connections="true"))
    assert plural["salesforce"]["connected_accounts"] == [account]


def test_authorize_sets_keeps_and_clears_the_display_name(
    http: requests.Session, emu: Emulator
) -> None:
    allow(http, authorize(http, emu, "github", account_display_name="Work GitHub"))
    url = "/user_management/users/user_1/connected_accounts/github"
    first = call(http, emu, "GET", url).json()
    assert first["account_display_name"] == "Work GitHub"
    assert first["account_identifier"] == "user_1@github.example.com"

    allow(http, authorize(http, emu, "github"))  # left out: kept
    assert call(http, emu, "GET", url).json()["account_display_name"] == "Work GitHub"
    allow(http, authorize(http, emu, "github", account_display_name=None))  # null: cleared
    again = call(http, emu, "GET", url).json()
    assert again["account_display_name"] is None
    assert again["id"] == first["id"]
    assert again["account_identifier"] == first["account_identifier"]

    bad = call(
        http, emu, "POST", "/data-integrations/github/authorize",
        json={"user_id": "user_1", "account_display_name": 7},
    )  # fmt: skip
    assert bad.status_code == 422


def test_deleting_by_account_id_disconnects_everywhere(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    made = emu.connect("notion", "user_1", organization_id="org_1")
    url = "/user_management/users/user_1/connected_accounts/notion"
    scope = {"organization_id": "org_1", "supports_multiple_connections": "true"}

    wrong = call(http, emu, "DELETE", url, params={**scope, "connected_account_id": "ca_other"})
    assert wrong.status_code == 404
    assert emu.connection("notion", "user_1", "org_1") is not None
    gone = call(http, emu, "DELETE", url, params={**scope, "connected_account_id": made.id})
    assert gone.status_code == 204 and gone.content == b""

    assert call(http, emu, "GET", url, params=scope).status_code == 404
    assert (
        by_slug(listing(http, emu, organization_id="org_1"))["notion"]["connected_account"] is None
    )
    answer = token(http, emu, "notion", organization_id="org_1").json()
    assert answer == {"active": False, "error": "not_installed"}
    assert emu.wait_for_webhooks(5)
    events = receiver.events()
    assert [event["event"] for event in events] == [wire.EVENT_CONNECTED, wire.EVENT_DISCONNECTED]
    assert events[-1]["data"]["id"] == made.id and events[-1]["data"]["state"] == "disconnected"


def test_get_by_account_id_and_bad_flags(http: requests.Session, emu: Emulator) -> None:
    made = emu.connect("asana", "user_1")
    url = "/user_management/users/user_1/connected_accounts/asana"
    assert call(http, emu, "GET", url, params={"connected_account_id": made.id}).status_code == 200
    assert call(http, emu, "GET", url, params={"connected_account_id": "ca_x"}).status_code == 404
    refused = call(http, emu, "GET", url, params={"supports_multiple_connections": "maybe"})
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_request_parameters"
    assert listing(http, emu, supports_multiple_connections="yes").status_code == 422


def test_listing_calls_are_counted_apart_from_token_calls(
    http: requests.Session, emu: Emulator
) -> None:
    emu.connect("salesforce", "user_1")
    for _ in range(3):
        listing(http, emu)
    token(http, emu, "salesforce")
    assert (emu.listing_calls, emu.token_calls) == (3, 1)
    state = http.get(f"{emu.url}/_emulator/state").json()
    assert (state["listing_calls"], state["token_calls"]) == (3, 1)
    calls = http.get(f"{emu.url}/_emulator/calls").json()
    assert (calls["listing_calls"], calls["token_calls"]) == (3, 1)
    unauthorized = http.get(f"{emu.url}/user_management/users/user_1/data_providers")
    assert unauthorized.status_code == 401
    assert emu.listing_calls == 4  # refused calls count too, as token calls do
    assert "Listing calls <strong>4</strong>" in http.get(f"{emu.url}/_emulator/").text
    emu.reset()
    assert emu.listing_calls == 0


def test_faults_reach_the_listing_only_when_aimed_at_it(
    http: requests.Session, emu: Emulator
) -> None:
    emu.connect("salesforce", "user_1")
    emu.inject_fault("status", status=503)  # token calls, as always
    emu.inject_fault("status", status=502, on="data_providers", retry_after=3)
    emu.inject_fault("malformed", on="data_providers")
    assert [fault.get("on") for fault in emu.faults] == [None, "data_providers", "data_providers"]

    spoiled = listing(http, emu)
    assert spoiled.status_code == 502 and spoiled.headers["Retry-After"] == "3"
    assert spoiled.json()["code"] == "bad_gateway"
    assert listing(http, emu).json() == MALFORMED_BODIES["data_providers"]
    assert listing(http, emu).status_code == 200
    assert token(http, emu, "salesforce").status_code == 503  # its fault waited for it

    emu.inject_fault("status", status=500, on="any", count=2)
    assert listing(http, emu).status_code == 500
    assert token(http, emu, "salesforce").status_code == 500
    assert listing(http, emu).status_code == 200
    with pytest.raises(ValueError, match="unknown calls"):
        emu.inject_fault("status", on="consent")


def test_the_control_api_and_page_aim_faults(http: requests.Session, emu: Emulator) -> None:
    added = http.post(
        f"{emu.url}/_emulator/faults", json={"kind": "drop", "on": "data_providers", "count": 2}
    )
    assert added.status_code == 201
    assert added.json()["faults"][0]["on"] == "data_providers"
    page = http.get(f"{emu.url}/_emulator/").text
    assert '<select name="on">' in page and "data_providers calls" in page
    assert "2 more data_providers call(s)" in page
    refused = http.post(f"{emu.url}/_emulator/faults", json={"kind": "drop", "on": "nowhere"})
    assert refused.status_code == 422


def test_labels_survive_a_restart(tmp_path: Path, http: requests.Session) -> None:
    state = tmp_path / "state.json"
    with running(state_file=state) as first:
        url = authorize(http, first, "dropbox", account_display_name="Family Dropbox")
        allow(http, url)
        assert urlsplit(url).path == f"/consent/{consent_id(url)}"
    with running(state_file=state) as second:
        account = call(
            http, second, "GET", "/user_management/users/user_1/connected_accounts/dropbox"
        ).json()
    assert account["account_display_name"] == "Family Dropbox"
    assert account["account_identifier"] == "user_1@dropbox.example.com"


def test_the_control_api_connects_with_a_label(http: requests.Session, emu: Emulator) -> None:
    made = http.post(
        f"{emu.url}/_emulator/connections",
        json={"provider": "slack", "user_id": "user_1", "account_display_name": "Team Slack"},
    )
    assert made.status_code == 201
    assert made.json()["account_display_name"] == "Team Slack"
    assert made.json()["account_identifier"] == "user_1@slack.example.com"
    again = http.post(
        f"{emu.url}/_emulator/connections", json={"provider": "slack", "user_id": "user_1"}
    )
    assert again.json()["account_display_name"] == "Team Slack"
    assert "Team Slack" in http.get(f"{emu.url}/_emulator/").text
