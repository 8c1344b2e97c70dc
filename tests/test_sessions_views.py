"""Provider sessions in views: ``request.pipes.session(provider)``, and a connection that
needs the user met inside the view sends them to fix it, as the decorator would have.

The provider's API and WorkOS are stood in for with ``responses``; the decorator, the
mixin, the service and its cache are real. Async views run under ``AsyncClient``.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import responses
from asgiref.sync import async_to_sync, sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import AsyncClient, Client
from django.urls import path
from django.views import View

from django_workos_pipes import pipes
from django_workos_pipes.decorators import PipesHttpRequest, RequestPipes, require_pipe
from django_workos_pipes.exceptions import PROVIDER_REJECTED_TOKEN, PipesReauthorizationRequired
from django_workos_pipes.mixins import PipeRequiredMixin
from django_workos_pipes.redirects import connect_url, reauthorize_url
from django_workos_pipes.signals import reauthorization_required
from tests.builders import inactive_answer, token_answer
from tests.provider import API, Provider
from tests.stubs import WorkOSTokens, token_url
from tests.urls import with_pipes

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("stub_resolver"),
    pytest.mark.urls(__name__),
]

DEAD, FRESH = "ya29.dead-at-the-provider", "ya29.fresh-from-workos"
JSON = {"HTTP_ACCEPT": "application/json"}
HTMX = {"HTTP_HX_REQUEST": "true"}


def answer(request: PipesHttpRequest) -> JsonResponse:
    """What the provider said, and the token the decorator granted."""
    response = request.pipes.session("salesforce").get(API)
    body = {"provider_said": response.json(), "retried": len(response.history)}
    return JsonResponse({**body, "granted": request.pipes["salesforce"].access_token})


@require_pipe("salesforce")
def accounts(request: PipesHttpRequest) -> HttpResponse:
    return answer(request)


@require_pipe("salesforce")
async def async_accounts(request: PipesHttpRequest) -> HttpResponse:
    session = request.pipes.session("salesforce")
    response = await sync_to_async(session.get, thread_sensitive=False)(API)
    return JsonResponse({"provider_said": response.json()})


@require_pipe("salesforce")
def someone_elses(request: HttpRequest) -> HttpResponse:
    """An admin page using another user's connection: not this user's to reauthorize."""
    pipes.session("salesforce", user_id="user_bob").get(API)
    return HttpResponse()


class Accounts(PipeRequiredMixin, View):
    pipe_provider = "salesforce"

    def get(self, request: PipesHttpRequest) -> HttpResponse:
        return answer(request)


class AsyncAccounts(PipeRequiredMixin, View):
    pipe_provider = "salesforce"

    async def get(self, request: PipesHttpRequest) -> HttpResponse:
        session = request.pipes.session("salesforce")
        response = await sync_to_async(session.get, thread_sensitive=False)(API)
        return JsonResponse({"provider_said": response.json()})


urlpatterns = with_pipes(
    path("accounts/", accounts),
    path("async-accounts/", async_accounts),
    path("someone-elses/", someone_elses),
    path("mixin/", Accounts.as_view()),
    path("async-mixin/", AsyncAccounts.as_view()),
)


def aget(async_client: AsyncClient, url: str, **extra: Any) -> Any:
    async def get() -> Any:
        return await async_client.get(url, **extra)

    return async_to_sync(get)()


def granted_a_dead_token(
    workos_stub: responses.RequestsMock, then: dict[str, Any], live: str | None = None
) -> None:
    """WorkOS grants DEAD, which the provider refuses, and answers ``then`` to the renewal;
    the provider accepts ``live`` (if given) and nothing else."""
    WorkOSTokens(workos_stub, [token_answer(DEAD), then])
    Provider(workos_stub, *([live] if live else []))


@pytest.fixture
def ann_async(async_client: AsyncClient) -> AsyncClient:
    from django.contrib.auth.models import User

    async_client.force_login(User.objects.create_user("ann"))
    return async_client


def test_request_pipes_is_still_a_mapping_of_tokens_with_a_session() -> None:
    granted = RequestPipes("user_ann", "org_1")
    assert isinstance(granted, dict)
    assert granted == {}
    assert inspect.signature(granted.session).parameters.keys() == {"provider"}


# The session recovers.


@pytest.mark.usefixtures("ann")
def test_a_token_that_died_early_is_renewed_inside_the_view(
    client: Client, workos_stub: responses.RequestsMock
) -> None:
    workos = WorkOSTokens(workos_stub, [token_answer(DEAD), token_answer(FRESH)])
    provider = Provider(workos_stub, FRESH)

    response = client.get("/accounts/")

    assert response.status_code == 200
    assert response.json() == {"provider_said": {"token": FRESH}, "retried": 1, "granted": DEAD}
    assert provider.seen == [DEAD, FRESH]
    assert workos.count == 2
    assert workos.bodies == [{"user_id": "user_ann"}] * 2, "bound to the request's user"


@pytest.mark.usefixtures("ann")
def test_the_class_based_view_recovers_too(
    client: Client, workos_stub: responses.RequestsMock
) -> None:
    granted_a_dead_token(workos_stub, then=token_answer(FRESH), live=FRESH)
    assert client.get("/mixin/").json()["provider_said"] == {"token": FRESH}


def test_the_async_view_recovers_too(
    ann_async: AsyncClient, workos_stub: responses.RequestsMock
) -> None:
    granted_a_dead_token(workos_stub, then=token_answer(FRESH), live=FRESH)
    for url in ("/async-accounts/", "/async-mixin/"):
        assert aget(ann_async, url).json() == {"provider_said": {"token": FRESH}}


@pytest.mark.usefixtures("ann")
@pytest.mark.parametrize("url", ["/accounts/", "/mixin/"])
def test_workos_down_while_the_view_renews_a_token_is_the_503_page(
    client: Client, workos_stub: responses.RequestsMock, settings: Any, url: str
) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "MAX_RETRIES": 0}
    workos_stub.post(token_url("salesforce"), json=token_answer(DEAD))
    workos_stub.post(token_url("salesforce"), status=503)
    Provider(workos_stub)
    response = client.get(url)
    assert response.status_code == 503
    assert "workos_pipes/unavailable.html" in [t.name for t in response.templates]


def test_workos_down_while_an_async_view_renews_a_token_is_a_503(
    ann_async: AsyncClient, workos_stub: responses.RequestsMock, settings: Any
) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "MAX_RETRIES": 0}
    workos_stub.post(token_url("salesforce"), json=token_answer(DEAD))
    workos_stub.post(token_url("salesforce"), status=503)
    Provider(workos_stub)
    assert aget(ann_async, "/async-accounts/").status_code == 503


# The grant is gone: the user is sent to reauthorize.


@pytest.mark.usefixtures("ann")
@pytest.mark.parametrize("url", ["/accounts/?page=2", "/mixin/?page=2"])
def test_a_grant_revoked_at_the_provider_sends_the_browser_to_reauthorize(
    client: Client, workos_stub: responses.RequestsMock, url: str
) -> None:
    granted_a_dead_token(workos_stub, then=inactive_answer("needs_reauthorization"))
    sent: list[dict[str, Any]] = []
    receiver = lambda **kwargs: sent.append(kwargs)  # noqa: E731
    reauthorization_required.connect(receiver)
    try:
        response = client.get(url)
    finally:
        reauthorization_required.disconnect(receiver)
    assert response.status_code == 302
    assert response["Location"] == reauthorize_url("salesforce", url)
    assert [(s["user_id"], s["error"]) for s in sent] == [("user_ann", "needs_reauthorization")]


@pytest.mark.usefixtures("ann")
def test_htmx_and_json_clients_are_told_where_to_go(
    client: Client, workos_stub: responses.RequestsMock
) -> None:
    granted_a_dead_token(workos_stub, then=inactive_answer("needs_reauthorization"))
    target = reauthorize_url("salesforce", "/accounts/")

    htmx = client.get("/accounts/", **HTMX)
    assert (htmx.status_code, htmx["HX-Redirect"]) == (200, target)

    # The inactive answer is now cached: the decorator refuses before the view runs.
    as_json = client.get("/accounts/", **JSON)
    assert as_json.status_code == 403
    assert as_json.json() == {
        "error": "needs_reauthorization",
        "provider": "salesforce",
        "redirect": target,
    }


@pytest.mark.usefixtures("ann")
def test_a_refused_fresh_token_answers_json_with_its_own_error(
    client: Client, workos_stub: responses.RequestsMock
) -> None:
    granted_a_dead_token(workos_stub, then=token_answer(FRESH))
    response = client.get("/accounts/", **JSON)
    assert response.status_code == 403
    assert response.json()["error"] == PROVIDER_REJECTED_TOKEN
    assert response.json()["redirect"] == reauthorize_url("salesforce", "/accounts/")


@pytest.mark.usefixtures("ann")
def test_a_connection_removed_meanwhile_sends_the_user_to_connect(
    client: Client, workos_stub: responses.RequestsMock
) -> None:
    granted_a_dead_token(workos_stub, then=inactive_answer("not_installed"))
    response = client.get("/accounts/")
    assert response["Location"] == connect_url("salesforce", "/accounts/")


@pytest.mark.parametrize("url", ["/async-accounts/", "/async-mixin/"])
def test_the_async_views_send_the_user_to_reauthorize(
    ann_async: AsyncClient, workos_stub: responses.RequestsMock, url: str
) -> None:
    granted_a_dead_token(workos_stub, then=inactive_answer("needs_reauthorization"))
    response = aget(ann_async, url)
    assert response.status_code == 302
    assert response["Location"] == reauthorize_url("salesforce", url)


@pytest.mark.usefixtures("ann")
def test_another_users_connection_is_not_this_users_to_fix(
    client: Client, workos_stub: responses.RequestsMock
) -> None:
    """The exception escapes (a 500 in production) instead of a pointless redirect."""
    workos = WorkOSTokens(
        workos_stub, [token_answer(DEAD), inactive_answer("needs_reauthorization")]
    )
    with pytest.raises(PipesReauthorizationRequired) as caught:
        client.get("/someone-elses/")
    assert caught.value.user_id == "user_bob"
    assert [body["user_id"] for body in workos.bodies] == ["user_ann", "user_bob"]
