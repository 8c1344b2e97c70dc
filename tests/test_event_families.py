"""Every Pipes event, of both families: what each invalidates, and what receivers hear.

Events are signed with real HMAC and posted to the real endpoint; WorkOS's token and
credentials calls are stubbed at the HTTP layer, each call handing out a new value, so
a value that changed after an event was invalidated by it.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import responses
from django.core.management import CommandError, call_command
from django.test import Client
from workos import WorkOSClient

from django_workos_pipes import pipes, wire
from django_workos_pipes.events import PIPES_EVENT_TYPES
from django_workos_pipes.testing import (
    EVENT_FAMILIES,
    EVENT_TYPES,
    full_event_type,
    post_webhook,
    sign_webhook,
    webhook_event,
)
from tests.servers import Answer, LoopbackServer
from tests.settings import WEBHOOK_SECRET
from tests.stubs import WORKOS

FAILURES = sorted(t for t in PIPES_EVENT_TYPES if wire.event_change(t) in wire.FAILED_CHANGES)
CHANGES = sorted(PIPES_EVENT_TYPES - set(FAILURES))
FAMILIES = sorted(EVENT_FAMILIES)

# (provider, user, organization) whose answers are cached before each event.
CONNECTIONS = [
    ("salesforce", "user_1", None),
    ("salesforce", "user_1", "org_a"),
    ("salesforce", "user_2", "org_a"),
    ("salesforce", "user_3", "org_b"),
    ("hubspot", "user_1", "org_a"),
]
KINDS = ("token", "credential")


@pytest.fixture
def workos_issuing_values(workos_stub: responses.RequestsMock) -> responses.RequestsMock:
    """Token and credentials calls for any provider: each hands out a new value (a test
    need not make both)."""
    counter = itertools.count(1)
    expires = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def token(request: Any) -> tuple[int, dict[str, str], str]:
        value = f"ya29.token-{next(counter)}"
        body = wire.active_token_answer(value, expires_at=None, scopes=["api"])
        body["access_token"]["expires_at"] = expires
        return 200, {}, json.dumps(body)

    def credential(request: Any) -> tuple[int, dict[str, str], str]:
        value = f"key-{next(counter)}"
        body = {"active": True, "credential": {"auth_method": "api_key", "value": value}}
        return 200, {}, json.dumps(body)

    workos_stub.assert_all_requests_are_fired = False
    workos_stub.add_callback(
        responses.POST, re.compile(f"{WORKOS}/data-integrations/.+/token"), token
    )
    workos_stub.add_callback(
        responses.POST, re.compile(f"{WORKOS}/data-integrations/.+/credentials"), credential
    )
    return workos_stub


def snapshot() -> dict[tuple[str, str, str, str | None], str]:
    """Every cached value, by (kind, provider, user, organization)."""
    values: dict[tuple[str, str, str, str | None], str] = {}
    for provider, user, organization in CONNECTIONS:
        token = pipes.get_access_token(provider, user_id=user, organization_id=organization)
        credential = pipes.get_credentials(provider, user_id=user, organization_id=organization)
        assert token.access_token is not None and credential.credential is not None
        values["token", provider, user, organization] = token.access_token.access_token
        values["credential", provider, user, organization] = credential.credential.value
    return values


def invalidated_by(client: Client, event: dict[str, Any]) -> set[tuple[str, str, str, str | None]]:
    """What ``event`` made the service fetch again."""
    before = snapshot()
    assert snapshot() == before, "everything was cached"
    assert post_webhook(client, event).status_code == 200
    after = snapshot()
    return {key for key in before if before[key] != after[key]}


def both(provider: str, user: str, organization: str | None) -> set[Any]:
    return {(kind, provider, user, organization) for kind in KINDS}


# What each event invalidates.


@pytest.mark.parametrize("event_type", CHANGES)
@pytest.mark.usefixtures("workos_issuing_values")
def test_a_change_to_a_users_connection_forgets_that_connection_only(
    client: Client, changed: list[dict[str, Any]], event_type: str
) -> None:
    event = webhook_event(event_type, "salesforce", "user_1", "org_a")
    assert invalidated_by(client, event) == both("salesforce", "user_1", "org_a")
    (signal,) = changed
    assert signal["event_type"] == event_type
    assert (signal["provider"], signal["user_id"], signal["organization_id"]) == (
        "salesforce",
        "user_1",
        "org_a",
    )
    assert signal["connected_account_id"] == event["data"]["id"]
    assert signal["error_code"] is None and signal["error_reason"] is None


@pytest.mark.parametrize("event_type", CHANGES)
@pytest.mark.usefixtures("workos_issuing_values")
def test_a_change_to_an_organizations_connection_forgets_it_for_every_member(
    client: Client, changed: list[dict[str, Any]], event_type: str
) -> None:
    event = webhook_event(event_type, "salesforce", None, "org_a")
    assert invalidated_by(client, event) == both("salesforce", "user_1", "org_a") | both(
        "salesforce", "user_2", "org_a"
    )
    assert [(c["user_id"], c["organization_id"]) for c in changed] == [(None, "org_a")]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.usefixtures("workos_issuing_values")
def test_an_event_about_one_account_forgets_every_account_of_the_user(
    client: Client, changed: list[dict[str, Any]], family: str
) -> None:
    """Accounts are cached apart but share the connection's invalidation: the event
    names its account (``data.id``), which receivers get as ``connected_account_id``."""

    def values() -> list[str]:
        results = [
            pipes.get_credentials("salesforce", user_id="user_1", connected_account_id=account)
            for account in ("ca_1", "ca_2", None)
        ]
        return [result.credential.value for result in results if result.credential]

    before = values()
    assert values() == before and len(set(before)) == 3
    event = webhook_event("disconnected", "salesforce", "user_1", family=family, id="ca_1")
    assert post_webhook(client, event).status_code == 200
    assert set(values()).isdisjoint(before)
    assert changed[0]["connected_account_id"] == "ca_1"


@pytest.mark.parametrize("event_type", FAILURES)
@pytest.mark.parametrize("user_id", ["user_1", None], ids=["user", "organization"])
def test_a_failed_attempt_reaches_receivers_and_invalidates_nothing(
    client: Client,
    workos_issuing_values: responses.RequestsMock,
    changed: list[dict[str, Any]],
    event_type: str,
    user_id: str | None,
) -> None:
    event = webhook_event(
        event_type,
        "salesforce",
        user_id,
        "org_a",
        error_code="access_denied",
        error_reason="The user denied access to the application.",
    )
    calls = len(workos_issuing_values.calls)
    assert invalidated_by(client, event) == set()
    assert len(workos_issuing_values.calls) == calls + 2 * len(CONNECTIONS), (
        "only the first snapshot asked"
    )
    (signal,) = changed
    assert signal["event_type"] == event_type and signal["event"]["id"] == event["id"]
    assert (signal["provider"], signal["user_id"], signal["organization_id"]) == (
        "salesforce",
        user_id,
        "org_a",
    )
    assert signal["error_code"] == "access_denied"
    assert signal["error_reason"] == "The user denied access to the application."
    assert signal["connected_account_id"] is None


def test_a_failure_without_its_code_still_reads_as_a_failure(
    client: Client, workos_issuing_values: responses.RequestsMock, changed: list[dict[str, Any]]
) -> None:
    event = webhook_event("add_failed", "salesforce", "user_1", error_code=7, error_reason=None)
    assert invalidated_by(client, event) == set()
    assert (changed[0]["error_code"], changed[0]["error_reason"]) == ("unknown", None)


def test_a_failure_leaves_the_users_listing_cached(
    client: Client, workos_issuing_values: responses.RequestsMock
) -> None:
    workos_issuing_values.get(
        f"{WORKOS}/user_management/users/user_1/data_providers",
        json={"object": "list", "data": []},
    )
    pipes.list_connections("user_1")
    failed = webhook_event("connection_failed", "salesforce", "user_1", family="account_connection")
    assert post_webhook(client, failed).status_code == 200
    pipes.list_connections("user_1")
    listings = [call for call in workos_issuing_values.calls if call.request.method == "GET"]
    assert len(listings) == 1
    connected = webhook_event("connected", "salesforce", "user_1", family="account_connection")
    assert post_webhook(client, connected).status_code == 200
    pipes.list_connections("user_1")
    assert len([call for call in workos_issuing_values.calls if call.request.method == "GET"]) == 2


def test_a_later_type_of_a_pipes_family_carrying_an_account_invalidates(
    client: Client, workos_issuing_values: responses.RequestsMock, changed: list[dict[str, Any]]
) -> None:
    """Enums are open: WorkOS may add a change; forgetting a cached answer is cheap."""
    event = webhook_event("connected", "salesforce", "user_1", "org_a")
    event["event"] = "pipes.account_connection.updated"
    assert invalidated_by(client, event) == both("salesforce", "user_1", "org_a")
    other = webhook_event("pipes.account_connection.summary", id="x", provider_slug="salesforce")
    assert invalidated_by(client, other) == set()
    assert [c["event_type"] for c in changed] == ["pipes.account_connection.updated"]


# The testing helpers and the command speak both families.


def test_short_names_take_a_family() -> None:
    assert full_event_type("disconnected") == "pipes.connected_account.disconnected"
    assert (
        full_event_type("disconnected", "account_connection")
        == "pipes.account_connection.disconnected"
    )
    assert full_event_type("add_failed") == "pipes.account_connection.add_failed"
    assert full_event_type("pipes.account_connection.connected", "connected_account") == (
        "pipes.account_connection.connected"
    )
    with pytest.raises(ValueError, match="no 'add_failed' event"):
        full_event_type("add_failed", "connected_account")
    with pytest.raises(ValueError, match="unknown event family"):
        full_event_type("connected", "pipes")
    assert set(EVENT_TYPES) == set(wire.ACCOUNT_CONNECTION_EVENTS)
    assert set(EVENT_TYPES.values()) <= PIPES_EVENT_TYPES
    assert len(PIPES_EVENT_TYPES) == 9


@pytest.mark.parametrize("event_type", sorted(PIPES_EVENT_TYPES))
def test_the_official_sdk_reads_every_event_we_build(event_type: str) -> None:
    sdk = WorkOSClient(api_key="sk_test_x", client_id="client_x")
    event = webhook_event(event_type, "hubspot", "user_1", "org_1")
    body = json.dumps(event).encode()
    header = sign_webhook(body, WEBHOOK_SECRET)
    parsed = sdk.webhooks.verify_event(
        event_body=body, event_signature=header, secret=WEBHOOK_SECRET
    )
    assert parsed is not None and parsed.event == event_type
    failed = wire.event_change(event_type) in wire.FAILED_CHANGES
    assert event["data"]["object"] == ("connection_failed" if failed else "connected_account")


def test_the_command_sends_either_family() -> None:
    def respond(request: dict[str, Any]) -> Answer:
        return 200, {"Content-Type": "text/plain"}, b"ok"

    def run(*args: str) -> None:
        call_command(
            "workos_pipes_send_webhook",
            "--provider=zendesk",
            "--user=user_1",
            f"--url={site.url}/hook/",
            *args,
            stdout=io.StringIO(),
        )

    with LoopbackServer(respond) as site:
        run("--event=disconnected", "--family=account_connection")
        run("--event=add_failed")
        run("--event=pipes.account_connection.reauthorization_needed")
        with pytest.raises(CommandError, match="no 'add_failed' event"):
            run("--event=add_failed", "--family=connected_account")
    assert [json.loads(request["body"])["event"] for request in site.requests] == [
        "pipes.account_connection.disconnected",
        "pipes.account_connection.add_failed",
        "pipes.account_connection.reauthorization_needed",
    ]


def test_the_docs_say_what_each_event_type_invalidates() -> None:
    page = Path(__file__).resolve().parent.parent / "docs/explanation/caching.md"
    text = page.read_text()
    table = text[text.index("| Event type") :].split("\n\n")[0]
    for change in wire.ACCOUNT_CONNECTION_EVENTS:
        assert f".{change}`" in table, change
    for family in ("pipes.connected_account", "pipes.account_connection"):
        assert family in table
