"""``pipes_fake`` with organization-owned connections and several accounts per provider."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from django_workos_pipes import pipes
from django_workos_pipes.exceptions import PipesUnavailable
from django_workos_pipes.service import PipesService
from django_workos_pipes.testing.fakes import FakeCall, PipesFake

ORG = "org_acme"
SHARED = {"organization_id": ORG, "owner": "organization"}
MEMBERS = ("user_ann", "user_bob", "user_cid")


def test_an_organization_s_connection_answers_every_member_once(pipes_fake: PipesFake) -> None:
    token = pipes_fake.connect("salesforce", organization_id=ORG, owner="organization")

    for member in MEMBERS * 10:
        assert pipes.require_access_token("salesforce", user_id=member, **SHARED) == token

    assert pipes_fake.calls == [
        FakeCall("get_access_token", "salesforce", "user_ann", ORG, owner="organization")
    ]


def test_a_member_s_own_connection_is_not_the_organization_s(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", organization_id=ORG, owner="organization")

    own = pipes.get_access_token("salesforce", user_id="user_ann", organization_id=ORG)

    assert own.error == "not_installed"


def test_declaring_for_the_organization_invalidates_every_member(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", organization_id=ORG, owner="organization")
    assert pipes.get_access_token("salesforce", user_id="user_bob", **SHARED).active

    pipes_fake.needs_reauthorization("salesforce", organization_id=ORG, owner="organization")

    result = pipes.get_access_token("salesforce", user_id="user_cid", **SHARED)
    assert result.error == "needs_reauthorization"


def test_organization_declarations_need_an_organization(pipes_fake: PipesFake) -> None:
    with pytest.raises(ValueError, match="organization_id"):
        pipes_fake.connect("salesforce", "user_ann", owner="organization")
    with pytest.raises(ValueError, match="user_id"):
        pipes_fake.connect("salesforce")
    with pytest.raises(ValueError, match="owner"):
        pipes_fake.connect("salesforce", "user_ann", owner="team")  # type: ignore[arg-type]


def test_listings_show_organization_providers_as_the_organization_s(
    pipes_fake: PipesFake,
) -> None:
    pipes_fake.connect("salesforce", "user_ann", ORG, owner="organization")
    pipes_fake.connect("slack", "user_ann")
    pipes_fake.add_provider("zendesk", "Zendesk", connection_owner="organization")

    mine = pipes.list_connections("user_ann", organization_id=ORG)
    shared = pipes.list_organization_connections(ORG)

    assert [(c.provider, c.connection_owner, c.state) for c in mine] == [
        ("salesforce", "organization", None),
        ("slack", "user", None),
        ("zendesk", "organization", None),
    ]
    assert [(c.provider, c.state) for c in shared] == [
        ("salesforce", "connected"),
        ("zendesk", None),
    ]
    account = shared[0].account
    assert account is not None
    assert (account.user_id, account.organization_id) == (None, ORG)
    assert account.established_by_user_id == "user_ann"
    assert pipes_fake.calls[-1] == FakeCall(
        "list_organization_data_providers", "", None, ORG, owner="organization"
    )


def test_disconnecting_the_organization_s_connection(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", organization_id=ORG, owner="organization")
    assert pipes.get_access_token("salesforce", user_id="user_ann", **SHARED).active

    assert pipes.disconnect("salesforce", **SHARED) is True
    assert pipes.disconnect("salesforce", **SHARED) is False

    assert pipes.get_access_token("salesforce", user_id="user_ann", **SHARED).error == (
        "not_installed"
    )
    assert pipes_fake.calls[1] == FakeCall(
        "delete_connected_account", "salesforce", None, ORG, owner="organization"
    )


def test_an_organization_outage(pipes_fake: PipesFake) -> None:
    pipes_fake.unavailable("salesforce", organization_id=ORG, owner="organization")

    with pytest.raises(PipesUnavailable):
        pipes.get_access_token("salesforce", user_id="user_ann", **SHARED)
    with pytest.raises(PipesUnavailable):
        pipes.list_organization_connections(ORG)

    pipes_fake.connect("salesforce", organization_id=ORG, owner="organization")
    assert pipes.get_access_token("salesforce", user_id="user_ann", **SHARED).active


def test_the_authorize_url_names_the_owner(pipes_fake: PipesFake) -> None:
    url = pipes.authorize_url(
        "salesforce", user_id="user_ann", return_to="https://app.example/", **SHARED
    )
    assert "connection_owner=organization" in url and f"organization_id={ORG}" in url


# Several accounts ---------------------------------------------------------------------


def two_accounts(fake: PipesFake) -> tuple[str, str]:
    first = fake.connect("salesforce", "user_ann", account_display_name="Sales")
    second = fake.connect(
        "salesforce", "user_ann", connected_account_id="ca_support", account_display_name="Support"
    )
    return first.access_token, second.access_token


def test_a_named_account_answers_with_its_own_token(pipes_fake: PipesFake) -> None:
    first, second = two_accounts(pipes_fake)

    def token(account: str | None) -> str:
        return pipes.require_access_token(
            "salesforce", user_id="user_ann", connected_account_id=account
        ).access_token

    assert token(None) == first  # without the flag: the compatibility account
    assert token("ca_support") == second
    assert pipes.get_access_token(
        "salesforce", user_id="user_ann", connected_account_id="ca_gone"
    ).error == ("not_installed")


@pytest.mark.usefixtures("supports_multiple_connections")
def test_several_accounts_and_none_named_need_a_selection(pipes_fake: PipesFake) -> None:
    two_accounts(pipes_fake)

    result = pipes.get_access_token("salesforce", user_id="user_ann")

    assert result.error == "account_selection_required"
    assert pipes_fake.calls[-1].supports_multiple_connections is True


@pytest.mark.usefixtures("supports_multiple_connections")
def test_listings_show_every_account_with_the_flag(pipes_fake: PipesFake) -> None:
    two_accounts(pipes_fake)

    (salesforce,) = pipes.list_connections("user_ann")

    assert salesforce.account is not None and salesforce.account.label == "Sales"
    assert [(a.label, a.connection_role) for a in salesforce.accounts] == [
        ("Sales", "compatibility"),
        ("Support", "standard"),
    ]


def test_listings_show_the_compatibility_account_alone_without_the_flag(
    pipes_fake: PipesFake,
) -> None:
    two_accounts(pipes_fake)
    (salesforce,) = pipes.list_connections("user_ann")
    assert [a.label for a in salesforce.accounts] == ["Sales"]


def test_removing_one_account_keeps_the_other(pipes_fake: PipesFake) -> None:
    first, _ = two_accounts(pipes_fake)
    pipes_fake.not_installed("salesforce", "user_ann", connected_account_id="ca_support")
    assert pipes.require_access_token("salesforce", user_id="user_ann").access_token == first

    two_accounts(pipes_fake)
    assert pipes.disconnect("salesforce", user_id="user_ann", connected_account_id="ca_support")
    found = pipes.get_access_token(
        "salesforce", user_id="user_ann", connected_account_id="ca_support"
    )
    assert found.error == "not_installed"

    pipes_fake.not_installed("salesforce", "user_ann")
    assert pipes.get_access_token("salesforce", user_id="user_ann").error == "not_installed"


def test_the_cache_is_clean_after_the_fake_leaves() -> None:
    service = PipesService()
    with PipesFake().installed(service) as fake:
        fake.connect("salesforce", organization_id=ORG, owner="organization")
        fake.connect("salesforce", "user_ann", connected_account_id="ca_2")
        service.get_access_token("salesforce", user_id="user_ann", **SHARED)
        service.get_access_token("salesforce", user_id="user_ann", connected_account_id="ca_2")
        service.list_organization_connections(ORG)
    assert not cache._cache  # type: ignore[attr-defined]
