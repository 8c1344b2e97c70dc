"""Several accounts of one provider in views: ``account_selection_required`` sends the user
to pick one on the connections page, the choice is remembered in their session and used
by ``require_pipe``, the template tags and the reauthorize flow."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from django_workos_pipes.selection import SESSION_KEY, chosen_account
from django_workos_pipes.testing.fakes import PipesFake

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("stub_resolver", "supports_multiple_connections"),
]

ANN = "user_ann"
JSON = {"Accept": "application/json"}
PICK = "/pipes/connections/?provider=salesforce&next=/sync/"


@pytest.fixture
def two(pipes_fake: PipesFake) -> dict[str, str]:
    """Ann holds two Salesforce accounts: Sales (the compatibility one) and Support."""
    sales = pipes_fake.connect("salesforce", ANN, account_display_name="Sales")
    support = pipes_fake.connect(
        "salesforce", ANN, connected_account_id="ca_support", account_display_name="Support"
    )
    (connection,) = [c for c in pipes_fake.list_data_providers(ANN) if c.provider == "salesforce"]
    assert connection.account is not None
    pipes_fake.clear_calls()
    return {
        "sales_id": connection.account.id,
        "sales": sales.access_token,
        "support": support.access_token,
    }


def choose(client: Client, account: str, next_url: str = "/sync/", **extra: str) -> Any:
    return client.post("/pipes/choose/salesforce/", {"account": account, "next": next_url, **extra})


def test_several_accounts_and_none_chosen_send_the_user_to_pick_one(
    client: Client, ann: User, two: dict[str, str]
) -> None:
    page = client.get("/sync/")
    as_json = client.get("/sync/", headers=JSON)

    assert (page.status_code, page["Location"]) == (302, PICK)
    assert as_json.status_code == 403
    assert as_json.json() == {
        "error": "account_selection_required",
        "provider": "salesforce",
        "redirect": PICK,
    }


def test_the_connections_page_shows_every_account_and_a_way_to_pick(
    client: Client, ann: User, two: dict[str, str]
) -> None:
    page = client.get(PICK).content.decode()

    assert "You have several salesforce accounts" in page
    assert page.count("Use this account") == 2
    assert 'data-account="ca_support"' in page
    assert f'data-account="{two["sales_id"]}"' in page
    assert 'action="/pipes/choose/salesforce/?next=/sync/"' in page
    assert "fake_salesforce" not in page  # no token on the page


def test_picking_an_account_remembers_it_and_the_page_then_runs_with_it(
    client: Client, ann: User, two: dict[str, str], pipes_fake: PipesFake
) -> None:
    response = choose(client, "ca_support")

    assert (response.status_code, response["Location"]) == (302, "/sync/")
    assert client.get("/sync/").json() == {"salesforce": two["support"]}
    assert client.get("/async/").json() == {"salesforce": two["support"]}
    token_calls = [call for call in pipes_fake.calls if call.method == "get_access_token"]
    assert [call.connected_account_id for call in token_calls] == ["ca_support"]

    page = client.get("/pipes/connections/").content.decode()
    assert page.count("Use this account") == 1 and "In use" in page


def test_picking_answers_json_clients(client: Client, ann: User, two: dict[str, str]) -> None:
    response = client.post("/pipes/choose/salesforce/", {"account": "ca_support"}, headers=JSON)
    assert response.json() == {
        "provider": "salesforce",
        "connected_account_id": "ca_support",
        "redirect": "/pipes/connections/",
    }


def test_an_account_the_listing_does_not_show_is_refused(
    client: Client, ann: User, two: dict[str, str]
) -> None:
    assert choose(client, "ca_someone_else").status_code == 400
    as_json = client.post("/pipes/choose/salesforce/", {"account": "ca_x"}, headers=JSON)
    assert as_json.json() == {"error": "unknown_account", "provider": "salesforce"}
    assert client.get("/sync/")["Location"] == PICK


def test_an_empty_choice_forgets_it(client: Client, ann: User, two: dict[str, str]) -> None:
    choose(client, "ca_support")
    choose(client, "")
    assert client.get("/sync/")["Location"] == PICK


def test_a_chosen_account_that_is_gone_is_forgotten(
    client: Client, ann: User, two: dict[str, str], pipes_fake: PipesFake
) -> None:
    choose(client, "ca_support")
    pipes_fake.not_installed("salesforce", ANN, connected_account_id="ca_support")

    # One account is left: the default one answers, and the choice is dropped.
    assert client.get("/sync/").json() == {"salesforce": two["sales"]}
    assert SESSION_KEY not in client.session or not client.session[SESSION_KEY]


def test_choosing_needs_a_login_and_a_post(client: Client, two: dict[str, str]) -> None:
    assert choose(client, "ca_support")["Location"].startswith("/login/")
    assert client.get("/pipes/choose/salesforce/").status_code == 405


def test_reauthorize_uses_the_chosen_account(
    client: Client, ann: User, two: dict[str, str], pipes_fake: PipesFake
) -> None:
    choose(client, "ca_support")
    response = client.get("/pipes/reauthorize/salesforce/?next=/sync/")

    assert "connected_account_id=ca_support" in response["Location"]
    assert [call.method for call in pipes_fake.calls] == ["list_data_providers", "authorize_url"]


def test_reauthorize_of_a_named_account(
    client: Client, ann: User, two: dict[str, str], pipes_fake: PipesFake
) -> None:
    response = client.get(f"/pipes/reauthorize/salesforce/?account={two['sales_id']}")
    assert f"connected_account_id={two['sales_id']}" in response["Location"]


def test_disconnecting_the_chosen_account_forgets_the_choice(
    client: Client, ann: User, two: dict[str, str]
) -> None:
    choose(client, "ca_support")

    response = client.post("/pipes/disconnect/salesforce/", {"account": "ca_support"})

    assert response.status_code == 302
    assert client.get("/sync/").json() == {"salesforce": two["sales"]}


def test_pipe_status_and_pipe_chosen_account_follow_the_choice(
    client: Client, ann: User, two: dict[str, str]
) -> None:
    from django.template import Context, Template
    from django.test import RequestFactory

    choose(client, "ca_support")
    request = RequestFactory().get("/page/")
    request.user = ann
    request.session = client.session
    source = (
        "{% load workos_pipes %}{% pipe_chosen_account 'salesforce' as chosen %}"
        "{% pipe_status 'salesforce' as sf %}{{ chosen }} {{ sf.active }}"
        " {% pipe_select_account_url 'salesforce' %}"
    )

    rendered = Template(source).render(Context({"request": request}))

    assert rendered == ("ca_support True /pipes/connections/?provider=salesforce&amp;next=/page/")
    assert chosen_account(request, "salesforce") == "ca_support"
    assert chosen_account(request, "salesforce", owner="organization", organization_id="o") is None


def test_without_a_choice_pipe_status_says_a_selection_is_needed(
    client: Client, ann: User, two: dict[str, str]
) -> None:
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/page/")
    request.user = ann
    request.session = client.session
    source = "{% load workos_pipes %}{% pipe_status 'salesforce' as sf %}{{ sf.error }}"

    assert Template(source).render(Context({"request": request})) == "account_selection_required"


def test_a_session_from_request_pipes_uses_the_chosen_account(
    client: Client, ann: User, two: dict[str, str], settings: Any
) -> None:
    import responses

    from tests import views

    choose(client, "ca_support")
    seen: list[str] = []

    def view(request: Any) -> Any:
        with responses.RequestsMock() as provider:
            provider.get("https://api.example.com/me", json={})
            request.pipes.session("salesforce").get("https://api.example.com/me")
            seen.append(provider.calls[0].request.headers["Authorization"])
        return views.granted(request)

    from django.test import RequestFactory

    from django_workos_pipes.decorators import require_pipe

    request = RequestFactory().get("/x/")
    request.user = ann
    request.session = client.session
    require_pipe("salesforce")(view)(request)

    assert seen == [f"Bearer {two['support']}"]
