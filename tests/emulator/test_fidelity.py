"""Fidelity: the official ``workos`` SDK drives the emulator and reads every answer.

The SDK is WorkOS's own client, generated from their API description, so if it parses
what the emulator says, and reads the same values as this app's own parser
(``TokenResult.from_api``) from the same JSON, the emulator speaks the real protocol.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
import requests
from workos import (
    AuthenticationError,
    NotFoundError,
    RateLimitExceededError,
    ServerError,
    WorkOSClient,
)
from workos.common.models import (
    PipesConnectedAccountConnected,
    PipesConnectedAccountDisconnected,
    PipesConnectedAccountReauthorizationNeeded,
)

from django_workos_pipes.emulator import Emulator
from django_workos_pipes.results import TokenResult
from tests.emulator.calls import API_KEY, SECRET, token
from tests.servers import Receiver

PIPES_EVENTS = (
    PipesConnectedAccountConnected,
    PipesConnectedAccountReauthorizationNeeded,
    PipesConnectedAccountDisconnected,
)


def deliveries(receiver: Receiver) -> list[tuple[bytes, str]]:
    """The webhooks received, raw and unparsed: (body, signature header)."""
    return [(body, headers.get("WorkOS-Signature", "")) for headers, body in receiver.received]


def raw_token(http: requests.Session, emu: Emulator, provider: str, **body: Any) -> Any:
    answer = token(http, emu, provider, **body)
    assert answer.status_code == 200
    return answer.json()


def test_an_active_token_reads_the_same_through_the_sdk_and_the_app(
    sdk_on_emulator: WorkOSClient, emu: Emulator, http: requests.Session
) -> None:
    emu.connect("google", "user_1", organization_id="org_1", missing_scopes=["drive.file"])
    answer = sdk_on_emulator.pipes.get_access_token(
        "google", user_id="user_1", organization_id="org_1"
    )
    ours = TokenResult.from_api(
        raw_token(http, emu, "google", user_id="user_1", organization_id="org_1")
    )

    assert answer.active is True and ours.active is True
    assert answer.error is None and ours.error is None
    theirs, mine = answer.access_token, ours.access_token
    assert theirs is not None and mine is not None
    assert theirs.object == "access_token"
    assert theirs.access_token == mine.access_token
    assert isinstance(theirs.expires_at, datetime)
    assert theirs.expires_at == mine.expires_at
    assert tuple(theirs.scopes) == mine.scopes == emu.providers["google"].scopes
    assert tuple(theirs.missing_scopes) == mine.missing_scopes == ("drive.file",)


def test_inactive_answers_read_the_same(
    sdk_on_emulator: WorkOSClient, emu: Emulator, http: requests.Session
) -> None:
    answer = sdk_on_emulator.pipes.get_access_token("slack", user_id="user_1")
    ours = TokenResult.from_api(raw_token(http, emu, "slack", user_id="user_1"))
    assert not answer.active and not ours.active
    assert answer.error == ours.error == "not_installed"
    assert answer.access_token is None and ours.access_token is None

    emu.connect("slack", "user_1")
    emu.needs_reauthorization("slack", "user_1")
    answer = sdk_on_emulator.pipes.get_access_token("slack", user_id="user_1")
    ours = TokenResult.from_api(raw_token(http, emu, "slack", user_id="user_1"))
    assert not answer.active and not ours.active
    assert answer.error == ours.error == "needs_reauthorization"


def test_a_rotated_token_reads_the_same(
    sdk_on_emulator: WorkOSClient, emu: Emulator, http: requests.Session
) -> None:
    emu.connect("salesforce", "user_1")
    before = sdk_on_emulator.pipes.get_access_token("salesforce", user_id="user_1").access_token
    emu.expire("salesforce", "user_1")
    after = sdk_on_emulator.pipes.get_access_token("salesforce", user_id="user_1").access_token
    ours = TokenResult.from_api(raw_token(http, emu, "salesforce", user_id="user_1"))
    assert before is not None and after is not None and ours.access_token is not None
    assert after.access_token != before.access_token
    assert after.access_token == ours.access_token.access_token
    assert after.expires_at == ours.access_token.expires_at


def test_the_connect_flow_through_the_sdk(
    sdk_on_emulator: WorkOSClient, emu: Emulator, http: requests.Session, receiver: Receiver
) -> None:
    answer = sdk_on_emulator.pipes.authorize_data_integration(
        "hubspot", user_id="user_1", organization_id="org_1", return_to="https://app.example/done"
    )
    assert answer.url.startswith(f"{emu.url}/consent/")
    allowed = http.post(answer.url, data={"decision": "allow"}, allow_redirects=False)
    assert allowed.headers["Location"] == "https://app.example/done"

    token = sdk_on_emulator.pipes.get_access_token(
        "hubspot", user_id="user_1", organization_id="org_1"
    )
    assert token.active is True

    ((body, signature),) = deliveries(receiver)
    event = sdk_on_emulator.webhooks.verify_event(
        event_body=body, event_signature=signature, secret=SECRET
    )
    assert isinstance(event, PipesConnectedAccountConnected)
    assert event.event == "pipes.connected_account.connected"
    assert event.id == json.loads(body)["id"]
    data = event.data
    connection = emu.connection("hubspot", "user_1", "org_1")
    assert connection is not None
    assert data.id == connection.id
    assert data.provider_slug == "hubspot"
    assert data.user_id == "user_1"
    assert data.organization_id == "org_1"
    assert data.state.value == "connected"
    assert list(data.scopes) == list(emu.providers["hubspot"].scopes)
    with pytest.raises(ValueError):
        sdk_on_emulator.webhooks.verify_header(
            event_body=body, event_signature=signature, secret="not-the-secret"
        )


def test_every_pipes_webhook_verifies_and_parses_with_the_sdk(
    sdk_on_emulator: WorkOSClient, emu: Emulator, receiver: Receiver
) -> None:
    emu.connect("asana", "user_1")
    emu.needs_reauthorization("asana", "user_1")
    emu.disconnect("asana", "user_1")
    assert emu.wait_for_webhooks(5)
    events = [
        sdk_on_emulator.webhooks.verify_event(
            event_body=body, event_signature=signature, secret=SECRET
        )
        for body, signature in deliveries(receiver)
    ]
    assert [type(event) for event in events] == [
        PipesConnectedAccountConnected,
        PipesConnectedAccountReauthorizationNeeded,
        PipesConnectedAccountDisconnected,
    ]
    pipes_events = [event for event in events if isinstance(event, PIPES_EVENTS)]
    assert {event.data.provider_slug for event in pipes_events} == {"asana"}
    assert [event.data.state.value for event in pipes_events] == [
        "connected",
        "needs_reauthorization",
        "disconnected",
    ]


def test_connected_accounts_through_the_sdk(sdk_on_emulator: WorkOSClient, emu: Emulator) -> None:
    made = emu.connect("github", "user_1", organization_id="org_1")
    account = sdk_on_emulator.pipes.get_user_connected_account(
        "user_1", "github", organization_id="org_1"
    )
    assert account.id == made.id
    assert account.state.value == "connected"
    assert account.organization_id == "org_1"
    assert list(account.scopes) == list(made.scopes)

    sdk_on_emulator.pipes.delete_user_connected_account("user_1", "github", organization_id="org_1")
    assert emu.connection("github", "user_1", "org_1") is None
    with pytest.raises(NotFoundError):
        sdk_on_emulator.pipes.get_user_connected_account(
            "user_1", "github", organization_id="org_1"
        )


def test_errors_map_to_the_sdks_exceptions(sdk_on_emulator: WorkOSClient, emu: Emulator) -> None:
    wrong = WorkOSClient(api_key="sk_test_wrong", client_id="c", base_url=emu.url, max_retries=0)
    with wrong, pytest.raises(AuthenticationError) as unauthorized:
        wrong.pipes.get_access_token("salesforce", user_id="user_1")
    assert unauthorized.value.request_id  # the X-Request-ID reached the SDK

    with pytest.raises(NotFoundError):
        sdk_on_emulator.pipes.get_access_token("myspace", user_id="user_1")

    emu.inject_fault("status", status=429, retry_after=7)
    with pytest.raises(RateLimitExceededError) as limited:
        sdk_on_emulator.pipes.get_access_token("salesforce", user_id="user_1")
    assert limited.value.retry_after == 7

    emu.inject_fault("status", status=503)
    with pytest.raises(ServerError):
        sdk_on_emulator.pipes.get_access_token("salesforce", user_id="user_1")


def test_the_sdk_retries_through_a_short_outage(emu: Emulator) -> None:
    emu.connect("salesforce", "user_1")
    emu.inject_fault("status", status=503, retry_after=0, count=2)
    with WorkOSClient(api_key=API_KEY, client_id="c", base_url=emu.url, max_retries=2) as patient:
        assert patient.pipes.get_access_token("salesforce", user_id="user_1").active is True
    assert emu.token_calls == 3
    keys = {call.headers.get("idempotency-key") for call in emu.calls}
    assert len(keys) == 1 and None not in keys  # one logical call, retried
