"""The connections page, the disconnect view and the template tags, with WorkOS stubbed
by ``responses`` at the HTTP boundary."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from django.contrib.auth.models import User
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.urls import reverse

from django_workos_pipes.results import Connection
from tests import builders, stubs

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stub_resolver")]

PAGE = "/pipes/connections/"
JSON = {"Accept": "application/json"}
NOT_FOUND = json.dumps({"message": "Not found", "code": "entity_not_found"})


def disconnect_path(provider: str = "salesforce", next_url: str | None = None) -> str:
    path = f"/pipes/disconnect/{provider}/"
    return path if next_url is None else f"{path}?next={next_url}"


# The page ---------------------------------------------------------------------------


def test_urls_are_named() -> None:
    assert reverse("workos_pipes:connections") == PAGE
    assert reverse("workos_pipes:disconnect", kwargs={"provider": "jira"}) == disconnect_path(
        "jira"
    )


def test_anonymous_users_are_sent_to_log_in(client: Client) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={PAGE}"


def test_anonymous_json_clients_get_a_401(client: Client) -> None:
    response = client.get(PAGE, headers=JSON)
    assert response.status_code == 401
    assert response.json()["error"] == "login_required"


def test_page_lists_every_provider_with_its_state_and_actions(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_listing(workos_stub)

    response = client.get(PAGE)
    page = response.content.decode()

    assert response.status_code == 200
    assert [t.name for t in response.templates][:2] == [
        "workos_pipes/connections.html",
        "workos_pipes/base.html",
    ]
    assert "no-cache" in response["Cache-Control"]
    assert [c.provider for c in response.context["connections"]] == [
        "salesforce",
        "hubspot",
        "slack",
    ]
    for text in (
        "Salesforce",
        "HubSpot",
        "Slack",
        ">Connected<",
        "Needs reauthorization",
        "Not connected",
        "Acme Sales",  # the display name
        "portal-4242",  # no display name: the identifier
        '<li class="chip" title="refresh_token">refresh_token</li>',
        '<li class="chip" title="crm.objects.contacts.read">crm.objects.contacts.read</li>',
    ):
        assert text in page, text
    next_here = "?next=/pipes/connections/"
    assert f'href="/pipes/reauthorize/salesforce/{next_here}"' in page
    assert f'href="/pipes/reauthorize/hubspot/{next_here}"' in page
    assert f'href="/pipes/connect/slack/{next_here}"' in page
    assert f'action="/pipes/disconnect/salesforce/{next_here}"' in page
    assert f'action="/pipes/disconnect/hubspot/{next_here}"' in page
    assert "/pipes/disconnect/slack/" not in page  # nothing to disconnect
    assert 'name="csrfmiddlewaretoken"' in page


def test_page_says_when_no_provider_is_configured(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_listing(workos_stub, builders.listing())
    assert "No apps are available to connect yet." in client.get(PAGE).content.decode()


def test_a_disconnected_account_offers_to_connect_again(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_listing(
        workos_stub,
        builders.listing(builders.data_provider("jira", "Jira", builders.account("disconnected"))),
    )
    page = client.get(PAGE).content.decode()
    assert "Disconnected" in page and "/pipes/connect/jira/" in page
    assert "/pipes/disconnect/jira/" not in page


def test_json_clients_get_the_same_data(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_listing(workos_stub)

    response = client.get(PAGE, headers=JSON)

    assert response.status_code == 200
    expected = [c.as_json() for c in Connection.list_from_api(builders.ann_listing())]
    assert response.json() == {"connections": expected}


def test_the_organization_comes_from_its_resolver(
    client: Client, ann: User, workos_stub: responses.RequestsMock, settings: Any
) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "ORGANIZATION_ID_RESOLVER": lambda r: "org_a"}
    stubs.stub_listing(workos_stub, organization_id="org_a")
    workos_stub.get(f"{stubs.WORKOS}/organizations/org_a/data_providers", json=builders.listing())
    assert client.get(PAGE).status_code == 200


@pytest.mark.parametrize("status", [503, 401])
def test_workos_down_or_refusing_is_the_503_page(
    client: Client, ann: User, workos_stub: responses.RequestsMock, status: int
) -> None:
    stubs.stub_listing(workos_stub, {"message": "no"}, status=status)

    response = client.get(PAGE)

    assert response.status_code == 503
    assert response.templates[0].name == "workos_pipes/unavailable.html"
    assert "check your connections just now" in response.content.decode()


def test_workos_down_is_a_503_for_json_clients(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_listing(workos_stub, {"data": "not a list"})
    response = client.get(PAGE, headers=JSON)
    assert response.status_code == 503
    assert response.json() == {"error": "unavailable", "provider": None}


def test_post_is_not_allowed_on_the_page(client: Client, ann: User) -> None:
    assert client.post(PAGE).status_code == 405


def test_the_page_can_be_overridden_block_by_block() -> None:
    """The documented blocks exist, and a template extending the page replaces one."""
    template = Template(
        '{% extends "workos_pipes/connections.html" %}'
        "{% block connection_actions %}<em>{{ connection.provider }} actions</em>{% endblock %}"
        "{% block intro %}<h1>Integrations</h1>{% endblock %}"
    )
    request = RequestFactory().get(PAGE)
    connections = Connection.list_from_api(builders.ann_listing())

    page = template.render(Context({"connections": connections, "request": request}))

    assert "<h1>Integrations</h1>" in page and "Connected apps</h1>" not in page
    assert "<em>slack actions</em>" in page and "Disconnect" not in page
    assert "Acme Sales" in page  # the other blocks are the page's own


# 100 renders, and what changes them ---------------------------------------------------


def test_a_hundred_renders_cost_one_listing_call_until_something_changes(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    """The figure of the issue: one user renders the page 100 times, WorkOS is asked
    once; a disconnect through the page makes the next render ask again, once."""
    stubs.stub_listing(workos_stub)
    stubs.stub_delete(workos_stub, "hubspot")

    for _ in range(100):
        assert client.get(PAGE).status_code == 200
    assert stubs.listing_calls(workos_stub) == 1
    assert len(workos_stub.calls) == 1

    client.post(disconnect_path("hubspot", PAGE))
    for _ in range(100):
        assert client.get(PAGE).status_code == 200

    assert stubs.listing_calls(workos_stub) == 2
    assert len(workos_stub.calls) == 3  # listing, DELETE, listing


def test_a_webhook_makes_the_next_render_fresh(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    from django_workos_pipes.testing import post_webhook, webhook_event

    stubs.stub_listing(workos_stub)
    client.get(PAGE)
    assert post_webhook(client, webhook_event("connected", "slack", "user_ann")).status_code == 200
    client.get(PAGE)
    client.get(PAGE)
    assert stubs.listing_calls(workos_stub) == 2


# Disconnect ---------------------------------------------------------------------------


def test_disconnect_goes_back_to_a_safe_next(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_delete(workos_stub, "salesforce")
    response = client.post(disconnect_path(next_url="/reports/?tab=2"))
    assert response.status_code == 302
    assert response["Location"] == "/reports/?tab=2"


def test_next_may_come_from_the_form(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_delete(workos_stub, "salesforce")
    response = client.post(disconnect_path(next_url="/from-query/"), {"next": "/from-form/"})
    assert response["Location"] == "/from-form/"


@pytest.mark.parametrize(
    "next_url", [None, "//evil.example/", "https://evil.example/", "javascript:alert(1)"]
)
def test_disconnect_without_a_safe_next_goes_to_the_connections_page(
    client: Client, ann: User, workos_stub: responses.RequestsMock, next_url: str | None
) -> None:
    stubs.stub_delete(workos_stub, "salesforce")
    data = {"next": next_url} if next_url else {}
    assert client.post(disconnect_path(), data)["Location"] == PAGE


def test_disconnect_of_no_account_still_goes_back(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_delete(workos_stub, "slack", status=404, body=NOT_FOUND)
    assert client.post(disconnect_path("slack"))["Location"] == PAGE


def test_disconnect_json_says_whether_an_account_was_removed(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_delete(workos_stub, "salesforce")
    stubs.stub_delete(workos_stub, "slack", status=404, body=NOT_FOUND)

    removed = client.post(disconnect_path(), headers=JSON)
    absent = client.post(disconnect_path("slack"), headers=JSON)

    assert removed.status_code == 200
    assert removed.json() == {"provider": "salesforce", "disconnected": True, "redirect": PAGE}
    assert absent.json()["disconnected"] is False


def test_disconnect_from_htmx_redirects_the_page(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_delete(workos_stub, "salesforce")
    response = client.post(disconnect_path(), headers={"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Redirect"] == PAGE


@pytest.mark.parametrize("method", ["get", "put", "delete", "head"])
def test_disconnect_is_post_only(client: Client, ann: User, method: str) -> None:
    assert getattr(client, method)(disconnect_path()).status_code == 405


def test_disconnect_needs_the_csrf_token(ann: User, workos_stub: responses.RequestsMock) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ann)

    assert browser.post(disconnect_path()).status_code == 403
    assert len(workos_stub.calls) == 0

    stubs.stub_listing(workos_stub)
    stubs.stub_delete(workos_stub, "salesforce")
    browser.get(PAGE)  # the page sets the CSRF cookie its forms need
    token = browser.cookies["csrftoken"].value
    response = browser.post(disconnect_path(), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_anonymous_disconnect_is_sent_to_log_in_and_back_to_a_page(
    client: Client, workos_stub: responses.RequestsMock
) -> None:
    response = client.post(disconnect_path(next_url="/reports/"))
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/reports/"
    assert len(workos_stub.calls) == 0


@pytest.mark.parametrize(("status", "body"), [(503, "{}"), (401, '{"message": "bad key"}')])
def test_disconnect_while_workos_is_down_or_refusing_is_the_503_page(
    client: Client, ann: User, workos_stub: responses.RequestsMock, status: int, body: str
) -> None:
    stubs.stub_delete(workos_stub, "salesforce", status=status, body=body)
    response = client.post(disconnect_path())
    assert response.status_code == 503
    assert "check your Salesforce connection" in response.content.decode()


# Template tags -----------------------------------------------------------------------


def render(source: str, user: User | None = None, **context: Any) -> str:
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/settings/?tab=apps")
    request.user = user or AnonymousUser()
    return Template("{% load workos_pipes %}" + source).render(
        Context({"request": request, **context})
    )


def test_pipe_connections_gives_the_listing(ann: User, workos_stub: responses.RequestsMock) -> None:
    stubs.stub_listing(workos_stub)
    page = render(
        "{% pipe_connections as connections %}"
        "{% for c in connections %}{{ c.provider }}={{ c.state|default:'none' }};{% endfor %}",
        ann,
    )
    assert page == "salesforce=connected;hubspot=needs_reauthorization;slack=none;"


def test_pipe_connections_for_another_user(ann: User, workos_stub: responses.RequestsMock) -> None:
    stubs.stub_listing(workos_stub, builders.listing(), user_id="user_bob", organization_id="org_b")
    page = render(
        '{% pipe_connections user_id="user_bob" organization_id="org_b" as cs %}{{ cs|length }}',
        ann,
    )
    assert page == "0"


def test_pipe_connections_is_empty_for_anonymous_users() -> None:
    assert render("{% pipe_connections as cs %}{{ cs|length }}") == "0"


def test_pipe_connections_is_none_while_workos_is_down(
    ann: User, workos_stub: responses.RequestsMock
) -> None:
    stubs.stub_listing(workos_stub, {}, status=503)
    page = render(
        "{% pipe_connections as cs %}{% if cs is None %}unavailable{% endif %}"
        "{% for c in cs %}{{ c }}{% endfor %}",
        ann,
    )
    assert page == "unavailable"


def test_pipe_disconnect_url() -> None:
    assert render('{% pipe_disconnect_url "salesforce" %}') == (
        "/pipes/disconnect/salesforce/?next=/settings/%3Ftab%3Dapps"
    )
    assert render('{% pipe_disconnect_url "salesforce" next="/x/" as u %}{{ u }}') == (
        "/pipes/disconnect/salesforce/?next=/x/"
    )


def test_tags_without_the_request_say_what_is_missing() -> None:
    from django_workos_pipes.exceptions import PipesConfigurationError

    for source in ("{% pipe_connections as cs %}", '{% pipe_disconnect_url "x" %}'):
        with pytest.raises(PipesConfigurationError, match=r"context_processors\.request"):
            Template("{% load workos_pipes %}" + source).render(Context({}))
