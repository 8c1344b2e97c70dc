"""The connect flow: ``/authorize``, then the consent page, where Allow connects and
Deny does not (``emulator/consent.py``)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from django_workos_pipes import signatures
from django_workos_pipes.emulator import (
    EVENT_CONNECTED,
    Emulator,
)
from tests.emulator.calls import (
    AUTH,
    SECRET,
    STAMP,
    authorize,
    token,
)
from tests.servers import Receiver


def test_authorize_points_at_the_consent_page(http: requests.Session, emu: Emulator) -> None:
    url = authorize(http, emu, user_id="user_<b>", organization_id="org_1")
    assert url.startswith(f"{emu.url}/consent/")
    page = http.get(url)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    html = page.text
    assert "Connect your Salesforce account" in html
    assert "user_&lt;b&gt;" in html and "user_<b>" not in html
    assert "org_1" in html
    for scope in emu.providers["salesforce"].scopes:
        assert f"<code>{scope}</code>" in html
    assert 'value="allow"' in html and 'value="deny"' in html
    assert 'method="post"' in html
    assert "app.example" in html  # where the user will be sent back


def test_allow_connects_redirects_and_sends_a_signed_webhook(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    url = authorize(http, emu, organization_id="org_1")
    answer = http.post(url, data={"decision": "allow"}, allow_redirects=False)

    assert answer.status_code == 302
    assert answer.headers["Location"] == "https://app.example/after?next=%2Fdash"
    connection = emu.connection("salesforce", "user_1", "org_1")
    assert connection is not None
    assert connection.state == "connected"
    assert connection.scopes == emu.providers["salesforce"].scopes
    assert token(http, emu, organization_id="org_1").json()["active"] is True

    # Allow waits for the delivery, so the app has the webhook before the redirect lands.
    (event,) = receiver.events()
    assert event.keys() == {"object", "id", "event", "data", "created_at"}
    assert event["object"] == "event"
    assert event["event"] == EVENT_CONNECTED
    assert event["id"].startswith("event_")
    assert STAMP.match(event["created_at"])
    data = event["data"]
    assert data["object"] == "connected_account"
    assert data["id"] == connection.id and data["id"].startswith("ca_")
    assert data["provider_slug"] == "salesforce"
    assert data["user_id"] == "user_1"
    assert data["organization_id"] == "org_1"
    assert data["scopes"] == list(connection.scopes)
    assert data["state"] == "connected"
    assert data["data_integration_id"].startswith("data_integration_")
    assert STAMP.match(data["created_at"]) and STAMP.match(data["updated_at"])


def test_the_webhook_signature_is_bound_to_the_body(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    http.post(authorize(http, emu), data={"decision": "allow"}, allow_redirects=False)
    ((headers, body),) = receiver.received
    header = headers[signatures.HEADER]
    assert re.fullmatch(r"t=\d{13}, v1=[0-9a-f]{64}", header)
    signatures.verify(body, header, [SECRET])
    with pytest.raises(signatures.SignatureError):
        signatures.verify(body.replace(b"user_1", b"user_2"), header, [SECRET])
    with pytest.raises(signatures.SignatureError):
        signatures.verify(body, header, ["another-secret"])


def test_deny_connects_nothing_and_says_access_denied(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    started = http.post(
        f"{emu.url}/data-integrations/salesforce/authorize",
        json={"user_id": "user_1", "return_to": "https://app.example/after?next=%2Fdash"},
        headers=AUTH,
    ).json()
    answer = http.post(started["url"], data={"decision": "deny"}, allow_redirects=False)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "app.example", "/after")
    assert location.query.startswith("next=%2Fdash&")  # the app's own query is kept as is
    assert parse_qs(location.query) == {
        "next": ["/dash"],
        "error": ["access_denied"],
        "state": [started["state"]],
    }
    assert emu.connection("salesforce", "user_1") is None
    assert token(http, emu).json()["error"] == "not_installed"
    assert emu.wait_for_webhooks(2)
    # Nothing connected; the app hears of the failed attempt (issue 12).
    (failed,) = receiver.events()
    assert failed["event"] == "pipes.connected_account.connection_failed"
    assert failed["data"]["error_code"] == "access_denied"


def test_a_consent_link_answers_once_and_unknown_links_are_404(
    http: requests.Session, emu: Emulator
) -> None:
    url = authorize(http, emu)
    assert http.post(url, data={"decision": "allow"}, allow_redirects=False).status_code == 302
    for again in (http.get(url), http.post(url, data={"decision": "deny"})):
        assert again.status_code == 404
        assert "text/html" in again.headers["Content-Type"]
        assert "not valid" in again.text
    assert http.get(f"{emu.url}/consent/consent_nope").status_code == 404


def test_consent_without_return_to_shows_a_page(http: requests.Session, emu: Emulator) -> None:
    answer = http.post(
        f"{emu.url}/data-integrations/slack/authorize", json={"user_id": "user_1"}, headers=AUTH
    )
    page = http.post(answer.json()["url"], data={"decision": "allow"}, allow_redirects=False)
    assert page.status_code == 200
    assert "Slack connected" in page.text


def test_reauthorizing_grants_the_missing_scopes(http: requests.Session, emu: Emulator) -> None:
    connection = emu.connect("google", "user_1", scopes=["email"], missing_scopes=["drive"])
    emu.needs_reauthorization("google", "user_1")
    answer = http.post(
        f"{emu.url}/data-integrations/google/authorize",
        json={
            "user_id": "user_1",
            "return_to": "http://localhost:8000/back",
            "connection_intent": "reauthorize",
            "connected_account_id": connection.id,
        },
        headers=AUTH,
    )
    assert "<code>drive</code>" in http.get(answer.json()["url"]).text
    http.post(answer.json()["url"], data={"decision": "allow"}, allow_redirects=False)
    access = token(http, emu, "google").json()["access_token"]
    assert access["scopes"] == ["email", "drive"]
    assert access["missing_scopes"] == []
    assert emu.connection("google", "user_1").id == connection.id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [
        {"return_to": "/relative"},
        {"return_to": "javascript:alert(1)"},
        {"return_to": "https://app.example/\r\nSet-Cookie: x=1"},
        {"connection_intent": "steal"},
        {"connection_intent": "reauthorize"},
        {"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
        {"user_id": ""},
    ],
)
def test_authorize_rejects_bad_parameters(
    http: requests.Session, emu: Emulator, body: dict[str, Any]
) -> None:
    answer = http.post(
        f"{emu.url}/data-integrations/salesforce/authorize",
        json={"user_id": "user_1", **body},
        headers=AUTH,
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request_parameters"


def test_authorize_needs_the_api_key_and_a_known_provider(
    http: requests.Session, emu: Emulator
) -> None:
    url = f"{emu.url}/data-integrations/salesforce/authorize"
    assert http.post(url, json={"user_id": "user_1"}).status_code == 401
    unknown = url.replace("salesforce", "myspace")
    assert http.post(unknown, json={"user_id": "user_1"}, headers=AUTH).status_code == 404
