"""``require_pipe`` and ``PipeRequiredMixin``: who gets the view, and where everyone else goes.

WorkOS is stubbed at the HTTP layer; the decorator, the service and the cache are real.
Async views are driven by ``AsyncClient`` under ``async_to_sync``, so the database
work the decorator hands to ``sync_to_async`` runs in the test's thread and transaction,
while any database access left in the event loop raises ``SynchronousOnlyOperation``.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import django
import pytest
import requests
import responses
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.http import HttpRequest
from django.test import AsyncClient, Client, RequestFactory

from tests import views
from tests.builders import TOKEN, inactive_answer, token_answer
from tests.settings import API_KEY
from tests.stubs import stub_token, token_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stub_resolver")]

JSON = {"HTTP_ACCEPT": "application/json"}
HTMX = {"HTTP_HX_REQUEST": "true"}


def aget(async_client: AsyncClient, path: str, **extra: Any) -> Any:
    async def get() -> Any:
        return await async_client.get(path, **extra)

    return async_to_sync(get)()


def template_names(response: Any) -> list[str]:
    """The templates rendered, but the base they extend."""
    names = [template.name for template in response.templates if template.name]
    return [name for name in names if name != "workos_pipes/base.html"]


# The view runs.


def test_active_connection_gives_the_token_to_the_view(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN))
    response = client.get("/sync/")
    assert response.status_code == 200
    assert response.json() == {"salesforce": TOKEN}


def test_the_cached_token_serves_later_requests(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN))
    for _ in range(3):
        assert client.get("/sync/").json() == {"salesforce": TOKEN}
    assert len(workos_stub.calls) == 1


def test_organization_from_a_callable_resolver(
    client: Client, ann: User, workos_stub: responses.RequestsMock, settings: Any
) -> None:
    settings.WORKOS_PIPES = {
        **settings.WORKOS_PIPES,
        "ORGANIZATION_ID_RESOLVER": lambda request: f"org_of_{request.user.username}",
    }
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), organization_id="org_of_ann")
    assert client.get("/sync/").json() == {"salesforce": TOKEN}


def test_user_from_a_callable_resolver(
    client: Client, workos_stub: responses.RequestsMock, settings: Any
) -> None:
    settings.WORKOS_PIPES = {
        **settings.WORKOS_PIPES,
        "USER_ID_RESOLVER": lambda request: request.headers.get("X-Workos-User"),
    }
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id="user_from_header")
    response = client.get("/sync/", HTTP_X_WORKOS_USER="user_from_header")
    assert response.json() == {"salesforce": TOKEN}


def test_default_resolvers_read_the_user_attributes(
    rf: RequestFactory, workos_stub: responses.RequestsMock, settings: Any
) -> None:
    settings.WORKOS_PIPES = {
        key: value for key, value in settings.WORKOS_PIPES.items() if key != "USER_ID_RESOLVER"
    }
    stub_token(
        workos_stub,
        "salesforce",
        token_answer(TOKEN),
        user_id="user_01ABC",
        organization_id="org_9",
    )
    request = rf.get("/sync/")
    request.user = User(username="bob")
    request.user.workos_user_id = "user_01ABC"  # type: ignore[attr-defined]
    request.user.workos_organization_id = "org_9"  # type: ignore[attr-defined]
    response = views.sync_view(request)
    assert response.status_code == 200
    assert request.pipes["salesforce"].access_token == TOKEN  # type: ignore[attr-defined]


def test_default_resolver_without_the_attribute_is_anonymous(
    rf: RequestFactory, settings: Any
) -> None:
    settings.WORKOS_PIPES = {
        key: value for key, value in settings.WORKOS_PIPES.items() if key != "USER_ID_RESOLVER"
    }
    request = rf.get("/sync/")
    request.user = User(username="bob")
    response = views.sync_view(request)
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/sync/"


# Where the others go.


@pytest.mark.parametrize(
    ("error", "flow"),
    [
        ("not_installed", "connect"),
        ("needs_reauthorization", "reauthorize"),
        ("some_future_code", "connect"),
    ],
)
def test_inactive_connection_redirects_to_the_flow_that_fixes_it(
    client: Client, ann: User, workos_stub: responses.RequestsMock, error: str, flow: str
) -> None:
    stub_token(workos_stub, "salesforce", inactive_answer(error))
    response = client.get("/sync/?page=2&sort=name")
    assert response.status_code == 302
    assert response["Location"] == (
        f"/pipes/{flow}/salesforce/?next=/sync/%3Fpage%3D2%26sort%3Dname"
    )


def test_next_keeps_non_ascii_query_values(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", inactive_answer("not_installed"))
    response = client.get("/sync/", {"q": "café & crème"})
    assert response["Location"] == (
        "/pipes/connect/salesforce/?next=/sync/%3Fq%3Dcaf%25C3%25A9%2B%2526%2Bcr%25C3%25A8me"
    )


@pytest.mark.parametrize(
    ("scopes", "missing", "status"),
    [
        (("api", "refresh_token"), (), 200),
        (("api", "refresh_token", "extra"), (), 200),
        (("api",), (), 302),
        (("api", "refresh_token"), ("refresh_token",), 302),
    ],
)
def test_every_required_scope_must_be_granted(
    client: Client,
    ann: User,
    workos_stub: responses.RequestsMock,
    scopes: tuple[str, ...],
    missing: tuple[str, ...],
    status: int,
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN, scopes=scopes, missing=missing))
    response = client.get("/scoped/")
    assert response.status_code == status
    if status == 302:
        assert response["Location"] == "/pipes/reauthorize/salesforce/?next=/scoped/"


def test_anonymous_user_goes_to_login_first(
    client: Client, workos_stub: responses.RequestsMock
) -> None:
    response = client.get("/sync/?a=1")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/sync/%3Fa%3D1"
    assert len(workos_stub.calls) == 0


def test_anonymous_htmx_and_json_clients(client: Client) -> None:
    htmx = client.get("/sync/", **HTMX)
    assert (htmx.status_code, htmx["HX-Redirect"]) == (200, "/login/?next=/sync/")
    api = client.get("/sync/", **JSON)
    assert api.status_code == 401
    assert api.json() == {"error": "login_required", "redirect": "/login/?next=/sync/"}


def test_htmx_gets_the_redirect_as_a_header(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", inactive_answer("not_installed"))
    response = client.get("/sync/", **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/pipes/connect/salesforce/?next=/sync/"
    assert "Location" not in response


def test_json_clients_get_a_403_they_can_act_on(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", inactive_answer("needs_reauthorization"))
    response = client.get("/sync/", **JSON)
    assert response.status_code == 403
    assert response.json() == {
        "error": "needs_reauthorization",
        "provider": "salesforce",
        "redirect": "/pipes/reauthorize/salesforce/?next=/sync/",
    }


def test_json_names_the_missing_scopes(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN, scopes=("api",)))
    response = client.get("/scoped/", **JSON)
    assert response.status_code == 403
    assert response.json() == {
        "error": "missing_scopes",
        "provider": "salesforce",
        "missing_scopes": ["refresh_token"],
        "redirect": "/pipes/reauthorize/salesforce/?next=/scoped/",
    }


@pytest.mark.parametrize("accept", ["text/html, application/json", "*/*", ""])
def test_clients_that_accept_html_get_the_302(
    client: Client, ann: User, workos_stub: responses.RequestsMock, accept: str
) -> None:
    stub_token(workos_stub, "salesforce", inactive_answer("not_installed"))
    response = client.get("/sync/", HTTP_ACCEPT=accept)
    assert response.status_code == 302


# Coming back from a refused consent.


def test_a_refused_consent_shows_the_denied_page_instead_of_looping(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", inactive_answer("not_installed"))
    response = client.get(
        "/sync/?tab=2&error=access_denied&error_description=User+denied&state=st_123"
    )
    assert response.status_code == 403
    assert template_names(response) == ["workos_pipes/denied.html"]
    assert response.context["retry_url"] == "/pipes/connect/salesforce/?next=/sync/%3Ftab%3D2"
    html = response.content.decode()
    assert 'href="/pipes/connect/salesforce/?next=/sync/%3Ftab%3D2"' in html
    assert "was not granted" in html
    assert "User denied" not in html


def test_a_refused_reauthorization_retries_the_reauthorization(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", inactive_answer("needs_reauthorization"))
    response = client.get("/sync/?error=server_error")
    assert response.status_code == 403
    assert response.context["retry_url"] == "/pipes/reauthorize/salesforce/?next=/sync/"
    assert "<code>server_error</code>" in response.content.decode()


def test_a_page_keeps_its_own_state_parameter_when_there_is_no_error(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", inactive_answer("not_installed"))
    response = client.get("/sync/?state=open")
    assert response["Location"] == "/pipes/connect/salesforce/?next=/sync/%3Fstate%3Dopen"


def test_an_error_parameter_that_is_no_oauth_code_still_redirects(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", inactive_answer("not_installed"))
    response = client.get("/sync/?error=<b>hi</b>")
    assert response.status_code == 302


def test_a_refused_consent_does_not_hide_an_active_connection(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN))
    assert client.get("/sync/?error=access_denied").json() == {"salesforce": TOKEN}


# WorkOS unavailable.


def test_workos_down_renders_the_503_page(
    client: Client, ann: User, workos_stub: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    workos_stub.post(token_url("salesforce"), status=503)
    with caplog.at_level(logging.WARNING, logger="django_workos_pipes"):
        response = client.get("/sync/")
    assert response.status_code == 503
    assert template_names(response) == ["workos_pipes/unavailable.html"]
    assert response.context["provider"] == "salesforce"
    html = response.content.decode()
    assert "temporarily unavailable" in html
    assert "Traceback" not in html
    assert any("answering 503" in r.getMessage() for r in caplog.records)
    assert all(API_KEY not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("path", "status"), [("/sync/", 401), ("/async/", 401), ("/sync/", 404)])
def test_workos_refusing_the_call_is_a_503_logged_as_an_error(
    client: Client,
    ann: User,
    workos_stub: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
    path: str,
    status: int,
) -> None:
    """A revoked API key is no fault of the visitor's: a 503 page and an error log."""
    workos_stub.post(token_url("salesforce"), status=status, json={"message": "Unauthorized"})
    with caplog.at_level(logging.WARNING, logger="django_workos_pipes"):
        response = client.get(path)
    assert response.status_code == 503
    assert template_names(response) == ["workos_pipes/unavailable.html"]
    errors = [
        r
        for r in caplog.records
        if r.levelno == logging.ERROR and r.name == "django_workos_pipes.http"
    ]
    assert len(errors) == 1 and f"WorkOS answered {status}" in errors[0].getMessage()


def test_workos_unreachable_gives_json_clients_a_503(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.post(token_url("salesforce"), body=requests.ConnectionError("refused"))
    response = client.get("/sync/", **JSON)
    assert response.status_code == 503
    assert response.json() == {"error": "unavailable", "provider": "salesforce"}


def test_the_unavailable_template_can_be_overridden(
    client: Client, ann: User, workos_stub: responses.RequestsMock, settings: Any, tmp_path: Any
) -> None:
    (tmp_path / "workos_pipes").mkdir()
    (tmp_path / "workos_pipes" / "unavailable.html").write_text("Down for {{ provider }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    workos_stub.post(token_url("salesforce"), status=503)
    response = client.get("/sync/")
    assert (response.status_code, response.content) == (503, b"Down for salesforce")


# Async views.


def test_async_views_stay_coroutine_functions() -> None:
    assert inspect.iscoroutinefunction(views.async_view)
    assert inspect.iscoroutinefunction(views.stacked_async_view)
    assert not inspect.iscoroutinefunction(views.sync_view)
    assert views.async_view.__name__ == "async_view"


def test_async_view_gets_the_token(
    async_client: AsyncClient, workos_stub: responses.RequestsMock
) -> None:
    async_client.force_login(User.objects.create_user("ann"))
    stub_token(workos_stub, "salesforce", token_answer(TOKEN))
    response = aget(async_client, "/async/")
    assert response.status_code == 200
    assert response.json() == {"salesforce": TOKEN}


def test_async_view_redirects(
    async_client: AsyncClient, workos_stub: responses.RequestsMock
) -> None:
    async_client.force_login(User.objects.create_user("ann"))
    stub_token(workos_stub, "salesforce", inactive_answer("needs_reauthorization"))
    response = aget(async_client, "/async/?x=1")
    assert response.status_code == 302
    assert response["Location"] == "/pipes/reauthorize/salesforce/?next=/async/%3Fx%3D1"


def test_async_view_sends_anonymous_users_to_login(async_client: AsyncClient) -> None:
    response = aget(async_client, "/async/")
    assert response["Location"] == "/login/?next=/async/"


def test_async_view_renders_the_503_page(
    async_client: AsyncClient, workos_stub: responses.RequestsMock
) -> None:
    async_client.force_login(User.objects.create_user("ann"))
    workos_stub.post(token_url("salesforce"), status=502)
    response = aget(async_client, "/async/")
    assert response.status_code == 503
    assert template_names(response) == ["workos_pipes/unavailable.html"]


def test_async_refusals_render_in_a_worker_thread(
    async_client: AsyncClient, workos_stub: responses.RequestsMock, settings: Any, tmp_path: Any
) -> None:
    """An overriding template may query the database: it must not run in the event loop."""
    (tmp_path / "workos_pipes").mkdir()
    (tmp_path / "workos_pipes" / "denied.html").write_text("groups={{ user.groups.count }}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    async_client.force_login(User.objects.create_user("ann"))
    stub_token(workos_stub, "salesforce", inactive_answer("not_installed"))
    response = aget(async_client, "/async/?error=access_denied")
    assert (response.status_code, response.content) == (403, b"groups=0")


# Stacking.

HUBSPOT_AND_SLACK = {"hubspot": "hub-token-000", "slack": "xoxb-slack-token"}


def stub_hubspot_and_slack(workos_stub: responses.RequestsMock) -> None:
    """Ann's tokens of both providers the stacked views and the multi-provider mixin need."""
    stub_token(workos_stub, "hubspot", token_answer("hub-token-000", scopes=("crm.read",)))
    stub_token(workos_stub, "slack", token_answer("xoxb-slack-token"))


def test_stacked_decorators_fill_one_mapping(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_hubspot_and_slack(workos_stub)
    assert client.get("/stacked/").json() == HUBSPOT_AND_SLACK


def test_stacked_async_decorators_fill_one_mapping(
    async_client: AsyncClient, workos_stub: responses.RequestsMock
) -> None:
    async_client.force_login(User.objects.create_user("ann"))
    stub_hubspot_and_slack(workos_stub)
    assert aget(async_client, "/stacked-async/").json() == HUBSPOT_AND_SLACK


@pytest.mark.parametrize("path", ["/stacked/", "/stacked-async/", "/mixin-multi/"])
@pytest.mark.parametrize(
    ("hubspot", "slack", "location"),
    [
        (inactive_answer("not_installed"), inactive_answer("not_installed"), "connect/hubspot"),
        (token_answer("t-hub", scopes=()), token_answer("t-slack"), "reauthorize/hubspot"),
        (
            token_answer("t-hub", scopes=("crm.read",)),
            inactive_answer("not_installed"),
            "connect/slack",
        ),
    ],
)
def test_the_first_missing_provider_decides(
    client: Client,
    ann: User,
    workos_stub: responses.RequestsMock,
    path: str,
    hubspot: dict[str, Any],
    slack: dict[str, Any],
    location: str,
) -> None:
    workos_stub.assert_all_requests_are_fired = False
    stub_token(workos_stub, "hubspot", hubspot)
    stub_token(workos_stub, "slack", slack)
    response = client.get(path)
    assert response["Location"] == f"/pipes/{location}/?next={path}"


# Class-based views.


def test_mixin_gives_the_token(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN))
    assert client.get("/mixin/").json() == {"salesforce": TOKEN}


def test_mixin_checks_scopes(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN, scopes=("api",), missing=("api",)))
    response = client.get("/mixin/")
    assert response["Location"] == "/pipes/reauthorize/salesforce/?next=/mixin/"


def test_mixin_with_several_providers(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_hubspot_and_slack(workos_stub)
    assert client.get("/mixin-multi/").json() == HUBSPOT_AND_SLACK


def test_mixin_on_an_async_view(
    async_client: AsyncClient, workos_stub: responses.RequestsMock
) -> None:
    async_client.force_login(User.objects.create_user("ann"))
    stub_token(workos_stub, "salesforce", token_answer(TOKEN))
    assert aget(async_client, "/mixin-async/").json() == {"salesforce": TOKEN}
    stub_token(workos_stub, "salesforce", inactive_answer("not_installed"), user_id="user_bob")
    async_client.force_login(User.objects.create_user("bob"))
    response = aget(async_client, "/mixin-async/")
    assert response["Location"] == "/pipes/connect/salesforce/?next=/mixin-async/"


def test_mixin_without_a_provider_is_a_configuration_error(rf: RequestFactory) -> None:
    from django.core.exceptions import ImproperlyConfigured

    class Forgotten(views.MixinView):
        pipe_provider = None

    with pytest.raises(ImproperlyConfigured, match="pipe_provider"):
        Forgotten.as_view()(rf.get("/"))


def test_method_decorator_on_a_class_based_view(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN, scopes=()))
    response = client.get("/decorated/")
    assert response["Location"] == "/pipes/reauthorize/salesforce/?next=/decorated/"
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id="user_bob")
    client.force_login(User.objects.create_user("bob"))
    assert client.get("/decorated/").json() == {"salesforce": TOKEN}


@pytest.mark.skipif(django.VERSION < (5, 0), reason="method_decorator is async-aware from 5.0")
def test_method_decorator_on_an_async_handler(
    async_client: AsyncClient, workos_stub: responses.RequestsMock
) -> None:
    async_client.force_login(User.objects.create_user("ann"))
    stub_token(workos_stub, "salesforce", token_answer(TOKEN))
    assert aget(async_client, "/decorated-async/").json() == {"salesforce": TOKEN}


# Arguments and settings.


def test_scopes_given_as_a_string_are_refused() -> None:
    from django_workos_pipes.decorators import require_pipe

    with pytest.raises(TypeError, match="list of scope names"):
        require_pipe("salesforce", scopes="api")


def test_the_decorator_uses_a_custom_connect_url(
    client: Client, ann: User, workos_stub: responses.RequestsMock, settings: Any
) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "CONNECT_URL": "connection"}
    stub_token(workos_stub, "salesforce", inactive_answer("not_installed"))
    response = client.get("/sync/")
    assert response["Location"] == "/connections/salesforce/?next=/sync/"


def test_request_pipes_is_a_dict_keyed_by_provider(
    rf: RequestFactory, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN))
    request: HttpRequest = rf.get("/sync/")
    request.user = ann
    views.sync_view(request)
    tokens = request.pipes  # type: ignore[attr-defined]
    assert isinstance(tokens, dict)
    assert (tokens.user_id, tokens.organization_id) == ("user_ann", None)
    assert list(tokens) == ["salesforce"]
    assert tokens["salesforce"].masked == "ya29…"
    assert TOKEN not in repr(tokens)
