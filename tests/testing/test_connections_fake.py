"""``pipes_fake`` answers listings and disconnects from its declarations."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from django_workos_pipes import pipes
from django_workos_pipes.exceptions import PipesUnavailable
from django_workos_pipes.owners import ConnectionRef
from django_workos_pipes.service import PipesService
from django_workos_pipes.testing.fakes import FakeCall, PipesFake

ANN = "user_ann"


def states(organization_id: str | None = None) -> dict[str, str | None]:
    connections = pipes.list_connections(ANN, organization_id=organization_id)
    return {connection.provider: connection.state for connection in connections}


def test_every_provider_a_declaration_names_is_listed_for_every_user(
    pipes_fake: PipesFake,
) -> None:
    pipes_fake.connect("salesforce", ANN, scopes=["api"], account_display_name="Acme")
    pipes_fake.needs_reauthorization("hubspot", ANN)
    pipes_fake.connect("slack", "user_bob")

    connections = pipes.list_connections(ANN)

    assert [(c.provider, c.name, c.state) for c in connections] == [
        ("salesforce", "Salesforce", "connected"),
        ("hubspot", "Hubspot", "needs_reauthorization"),
        ("slack", "Slack", None),
    ]
    salesforce = connections[0].account
    assert salesforce is not None and salesforce.label == "Acme"
    assert salesforce.scopes == ("api",) and salesforce.user_id == ANN
    assert connections[0].accounts == (salesforce,)
    assert pipes_fake.calls == [FakeCall("list_data_providers", "", ANN, None)]


def test_added_providers_are_listed_without_an_account(pipes_fake: PipesFake) -> None:
    pipes_fake.add_provider("hubspot", name="HubSpot")
    pipes_fake.add_provider("apollo-oauth")

    assert [(c.name, c.account) for c in pipes.list_connections(ANN)] == [
        ("HubSpot", None),
        ("Apollo Oauth", None),
    ]


def test_listings_are_per_organization(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", ANN, "org_a")
    assert states("org_a") == {"salesforce": "connected"}
    assert states() == {"salesforce": None}


def test_listings_are_cached_and_declarations_refresh_them(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", ANN)
    assert states() == {"salesforce": "connected"}
    assert states() == {"salesforce": "connected"}
    assert len(pipes_fake.calls) == 1

    pipes_fake.needs_reauthorization("salesforce", ANN)
    assert states() == {"salesforce": "needs_reauthorization"}
    pipes_fake.add_provider("slack")
    assert states() == {"salesforce": "needs_reauthorization", "slack": None}
    assert len(pipes_fake.calls) == 3


def test_labels_survive_a_reconnect(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", ANN, account_identifier="00D", account_display_name="Acme")
    first = pipes_fake.get_connected_account(ConnectionRef("salesforce", user_id=ANN))
    pipes_fake.needs_reauthorization("salesforce", ANN)
    second = pipes_fake.get_connected_account(ConnectionRef("salesforce", user_id=ANN))

    assert first is not None and second is not None
    assert (second.id, second.account_identifier, second.label) == (first.id, "00D", "Acme")
    assert second.created_at == first.created_at
    assert second.updated_at is not None and first.updated_at is not None
    assert second.updated_at >= first.updated_at


def test_disconnect_removes_the_declared_account(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", ANN)
    assert pipes.get_access_token("salesforce", user_id=ANN).active
    assert states() == {"salesforce": "connected"}

    assert pipes.disconnect("salesforce", user_id=ANN) is True
    assert pipes.disconnect("salesforce", user_id=ANN) is False

    assert pipes.get_access_token("salesforce", user_id=ANN).error == "not_installed"
    assert states() == {"salesforce": None}
    assert [call.method for call in pipes_fake.calls] == [
        "get_access_token",
        "list_data_providers",
        "delete_connected_account",
        "delete_connected_account",
        "get_access_token",
        "list_data_providers",
    ]


def test_an_outage_declared_for_a_connection_fails_the_listing(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", ANN)
    pipes_fake.unavailable("hubspot", ANN)

    with pytest.raises(PipesUnavailable):
        pipes.list_connections(ANN)
    with pytest.raises(PipesUnavailable):
        pipes.disconnect("hubspot", user_id=ANN)
    assert states("org_a") == {"salesforce": None, "hubspot": None}  # another organization


@pytest.mark.django_db
@pytest.mark.usefixtures("stub_resolver")
def test_the_page_and_a_disconnect_through_it(
    client: Client, ann: User, pipes_fake: PipesFake
) -> None:
    pipes_fake.connect("salesforce", ANN, account_display_name="Acme Sales")
    pipes_fake.add_provider("slack")

    page = client.get("/pipes/connections/").content.decode()
    assert "Acme Sales" in page and "/pipes/disconnect/salesforce/" in page

    response = client.post("/pipes/disconnect/salesforce/")
    assert response["Location"] == "/pipes/connections/"

    page = client.get("/pipes/connections/").content.decode()
    assert "Acme Sales" not in page and "/pipes/connect/salesforce/" in page
    assert client.get("/sync/")["Location"] == "/pipes/connect/salesforce/?next=/sync/"


def test_the_fake_cleans_the_listings_it_answered() -> None:
    service = PipesService()
    fake = PipesFake()
    fake.connect("salesforce", ANN)
    with fake.installed(service):
        service.list_connections(ANN)
        service.list_connections("user_bob", organization_id="org_b")

    from django_workos_pipes.caching.keys import ListingKeys

    for user, organization in ((ANN, None), ("user_bob", "org_b")):
        keys = ListingKeys.build(user, organization)
        assert service.cache.get(keys.listing) is None
        assert service.cache.get(keys.user_generation) is None
