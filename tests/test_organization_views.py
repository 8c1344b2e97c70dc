"""Organization-owned connections in views: ``require_pipe(..., owner="organization")``,
``PipeRequiredMixin.pipe_owner``, the template tags, the connections page, and who may
connect or disconnect (``ORGANIZATION_ADMIN_RESOLVER``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import Context, Template
from django.test import Client
from django.urls import include, path
from django.views import View

from django_workos_pipes.decorators import PipesHttpRequest, require_pipe
from django_workos_pipes.mixins import PipeRequiredMixin
from django_workos_pipes.results import Credential
from django_workos_pipes.testing.fakes import FakeCall, PipesFake
from tests import stubs
from tests.builders import token_answer
from tests.stubs import WORKOS

ORG = "org_acme"
SHARED = {"organization_id": ORG, "owner": "organization"}
MEMBERS = ("ann", "bob", "cid")  # ann administers the organization; dan has none
JSON = {"Accept": "application/json"}


def workos_user_id(request: HttpRequest) -> str | None:
    user = request.user
    return f"user_{user.get_username()}" if user.is_authenticated else None


def workos_organization_id(request: HttpRequest) -> str | None:
    user = request.user
    return ORG if user.is_authenticated and user.get_username() in MEMBERS else None


def organization_admin(request: HttpRequest) -> bool:
    return request.user.is_authenticated and request.user.get_username() == "ann"


def granted(request: PipesHttpRequest) -> JsonResponse:
    token = request.pipes["salesforce"]
    return JsonResponse({"token": token.access_token, "owner": request.pipes.owners["salesforce"]})


@require_pipe("salesforce", owner="organization")
def team(request: PipesHttpRequest) -> HttpResponse:
    return granted(request)


@require_pipe("salesforce", owner="organization")
async def team_async(request: PipesHttpRequest) -> HttpResponse:
    return granted(request)


class TeamView(PipeRequiredMixin, View):
    pipe_provider = "salesforce"
    pipe_owner = "organization"

    def get(self, request: PipesHttpRequest) -> HttpResponse:
        return granted(request)


class MixedView(PipeRequiredMixin, View):
    """The organization's Salesforce and the user's own Slack."""

    pipe_providers = {"salesforce": [], "slack": []}

    def get_pipe_owner(self, provider: str) -> Any:
        return "organization" if provider == "salesforce" else "user"

    def get(self, request: PipesHttpRequest) -> HttpResponse:
        return JsonResponse({name: token.access_token for name, token in request.pipes.items()})


@require_pipe("zendesk", credentials=True, owner="organization")
def team_zendesk(request: PipesHttpRequest) -> HttpResponse:
    credential = request.pipes["zendesk"]
    assert isinstance(credential, Credential)
    return JsonResponse({"subdomain": credential.config["subdomain"]})


urlpatterns = [
    path("team/", team),
    path("team-zendesk/", team_zendesk),
    path("team-async/", team_async),
    path("team-mixin/", TeamView.as_view()),
    path("mixed/", MixedView.as_view()),
    path("pipes/", include("django_workos_pipes.urls")),
]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


@pytest.fixture(autouse=True)
def resolvers(settings: Any) -> None:
    settings.WORKOS_PIPES = {
        **settings.WORKOS_PIPES,
        "USER_ID_RESOLVER": workos_user_id,
        "ORGANIZATION_ID_RESOLVER": workos_organization_id,
        "ORGANIZATION_ADMIN_RESOLVER": f"{__name__}.organization_admin",
    }


def logged_in(username: str) -> Client:
    browser = Client()
    browser.force_login(User.objects.get_or_create(username=username)[0])
    return browser


# Members use the shared connection --------------------------------------------------


@pytest.mark.parametrize("url", ["/team/", "/team-async/", "/team-mixin/"])
def test_every_member_gets_the_organization_s_token(pipes_fake: PipesFake, url: str) -> None:
    token = pipes_fake.connect("salesforce", "user_ann", ORG, owner="organization")

    for member in MEMBERS:
        response = logged_in(member).get(url)
        assert response.status_code == 200
        assert response.json() == {"token": token.access_token, "owner": ["organization", None]}

    assert len(pipes_fake.calls) == 1


def test_three_members_loading_a_page_100_times_cost_one_upstream_call() -> None:
    """The figure the issue asks for, counted at the HTTP boundary."""
    browsers = [logged_in(member) for member in MEMBERS]
    with responses.RequestsMock() as workos:
        token_call = workos.post(
            f"{WORKOS}/data-integrations/salesforce/token", json=token_answer("ya29.org-token")
        )
        for _ in range(100):
            for browser in browsers:
                assert browser.get("/team/").status_code == 200

    assert token_call.call_count == 1
    sent = json.loads(token_call.calls[0].request.body)
    assert sent == {
        "user_id": "user_ann",
        "organization_id": ORG,
        "connection_owner": "organization",
    }


def test_a_mixin_may_mix_owners(pipes_fake: PipesFake) -> None:
    shared = pipes_fake.connect("salesforce", organization_id=ORG, owner="organization")
    own = pipes_fake.connect("slack", "user_bob", ORG)

    response = logged_in("bob").get("/mixed/")

    assert response.json() == {"salesforce": shared.access_token, "slack": own.access_token}


def test_a_user_without_an_organization_is_refused_clearly(pipes_fake: PipesFake) -> None:
    dan = logged_in("dan")

    page = dan.get("/team/")
    as_json = dan.get("/team/", headers=JSON)

    assert page.status_code == 403
    assert "shared by an organization" in page.content.decode()
    assert as_json.status_code == 403
    assert as_json.json() == {"error": "organization_required", "provider": "salesforce"}
    assert pipes_fake.calls == []


def test_anonymous_visitors_log_in_first(pipes_fake: PipesFake) -> None:
    response = Client().get("/team/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_not_connected_sends_members_to_the_organization_s_connect_flow(
    pipes_fake: PipesFake,
) -> None:
    response = logged_in("bob").get("/team/")
    as_json = logged_in("bob").get("/team/", headers=JSON)

    target = "/pipes/connect/salesforce/?owner=organization&next=/team/"
    assert response["Location"] == target
    assert as_json.json() == {
        "error": "not_installed",
        "provider": "salesforce",
        "owner": "organization",
        "redirect": target,
    }


def test_needing_reauthorization_sends_to_the_organization_s_reauthorize_flow(
    pipes_fake: PipesFake,
) -> None:
    pipes_fake.needs_reauthorization("salesforce", organization_id=ORG, owner="organization")
    response = logged_in("cid").get("/team/")
    assert response["Location"] == "/pipes/reauthorize/salesforce/?owner=organization&next=/team/"


def test_a_provider_refusing_the_shared_token_in_the_view_sends_to_reauthorize(
    pipes_fake: PipesFake, settings: Any
) -> None:
    from django_workos_pipes import pipes

    pipes_fake.connect("salesforce", organization_id=ORG, owner="organization")

    @require_pipe("salesforce", owner="organization")
    def view(request: PipesHttpRequest) -> HttpResponse:
        raise pipes.reauthorization_required(
            "salesforce",
            user_id="user_bob",
            organization_id=ORG,
            owner="organization",
            error="provider_rejected_token",
        )

    request = _request("bob")
    response = view(request)

    assert response["Location"] == "/pipes/reauthorize/salesforce/?owner=organization&next=/x/"


def _request(username: str) -> HttpRequest:
    from django.test import RequestFactory

    request = RequestFactory().get("/x/")
    request.user = User.objects.get_or_create(username=username)[0]
    return request


def test_a_wrong_owner_fails_at_decoration_time() -> None:
    with pytest.raises(ValueError, match="owner"):
        require_pipe("salesforce", owner="org")  # type: ignore[arg-type]


# Who may connect or disconnect ------------------------------------------------------


def test_an_administrator_connects_the_organization(pipes_fake: PipesFake) -> None:
    response = logged_in("ann").get("/pipes/connect/salesforce/?owner=organization&next=/team/")

    assert response.status_code == 302
    assert "connection_owner=organization" in response["Location"]
    assert pipes_fake.calls == [
        FakeCall(
            "authorize_url",
            "salesforce",
            "user_ann",
            ORG,
            return_to="http://testserver/team/",
            owner="organization",
        )
    ]


@pytest.mark.parametrize("flow", ["connect", "reauthorize"])
def test_a_member_is_told_to_ask_an_administrator(pipes_fake: PipesFake, flow: str) -> None:
    bob = logged_in("bob")

    page = bob.get(f"/pipes/{flow}/salesforce/?owner=organization")
    as_json = bob.get(f"/pipes/{flow}/salesforce/?owner=organization", headers=JSON)

    assert page.status_code == 403
    text = page.content.decode()
    assert "Ask an administrator" in text
    assert "ORGANIZATION_ADMIN_RESOLVER" not in text  # it is set: nothing for developers
    assert as_json.json() == {"error": "organization_admin_required", "provider": "salesforce"}
    assert pipes_fake.calls == []


def test_by_default_nobody_is_an_administrator_and_the_page_says_how_to_change_it(
    pipes_fake: PipesFake, settings: Any
) -> None:
    settings.WORKOS_PIPES = {
        key: value
        for key, value in settings.WORKOS_PIPES.items()
        if key != "ORGANIZATION_ADMIN_RESOLVER"
    }

    page = logged_in("ann").get("/pipes/connect/salesforce/?owner=organization")

    assert page.status_code == 403
    text = page.content.decode()
    assert "Ask an administrator" in text
    assert "ORGANIZATION_ADMIN_RESOLVER" in text


def test_a_member_s_own_connection_needs_no_administrator(pipes_fake: PipesFake) -> None:
    response = logged_in("bob").get("/pipes/connect/salesforce/")
    assert response.status_code == 302
    assert pipes_fake.calls[0].owner == "user"


def test_connecting_for_an_organization_without_one_is_refused(pipes_fake: PipesFake) -> None:
    response = logged_in("dan").get("/pipes/connect/salesforce/?owner=organization")
    assert response.status_code == 403
    assert pipes_fake.calls == []


def test_an_unknown_owner_is_a_bad_request(pipes_fake: PipesFake) -> None:
    assert logged_in("ann").get("/pipes/connect/salesforce/?owner=team").status_code == 400
    assert logged_in("ann").post("/pipes/disconnect/salesforce/", {"owner": "x"}).status_code == (
        400
    )


def test_disconnecting_the_organization_s_connection(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", organization_id=ORG, owner="organization")
    refused = logged_in("bob").post("/pipes/disconnect/salesforce/", {"owner": "organization"})
    assert refused.status_code == 403
    assert logged_in("cid").get("/team/").status_code == 200  # still connected

    done = logged_in("ann").post(
        "/pipes/disconnect/salesforce/", {"owner": "organization", "next": "/team/"}
    )

    assert done.status_code == 302 and done["Location"] == "/team/"
    assert logged_in("cid").get("/team/")["Location"].startswith("/pipes/connect/salesforce/")


# Template tags --------------------------------------------------------------------------


def render(username: str | None, source: str) -> str:
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    request = RequestFactory().get("/page/")
    request.user = User.objects.get_or_create(username=username)[0] if username else AnonymousUser()
    request.session = {}  # type: ignore[assignment]
    return Template("{% load workos_pipes %}" + source).render(Context({"request": request}))


def test_pipe_status_of_the_organization_s_connection(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", organization_id=ORG, owner="organization", scopes=["api"])
    source = (
        '{% pipe_status "salesforce" owner="organization" as sf %}{{ sf.active }} {{ sf.error }}'
    )

    assert render("bob", source) == "True None"
    assert render("dan", source) == "False organization_required"
    assert render(None, source) == "False anonymous"
    assert render("bob", '{% pipe_status "salesforce" as sf %}{{ sf.error }}') == "not_installed"


def test_flow_url_tags_take_the_owner(pipes_fake: PipesFake) -> None:
    source = (
        '{% pipe_connect_url "salesforce" owner="organization" %}|'
        '{% pipe_reauthorize_url "salesforce" owner="organization" %}|'
        '{% pipe_disconnect_url "salesforce" owner="organization" %}|'
        '{% pipe_connect_url "salesforce" %}'
    )
    assert render("ann", source).split("|") == [
        "/pipes/connect/salesforce/?owner=organization&amp;next=/page/",
        "/pipes/reauthorize/salesforce/?owner=organization&amp;next=/page/",
        "/pipes/disconnect/salesforce/?owner=organization&amp;next=/page/",
        "/pipes/connect/salesforce/?next=/page/",
    ]


def test_a_wrong_owner_in_a_tag_fails_loudly(pipes_fake: PipesFake) -> None:
    with pytest.raises(ValueError, match="owner"):
        render("ann", '{% pipe_connect_url "salesforce" owner="team" %}')


def test_organization_tags(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", organization_id=ORG, owner="organization")
    source = (
        "{% pipe_organization_admin as admin %}{% pipe_organization_connections as shared %}"
        "{{ admin }}:{% for c in shared %}{{ c.provider }}={{ c.state }}{% endfor %}"
    )

    assert render("ann", source) == "True:salesforce=connected"
    assert render("bob", source) == "False:salesforce=connected"
    assert render("dan", source) == "False:"


# The connections page -----------------------------------------------------------------


def test_the_page_lists_the_organization_s_connections_with_actions_for_administrators(
    pipes_fake: PipesFake,
) -> None:
    pipes_fake.connect("salesforce", "user_ann", ORG, owner="organization")
    pipes_fake.add_provider("zendesk", "Zendesk", connection_owner="organization")
    pipes_fake.connect("slack", "user_bob", ORG)

    admin = logged_in("ann").get("/pipes/connections/").content.decode()
    member = logged_in("bob").get("/pipes/connections/").content.decode()

    for page in (admin, member):
        assert "Shared by your organization" in page
        assert 'data-provider="salesforce" data-owner="organization"' in page
        assert 'data-provider="salesforce" data-state' not in page  # not in the user's own list
    assert "/pipes/disconnect/salesforce/?owner=organization" in admin
    assert "/pipes/connect/zendesk/?owner=organization" in admin
    assert "owner=organization" not in member
    assert "Managed by your organization's administrators" in member


def test_the_page_as_json_lists_both(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", organization_id=ORG, owner="organization")
    pipes_fake.connect("slack", "user_bob", ORG)

    body = logged_in("bob").get("/pipes/connections/", headers=JSON).json()

    assert [c["provider"] for c in body["connections"]] == ["slack"]
    assert [(c["provider"], c["state"]) for c in body["organization_connections"]] == [
        ("salesforce", "connected")
    ]


def test_without_an_organization_the_page_has_no_organization_section(
    pipes_fake: PipesFake,
) -> None:
    pipes_fake.connect("slack", "user_dan")
    page = logged_in("dan").get("/pipes/connections/")
    assert "Shared by your organization" not in page.content.decode()
    assert (
        "organization_connections"
        not in logged_in("dan").get("/pipes/connections/", headers=JSON).json()
    )


def test_the_organization_listing_failing_leaves_the_user_s_own_page(
    workos_stub: responses.RequestsMock,
) -> None:
    stubs.stub_listing(workos_stub, user_id="user_bob", organization_id=ORG)
    workos_stub.get(f"{WORKOS}/organizations/{ORG}/data_providers", status=404, json={})

    response = logged_in("bob").get("/pipes/connections/")

    assert response.status_code == 200
    assert "can't be shown right now" in response.content.decode()


def test_an_admin_resolver_that_does_not_import_is_check_e005(settings: Any) -> None:
    from django_workos_pipes.checks import check_settings

    settings.WORKOS_PIPES = {
        **settings.WORKOS_PIPES,
        "ORGANIZATION_ADMIN_RESOLVER": "myapp.nowhere.is_admin",
    }

    errors = [error for error in check_settings() if error.id == "workos_pipes.E005"]

    assert len(errors) == 1 and "ORGANIZATION_ADMIN_RESOLVER" in errors[0].msg


def test_an_admin_resolver_must_answer_true(settings: Any, pipes_fake: PipesFake) -> None:
    settings.WORKOS_PIPES = {
        **settings.WORKOS_PIPES,
        "ORGANIZATION_ADMIN_RESOLVER": lambda request: "yes",
    }
    assert logged_in("ann").get("/pipes/connect/salesforce/?owner=organization").status_code == 403


def test_members_choose_among_the_organization_s_accounts(
    pipes_fake: PipesFake, settings: Any
) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "SUPPORTS_MULTIPLE_CONNECTIONS": True}
    pipes_fake.connect("salesforce", organization_id=ORG, owner="organization")
    emea = pipes_fake.connect(
        "salesforce",
        organization_id=ORG,
        owner="organization",
        connected_account_id="ca_emea",
        account_display_name="EMEA",
    )
    bob = logged_in("bob")

    sent = bob.get("/team/")
    page = bob.get(sent["Location"]).content.decode()
    chosen = bob.post(
        "/pipes/choose/salesforce/",
        {"account": "ca_emea", "owner": "organization", "next": "/team/"},
    )

    assert sent["Location"] == (
        "/pipes/connections/?provider=salesforce&owner=organization&next=/team/"
    )
    assert page.count("Use this account") == 2
    assert '<input type="hidden" name="owner" value="organization">' in page
    assert chosen["Location"] == "/team/"
    assert bob.get("/team/").json() == {
        "token": emea.access_token,
        "owner": ["organization", "ca_emea"],
    }
    # Another member has chosen nothing yet.
    assert logged_in("cid").get("/team/").status_code == 302


def test_the_organization_s_api_key_with_its_config(pipes_fake: PipesFake) -> None:
    pipes_fake.connect_api_key(
        "zendesk", organization_id=ORG, owner="organization", config={"subdomain": "acme"}
    )

    for member in MEMBERS:
        assert logged_in(member).get("/team-zendesk/").json() == {"subdomain": "acme"}

    assert [call.method for call in pipes_fake.calls] == ["get_credentials"]
    assert pipes_fake.calls[0].owner == "organization"
