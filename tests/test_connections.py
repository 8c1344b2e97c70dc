"""Connections: the answer types, the WorkOS calls, and the service's listing, its cache
and its invalidation, and disconnect. WorkOS is stubbed with ``responses``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import responses
import time_machine
from django.dispatch import Signal
from django.test import Client, override_settings
from workos.common.models import ConnectedAccount as SDKConnectedAccount
from workos.common.models import DataIntegrationsListResponse

from django_workos_pipes import pipes
from django_workos_pipes.caching.keys import ListingKeys
from django_workos_pipes.caching.listings import ListingEntry
from django_workos_pipes.exceptions import (
    PipesAPIError,
    PipesMalformedResponse,
    PipesUnavailable,
)
from django_workos_pipes.owners import ConnectionRef
from django_workos_pipes.results import ConnectedAccount, Connection
from django_workos_pipes.service import PipesService
from django_workos_pipes.signals import DISCONNECT, connection_changed
from django_workos_pipes.testing import post_webhook, webhook_event
from django_workos_pipes.workos.client import PipesClient
from tests import builders, stubs
from tests.builders import token_answer
from tests.settings import API_KEY
from tests.stubs import WORKOS, stub_token

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=timezone.utc)

# The answer types ------------------------------------------------------------------


def test_the_stubs_are_what_the_official_sdk_reads() -> None:
    """The tests' WorkOS answers deserialize with the SDK's own models."""
    parsed = DataIntegrationsListResponse.from_dict(builders.ann_listing())
    assert [item.slug for item in parsed.data] == ["salesforce", "hubspot", "slack"]
    SDKConnectedAccount.from_dict(builders.account())


def test_connected_account_keeps_the_sdk_fields() -> None:
    account = ConnectedAccount.from_api(
        builders.account(
            account_display_name="Acme Sales",
            account_identifier="00D5g000004",
            established_by_user_id="user_ann",
        )
    )

    assert account.id == "ca_01SALESFORCE"
    assert account.state == "connected" and account.active
    assert account.scopes == ("api", "refresh_token")
    assert account.label == "Acme Sales"
    assert account.account_identifier == "00D5g000004"
    assert account.connection_role == "compatibility"
    assert account.auth_method == "oauth"
    assert account.user_id == "user_ann" and account.organization_id is None
    assert account.established_by_user_id == "user_ann"
    assert account.created_at == builders.CREATED
    assert account.updated_at == builders.UPDATED


def test_unknown_enum_values_are_kept_and_optional_keys_may_be_missing() -> None:
    account = ConnectedAccount.from_api(
        {
            "id": "ca_1",
            "state": "paused",
            "connection_role": "shadow",
            "auth_method": "mtls",
            "state_reason": "something_new",
        }
    )

    assert (account.state, account.connection_role, account.auth_method) == (
        "paused",
        "shadow",
        "mtls",
    )
    assert not account.active
    assert account.state_reason == "something_new"
    assert account.scopes == () and account.created_at is None and account.label is None


def test_an_account_without_state_or_auth_method_gets_the_documented_defaults() -> None:
    account = ConnectedAccount.from_api({"id": "ca_1", "created_at": "2024-02-30T00:00:00Z"})
    assert (account.state, account.auth_method, account.created_at) == ("unknown", "oauth", None)


def test_nothing_secret_is_kept_from_an_account() -> None:
    raw = builders.account(
        auth_method="client_credentials",
        api_key_last_4="WXYZ",
        client_id="client_secret_looking_id",
        client_secret_last_4="QRST",
        config={"subdomain": "acme-private"},
    )

    account = ConnectedAccount.from_api(raw)

    shown = repr(account) + json.dumps(account.as_json())
    for value in ("WXYZ", "client_secret_looking_id", "QRST", "acme-private"):
        assert value not in shown


@pytest.mark.parametrize(
    "raw",
    [
        None,
        [],
        {"state": "connected"},
        {"id": ""},
        {"id": 7},
        {"id": "ca_1", "scopes": "api"},
        {"id": "ca_1", "state": 3},
    ],
)
def test_an_account_that_is_not_one_is_refused(raw: Any) -> None:
    with pytest.raises(ValueError):
        ConnectedAccount.from_api(raw)


def test_connection_of_a_provider_never_connected() -> None:
    connection = Connection.from_api(builders.data_provider("slack", "Slack"))

    assert (connection.provider, connection.name) == ("slack", "Slack")
    assert connection.account is None and connection.accounts == ()
    assert connection.state is None and not connection.active
    assert connection.connection_owner == "user"
    assert connection.description == "Slack for the tests"


def test_connection_with_an_account_and_every_account_listed() -> None:
    first = builders.account()
    second = builders.account(
        "needs_reauthorization", account_id="ca_02", connection_role="standard"
    )
    connection = Connection.from_api(
        builders.data_provider(
            "salesforce", "Salesforce", first, connected_accounts=[first, second]
        )
    )

    assert connection.state == "connected" and connection.active
    assert connection.account is not None and connection.account.id == "ca_01SALESFORCE"
    assert [account.id for account in connection.accounts] == ["ca_01SALESFORCE", "ca_02"]


def test_older_answers_without_connection_owner_or_accounts_list_are_read() -> None:
    raw = builders.data_provider(
        "jira", "Jira", builders.account("disconnected"), ownership="organization"
    )
    del raw["connection_owner"], raw["connected_accounts"]

    connection = Connection.from_api(raw)

    assert connection.connection_owner == "organization"
    assert connection.state == "disconnected" and not connection.active
    assert connection.accounts == (connection.account,)


@pytest.mark.parametrize(
    "body",
    [
        None,
        {"object": "list"},
        {"data": {}},
        {"data": [None]},
        {"data": [{"name": "No slug"}]},
        {"data": [{"slug": "x", "connected_account": "yes"}]},
        {"data": [{"slug": "x", "connected_accounts": {}}]},
    ],
)
def test_a_listing_that_is_not_one_is_refused(body: Any) -> None:
    with pytest.raises(ValueError):
        Connection.list_from_api(body)


def test_as_json_is_ready_for_json() -> None:
    (connection, *_) = Connection.list_from_api(builders.ann_listing())
    data = json.loads(json.dumps(connection.as_json()))

    assert data["provider"] == "salesforce" and data["state"] == "connected" and data["active"]
    assert data["account"]["account_display_name"] == "Acme Sales"
    assert data["account"]["updated_at"] == "2030-02-03T04:05:06Z"
    assert data["accounts"] == [data["account"]]


def test_a_listing_survives_its_cache_encoding() -> None:
    connections = Connection.list_from_api(builders.ann_listing())
    entry = ListingEntry((11, 22), 2.5, connections)

    decoded = ListingEntry.decode(entry.encode())

    assert decoded == entry
    assert ListingEntry.decode(("L1", 1.0, 2.0, ())) is None
    assert ListingEntry.decode(("L2", (1, 2), 2.0, (("only", "three", "items"),))) is None
    assert ListingEntry.decode(("L2", (1.0, 2), 2.0, ())) is None  # not generations
    assert ListingEntry.decode({"not": "a tuple"}) is None


# The WorkOS client -----------------------------------------------------------------


@pytest.fixture
def workos_client() -> PipesClient:
    return PipesClient(api_key=API_KEY, base_url=WORKOS, backoff_factor=0)


def test_listing_sends_the_organization_and_the_api_key(
    workos_client: PipesClient, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_listing(workos_stub, organization_id="org_acme")

    connections = workos_client.list_data_providers("user_ann", organization_id="org_acme")

    assert [c.provider for c in connections] == ["salesforce", "hubspot", "slack"]
    assert workos_stub.calls[0].request.headers["Authorization"] == f"Bearer {API_KEY}"


def test_listing_without_organization_sends_no_query(
    workos_client: PipesClient, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_listing(workos_stub, builders.listing())
    assert workos_client.list_data_providers("user_ann") == ()


def test_ids_are_percent_encoded_in_the_path(
    workos_client: PipesClient, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(
        f"{WORKOS}/user_management/users/user%2F..%2Fx/data_providers", json={"data": []}
    )
    assert workos_client.list_data_providers("user/../x") == ()


def test_a_malformed_listing_is_a_malformed_response(
    workos_client: PipesClient, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_listing(workos_stub, {"object": "list", "data": "nope"})
    with pytest.raises(PipesMalformedResponse, match="data providers"):
        workos_client.list_data_providers("user_ann")


def test_listing_outage_is_unavailable(
    workos_client: PipesClient, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_listing(workos_stub, {"message": "down"}, status=503)
    with pytest.raises(PipesUnavailable):
        workos_client.list_data_providers("user_ann")


def test_get_connected_account_is_parsed_and_404_is_none(
    workos_client: PipesClient, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(stubs.account_url("salesforce"), json=builders.account())
    workos_stub.get(stubs.account_url("hubspot"), json={"message": "Not found"}, status=404)

    account = workos_client.get_connected_account(ConnectionRef("salesforce", user_id="user_ann"))

    assert isinstance(account, ConnectedAccount) and account.id == "ca_01SALESFORCE"
    assert workos_client.get_connected_account(ConnectionRef("hubspot", user_id="user_ann")) is None


def test_delete_answers_whether_an_account_was_removed(
    workos_client: PipesClient, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_delete(workos_stub, "salesforce", organization_id="org_acme")
    stubs.stub_delete(workos_stub, "hubspot", status=404, body=json.dumps({"message": "Not found"}))

    assert workos_client.delete_connected_account(
        ConnectionRef("salesforce", user_id="user_ann", organization_id="org_acme")
    )
    assert not workos_client.delete_connected_account(ConnectionRef("hubspot", user_id="user_ann"))
    assert workos_stub.calls[0].request.method == "DELETE"
    assert "Idempotency-Key" not in workos_stub.calls[0].request.headers


def test_delete_answered_200_with_a_body_is_fine_too(
    workos_client: PipesClient, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_delete(workos_stub, "salesforce", status=200, body="{}")
    assert workos_client.delete_connected_account(ConnectionRef("salesforce", user_id="user_ann"))


def test_delete_refused_is_an_api_error(
    workos_client: PipesClient, workos_stub: responses.RequestsMock
) -> None:
    body = json.dumps({"message": "Conflict", "code": "conflict"})
    stubs.stub_delete(workos_stub, "salesforce", status=409, body=body)
    with pytest.raises(PipesAPIError) as caught:
        workos_client.delete_connected_account(ConnectionRef("salesforce", user_id="user_ann"))
    assert caught.value.status_code == 409


# The service: a cached listing -----------------------------------------------------


def listing() -> tuple[Connection, ...]:
    return pipes.list_connections("user_ann")


def test_listing_is_cached_per_user(workos_stub: responses.RequestsMock) -> None:
    stubs.stub_listing(workos_stub)
    stubs.stub_listing(workos_stub, builders.listing(), user_id="user_bob")

    for _ in range(50):
        assert [c.state for c in listing()] == ["connected", "needs_reauthorization", None]
    assert pipes.list_connections("user_bob") == ()
    assert pipes.list_connections("user_bob") == ()

    assert stubs.listing_calls(workos_stub) == 2


def test_listing_is_cached_per_organization(workos_stub: responses.RequestsMock) -> None:
    stubs.stub_listing(workos_stub)
    stubs.stub_listing(workos_stub, builders.listing(), organization_id="org_acme")

    assert len(pipes.list_connections("user_ann")) == 3
    assert pipes.list_connections("user_ann", organization_id="org_acme") == ()
    assert len(pipes.list_connections("user_ann")) == 3

    assert stubs.listing_calls(workos_stub) == 2


@pytest.mark.parametrize("provider", ["salesforce", "slack", "a-provider-not-listed"])
def test_invalidating_any_provider_of_the_user_refreshes_the_listing(
    provider: str, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_listing(workos_stub)
    listing()

    assert pipes.invalidate(provider, user_id="user_ann")
    listing()
    listing()

    assert stubs.listing_calls(workos_stub) == 2


def test_invalidating_another_user_or_organization_keeps_the_listing(
    workos_stub: responses.RequestsMock,
) -> None:
    stubs.stub_listing(workos_stub)
    listing()

    pipes.invalidate("salesforce", user_id="user_bob")
    pipes.invalidate("salesforce", user_id="user_ann", organization_id="org_acme")
    pipes.invalidate_organization("salesforce", "org_acme")
    listing()

    assert stubs.listing_calls(workos_stub) == 1


def test_invalidating_the_organization_refreshes_every_listing_under_it(
    workos_stub: responses.RequestsMock,
) -> None:
    stubs.stub_listing(workos_stub, builders.listing(), organization_id="org_acme")
    stubs.stub_listing(
        workos_stub, builders.listing(), user_id="user_bob", organization_id="org_acme"
    )
    for user in ("user_ann", "user_bob"):
        pipes.list_connections(user, organization_id="org_acme")

    pipes.invalidate_organization("hubspot", "org_acme")
    for user in ("user_ann", "user_bob"):
        pipes.list_connections(user, organization_id="org_acme")

    assert stubs.listing_calls(workos_stub) == 4


def test_a_webhook_for_any_provider_refreshes_the_listing(
    workos_stub: responses.RequestsMock,
) -> None:
    stubs.stub_listing(workos_stub)
    listing()
    listing()

    event = webhook_event("reauthorization_needed", "slack", "user_ann")
    assert post_webhook(Client(), event).status_code == 200
    listing()

    assert stubs.listing_calls(workos_stub) == 2


def test_a_listing_fetched_before_an_invalidation_is_not_kept(
    lenient_workos_stub: responses.RequestsMock,
) -> None:
    """A webhook arriving while WorkOS answers the listing: the answer may be older than
    the change, so it must not be served afterwards."""

    answered: list[int] = []

    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        if not answered:  # the first answer is being sent as the change happens
            pipes.invalidate("salesforce", user_id="user_ann")
        answered.append(1)
        return 200, {}, json.dumps(builders.ann_listing())

    lenient_workos_stub.add_callback(responses.GET, stubs.listing_url(), callback=respond)

    listing()
    listing()

    assert stubs.listing_calls(lenient_workos_stub) == 2


def test_the_listing_is_fresh_for_connections_ttl(workos_stub: responses.RequestsMock) -> None:
    stubs.stub_listing(workos_stub)
    with time_machine.travel(NOW, tick=False) as traveller:
        listing()
        traveller.shift(timedelta(seconds=299))
        listing()
        traveller.shift(timedelta(seconds=2))
        listing()

    assert stubs.listing_calls(workos_stub) == 2


def test_connections_ttl_zero_never_caches(workos_stub: responses.RequestsMock) -> None:
    stubs.stub_listing(workos_stub)
    with override_settings(WORKOS_PIPES={"API_KEY": API_KEY, "CONNECTIONS_TTL": 0}):
        listing()
        listing()
    assert stubs.listing_calls(workos_stub) == 2


def test_a_stale_listing_is_served_while_workos_is_down(
    lenient_workos_stub: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    stubs.stub_listing(lenient_workos_stub)
    with time_machine.travel(NOW, tick=False) as traveller:
        first = listing()
        traveller.shift(timedelta(hours=2))
        lenient_workos_stub.replace(responses.GET, stubs.listing_url(), status=503, json={})

        assert listing() == first
    assert "serving the cached connections" in caplog.text


def test_an_invalidated_listing_is_never_served_even_when_workos_is_down(
    lenient_workos_stub: responses.RequestsMock,
) -> None:
    stubs.stub_listing(lenient_workos_stub)
    listing()
    pipes.invalidate("salesforce", user_id="user_ann")
    lenient_workos_stub.replace(responses.GET, stubs.listing_url(), status=503, json={})

    with pytest.raises(PipesUnavailable):
        listing()


DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
    }
}


def test_cache_down_means_listing_straight_from_workos(workos_stub: responses.RequestsMock) -> None:
    stubs.stub_listing(workos_stub)
    service = PipesService()
    with override_settings(CACHES=DEAD_REDIS):
        assert len(service.list_connections("user_ann")) == 3
        assert len(service.list_connections("user_ann")) == 3
    assert stubs.listing_calls(workos_stub) == 2


@pytest.mark.redis
def test_an_invalidation_in_one_process_refreshes_the_listing_in_another(
    redis_cache: str, workos_stub: responses.RequestsMock
) -> None:
    """Two services sharing Redis stand for two processes: a webhook handled by one
    makes the other's next listing fresh; before it, both share one cached listing."""
    stubs.stub_listing(workos_stub)
    web, worker = PipesService(), PipesService()

    web.list_connections("user_ann")
    worker.list_connections("user_ann")
    assert stubs.listing_calls(workos_stub) == 1

    worker.invalidate("jira", user_id="user_ann")
    web.list_connections("user_ann")
    assert stubs.listing_calls(workos_stub) == 2

    keys = ListingKeys.build("user_ann", None)
    assert keys.listing and keys.user_generation != keys.org_generation


# The service: disconnect -----------------------------------------------------------


@pytest.fixture
def changes(record_signal: Callable[[Signal], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return record_signal(connection_changed)


def test_disconnect_removes_forgets_and_signals_once(
    workos_stub: responses.RequestsMock, changes: list[dict[str, Any]]
) -> None:
    stubs.stub_listing(workos_stub)
    stub_token(workos_stub, "salesforce", token_answer())
    stubs.stub_delete(workos_stub, "salesforce")
    assert pipes.get_access_token("salesforce", user_id="user_ann").active
    listing()

    assert pipes.disconnect("salesforce", user_id="user_ann") is True

    assert changes == [
        {
            "sender": PipesService,
            "signal": connection_changed,
            "provider": "salesforce",
            "user_id": "user_ann",
            "organization_id": None,
            "event_type": DISCONNECT,
            "event": None,
            "connected_account_id": None,
            "error_code": None,
            "error_reason": None,
        }
    ]
    workos_stub.replace(
        responses.POST, f"{WORKOS}/data-integrations/salesforce/token", json=token_answer()
    )
    pipes.get_access_token("salesforce", user_id="user_ann")
    listing()
    methods = [(call.request.method, call.request.url.split("/")[-1]) for call in workos_stub.calls]
    assert methods == [
        ("POST", "token"),
        ("GET", "data_providers"),
        ("DELETE", "salesforce"),
        ("POST", "token"),
        ("GET", "data_providers"),
    ]


def test_disconnect_of_no_account_is_false_and_signals_nothing(
    workos_stub: responses.RequestsMock, changes: list[dict[str, Any]]
) -> None:
    stubs.stub_delete(workos_stub, "slack", status=404, body=json.dumps({"message": "Not found"}))
    assert pipes.disconnect("slack", user_id="user_ann") is False
    assert changes == []


def test_disconnect_sends_the_organization(
    workos_stub: responses.RequestsMock, changes: list[dict[str, Any]]
) -> None:
    stubs.stub_delete(workos_stub, "salesforce", organization_id="org_acme")
    assert pipes.disconnect("salesforce", user_id="user_ann", organization_id="org_acme")
    assert changes[0]["organization_id"] == "org_acme"


def test_disconnect_forgets_the_cache_before_asking_workos(
    workos_stub: responses.RequestsMock, changes: list[dict[str, Any]]
) -> None:
    """Should WorkOS act but its answer be lost, nothing stale stays cached."""
    stubs.stub_listing(workos_stub)
    listing()
    stubs.stub_delete(workos_stub, "salesforce", status=500, body="{}")

    with pytest.raises(PipesUnavailable):
        pipes.disconnect("salesforce", user_id="user_ann")
    pipes.reset_breakers()  # the 500 opened the WorkOS breaker; this test is about the cache

    listing()
    assert stubs.listing_calls(workos_stub) == 2
    assert changes == []


def test_a_failing_receiver_does_not_undo_the_invalidation(
    workos_stub: responses.RequestsMock,
) -> None:
    stubs.stub_listing(workos_stub)
    stubs.stub_delete(workos_stub, "salesforce")
    listing()

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("receiver failed")

    connection_changed.connect(broken, weak=False)
    try:
        with pytest.raises(RuntimeError):
            pipes.disconnect("salesforce", user_id="user_ann")
    finally:
        connection_changed.disconnect(broken)
    listing()
    assert stubs.listing_calls(workos_stub) == 2


def test_get_connected_account_through_the_service(workos_stub: responses.RequestsMock) -> None:
    workos_stub.get(
        stubs.account_url("salesforce"), json=builders.account(account_identifier="00D")
    )
    account = pipes.get_connected_account("salesforce", user_id="user_ann")
    assert account is not None and account.label == "00D"


def test_async_twins(workos_stub: responses.RequestsMock, changes: list[dict[str, Any]]) -> None:
    stubs.stub_listing(workos_stub)
    workos_stub.get(stubs.account_url("salesforce"), json=builders.account())
    stubs.stub_delete(workos_stub, "salesforce")

    async def run() -> tuple[Any, ...]:
        return (
            await pipes.alist_connections("user_ann"),
            await pipes.aget_connected_account("salesforce", user_id="user_ann"),
            await pipes.adisconnect("salesforce", user_id="user_ann"),
        )

    connections, account, removed = asyncio.run(run())

    assert len(connections) == 3 and account.id == "ca_01SALESFORCE" and removed is True
    assert [change["event_type"] for change in changes] == [DISCONNECT]
