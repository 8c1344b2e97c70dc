"""The Pipes endpoints of the emulator: token answers in the wire format, the errors
WorkOS gives, and connected accounts (``emulator/api.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
import time_machine

from django_workos_pipes.emulator import (
    EVENT_CONNECTED,
    EVENT_DISCONNECTED,
    Emulator,
)
from django_workos_pipes.results import TokenResult
from tests.emulator.calls import (
    API_KEY,
    AUTH,
    EXPIRY,
    STAMP,
    token,
)
from tests.servers import Receiver

# Token answers ---------------------------------------------------------------------


def test_token_for_an_unknown_connection_is_not_installed(
    http: requests.Session, emu: Emulator
) -> None:
    answer = token(http, emu)
    assert answer.status_code == 200
    assert answer.json() == {"active": False, "error": "not_installed"}
    assert TokenResult.from_api(answer.json()).error == "not_installed"


def test_token_for_a_connected_account_has_the_documented_shape(
    http: requests.Session, emu: Emulator
) -> None:
    emu.connect("google", "user_1", scopes=["email", "calendar"], missing_scopes=["drive"])
    before = datetime.now(timezone.utc).replace(microsecond=0)
    body = token(http, emu, "google").json()

    assert body.keys() == {"active", "access_token"}
    assert body["active"] is True
    access = body["access_token"]
    assert access.keys() == {"object", "access_token", "expires_at", "scopes", "missing_scopes"}
    assert access["object"] == "access_token"
    assert access["access_token"].startswith("ya29.emu_")
    assert len(access["access_token"]) > 30
    assert EXPIRY.match(access["expires_at"])
    assert access["scopes"] == ["email", "calendar"]
    assert access["missing_scopes"] == ["drive"]
    result = TokenResult.from_api(body)
    assert result.access_token is not None
    expires_at = result.access_token.expires_at
    assert expires_at is not None
    assert before + timedelta(seconds=3590) <= expires_at <= before + timedelta(seconds=3610)


def test_connect_without_scopes_grants_the_provider_defaults(
    http: requests.Session, emu: Emulator
) -> None:
    emu.connect("slack", "user_1")
    access = token(http, emu, "slack").json()["access_token"]
    assert access["scopes"] == list(emu.providers["slack"].scopes)
    assert access["access_token"].startswith("xoxp-")


def test_token_answers_needs_reauthorization(http: requests.Session, emu: Emulator) -> None:
    emu.connect("salesforce", "user_1")
    emu.needs_reauthorization("salesforce", "user_1")
    assert token(http, emu).json() == {"active": False, "error": "needs_reauthorization"}


def test_connections_are_kept_per_organization(http: requests.Session, emu: Emulator) -> None:
    emu.connect("hubspot", "user_1", organization_id="org_a")
    assert token(http, emu, "hubspot", organization_id="org_a").json()["active"] is True
    assert token(http, emu, "hubspot", organization_id="org_b").json()["active"] is False
    assert token(http, emu, "hubspot").json() == {"active": False, "error": "not_installed"}
    assert token(http, emu, "hubspot", organization_id=None).json()["active"] is False


def test_an_expired_token_is_rotated_when_asked(http: requests.Session, emu: Emulator) -> None:
    emu.connect("salesforce", "user_1")
    first = token(http, emu).json()["access_token"]
    assert token(http, emu).json()["access_token"] == first  # not due: the same token

    expired = emu.expire("salesforce", "user_1")
    assert expired.expires_at is not None
    assert expired.expires_at < datetime.now(timezone.utc)
    rotated = token(http, emu).json()["access_token"]
    assert rotated["access_token"] != first["access_token"]
    assert rotated["expires_at"] >= first["expires_at"]
    assert rotated["scopes"] == first["scopes"]
    assert token(http, emu).json()["access_token"] == rotated


def test_a_token_near_its_expiry_is_rotated(http: requests.Session) -> None:
    with (
        Emulator(api_key=API_KEY, token_lifetime=2) as short,
        time_machine.travel(datetime.now(timezone.utc)) as clock,
    ):
        short.connect("salesforce", "user_1")
        first = token(http, short).json()["access_token"]["access_token"]
        assert token(http, short).json()["access_token"]["access_token"] == first
        clock.shift(timedelta(seconds=1.1))  # within the last half of the lifetime
        assert token(http, short).json()["access_token"]["access_token"] != first


def test_tokens_can_be_made_to_never_expire(http: requests.Session) -> None:
    with Emulator(api_key=API_KEY, token_lifetime=None) as forever:
        forever.connect("salesforce", "user_1")
        body = token(http, forever).json()
    assert body["access_token"]["expires_at"] is None
    result = TokenResult.from_api(body)
    assert result.access_token is not None
    assert result.access_token.expires_at is None


# Errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sk_test_wrong"}, {"Authorization": f"Basic {API_KEY}"}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_a_missing_or_wrong_api_key_is_401(
    http: requests.Session, emu: Emulator, headers: dict[str, str]
) -> None:
    emu.connect("salesforce", "user_1")
    answer = http.post(
        f"{emu.url}/data-integrations/salesforce/token", json={"user_id": "user_1"}, headers=headers
    )
    assert answer.status_code == 401
    assert answer.json() == {"message": "Unauthorized", "code": "unauthorized"}
    assert answer.headers["X-Request-ID"]


def test_an_unknown_provider_is_404_not_not_installed(
    http: requests.Session, emu: Emulator
) -> None:
    answer = token(http, emu, "myspace")
    assert answer.status_code == 404
    assert answer.json()["code"] == "entity_not_found"
    assert "myspace" in answer.json()["message"]


def test_more_providers_can_be_configured(http: requests.Session) -> None:
    with Emulator(api_key=API_KEY, providers={"custom-crm": ["records.read"]}) as custom:
        assert token(http, custom, "custom-crm").json()["error"] == "not_installed"
        custom.connect("custom-crm", "user_1")
        assert token(http, custom, "custom-crm").json()["access_token"]["scopes"] == [
            "records.read"
        ]
        assert token(http, custom, "salesforce").status_code == 200  # built-ins stay


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b'["user_1"]', 400, "invalid_json"),
        (b"{}", 422, "invalid_request_parameters"),
        (b"", 422, "invalid_request_parameters"),
        (b'{"user_id": 42}', 422, "invalid_request_parameters"),
        (b'{"user_id": "user_1", "organization_id": 7}', 422, "invalid_request_parameters"),
    ],
)
def test_a_bad_body_is_a_client_error(
    http: requests.Session, emu: Emulator, data: bytes, status: int, code: str
) -> None:
    answer = http.post(
        f"{emu.url}/data-integrations/salesforce/token",
        data=data,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert answer.json()["message"]


# Connected accounts ----------------------------------------------------------------


def test_get_a_connected_account(http: requests.Session, emu: Emulator) -> None:
    connection = emu.connect("jira", "user_1", organization_id="org_1", scopes=["read:jira-work"])
    base = f"{emu.url}/user_management/users/user_1/connected_accounts/jira"
    answer = http.get(base, params={"organization_id": "org_1"}, headers=AUTH)
    assert answer.status_code == 200
    account = answer.json()
    assert account["object"] == "connected_account"
    assert account["id"] == connection.id
    assert account["user_id"] == "user_1"
    assert account["organization_id"] == "org_1"
    assert account["scopes"] == ["read:jira-work"]
    assert account["state"] == "connected"
    assert STAMP.match(account["created_at"]) and STAMP.match(account["updated_at"])

    emu.needs_reauthorization("jira", "user_1", "org_1")
    again = http.get(base, params={"organization_id": "org_1"}, headers=AUTH).json()
    assert again["state"] == "needs_reauthorization"
    assert again["updated_at"] >= account["updated_at"]

    assert http.get(base, headers=AUTH).status_code == 404  # no org: another account
    assert http.get(base, params={"organization_id": "org_1"}).status_code == 401


def test_delete_a_connected_account_disconnects_it(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    emu.connect("github", "user_1")
    url = f"{emu.url}/user_management/users/user_1/connected_accounts/github"
    answer = http.delete(url, headers=AUTH)
    assert answer.status_code == 204
    assert answer.content == b""
    assert token(http, emu, "github").json()["error"] == "not_installed"
    assert http.get(url, headers=AUTH).status_code == 404
    assert http.delete(url, headers=AUTH).status_code == 404

    assert emu.wait_for_webhooks(5)
    events = [event["event"] for event in receiver.events()]
    assert events == [EVENT_CONNECTED, EVENT_DISCONNECTED]
    assert receiver.events()[-1]["data"]["state"] == "disconnected"
