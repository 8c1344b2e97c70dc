"""Defects found by an outsider's tour (issue 10): a token on error pages, dot-segment
provider slugs, cross-site GETs to the connect views.

WorkOS is stubbed with ``responses``; the error pages are Django's own
(``ExceptionReporter``, and ``AdminEmailHandler`` with ``include_html=True``), which print
the local variables of every frame of a traceback.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import django
import pytest
import responses
import time_machine
from django.contrib.auth.models import User
from django.core import mail
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, include, path
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter
from responses import matchers

from django_workos_pipes import pipes
from django_workos_pipes.exceptions import (
    InvalidPathSegment,
    InvalidProvider,
    PipesAPIError,
    PipesUnavailable,
)
from django_workos_pipes.owners import ConnectionRef
from django_workos_pipes.testing import post_webhook, webhook_event
from django_workos_pipes.workos.client import PipesClient
from tests.builders import token_answer
from tests.settings import API_KEY
from tests.stubs import WORKOS, stub_token, token_url

TOKEN = "ya29.cached-token-that-must-not-show-" + "z" * 16
ADMINS = ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]


def direct(request: HttpRequest, provider: str) -> JsonResponse:
    """Project code calling the service itself, letting any error become a 500."""
    result = pipes.get_access_token(provider, user_id="user_1")
    return JsonResponse({"active": result.active})


urlpatterns: list[URLPattern | URLResolver] = [
    path("direct/<str:provider>/", direct),
    path("pipes/", include("django_workos_pipes.urls")),
]


# 1. No token on Django's DEBUG page or in error e-mails, whatever is cached.


def cache_token(state: str) -> None:
    """Cache ``TOKEN`` for (salesforce, user_1), then make it stale or invalidate it."""
    with responses.RequestsMock() as workos:
        workos.post(token_url("salesforce"), json=token_answer(TOKEN, expires_at=None))
        result = pipes.get_access_token("salesforce", user_id="user_1")
    assert result.access_token is not None and result.access_token.access_token == TOKEN
    if state == "invalidated":
        assert pipes.invalidate("salesforce", user_id="user_1")


@pytest.fixture(params=["stale-401", "invalidated-401", "invalidated-503"])
def failing_with_a_cached_token(request: pytest.FixtureRequest) -> Iterator[int]:
    """The token is cached (stale, or invalidated) and WorkOS now refuses or fails.

    A stale token is served when WorkOS is down, so "stale" is met by a refusal only.
    """
    state, status = request.param.split("-")
    with override_settings(WORKOS_PIPES={"API_KEY": API_KEY, "MAX_RETRIES": 0}):
        cache_token(state)
        # Past TOKEN_TTL (3,600 s): the entry is still cached but due for a refresh.
        travel = 3_700 if state == "stale" else 0
        with (
            time_machine.travel(time.time() + travel, tick=True),
            responses.RequestsMock() as workos,
        ):
            workos.post(
                token_url("salesforce"),
                status=int(status),
                json={"message": "Invalid API key", "code": "unauthorized"},
            )
            yield int(status)


def test_the_debug_page_shows_no_cached_token(failing_with_a_cached_token: int) -> None:
    expected = PipesAPIError if failing_with_a_cached_token == 401 else PipesUnavailable
    try:
        pipes.get_access_token("salesforce", user_id="user_1")
    except expected:
        reporter = ExceptionReporter(None, *sys.exc_info())
        html, text = reporter.get_traceback_html(), reporter.get_traceback_text()
    else:
        pytest.fail("the refusal did not escape")
    assert "in get_access_token" in html, "the service's frames are on the page"
    assert "Local vars" in html
    for page in (html, text):
        assert TOKEN not in page
        assert TOKEN[:40] not in page


def test_the_error_mail_shows_no_cached_token(failing_with_a_cached_token: int) -> None:
    handler = AdminEmailHandler(include_html=True)
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        with override_settings(ADMINS=ADMINS, ROOT_URLCONF=__name__, DEBUG=False):
            mail.outbox = []
            response = Client(raise_request_exception=False).get("/direct/salesforce/")
            outbox = list(mail.outbox)
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 500
    bodies = [response.content.decode()]
    for message in outbox:  # Django's own mail_admins handler sends one too
        bodies += [message.body, *(content for content, _ in message.alternatives)]
    assert any("in get_access_token" in body and "local vars" in body.lower() for body in bodies)
    for body in bodies:
        assert TOKEN[:40] not in body


# 3. Provider slugs and path segments: nothing reaches another WorkOS endpoint.

BAD_SLUGS = ["", ".", "..", "Salesforce", "sales force", "a/b", "a\\b", "%2e%2e", "é", "a\n", "a?"]
GOOD_SLUGS = ["salesforce", "apollo-oauth", "my_app2", "0"]


@pytest.mark.parametrize("slug", BAD_SLUGS)
def test_the_service_refuses_an_invalid_provider_slug_before_any_request(slug: str) -> None:
    calls = [
        lambda: pipes.get_access_token(slug, user_id="user_1"),
        lambda: pipes.invalidate(slug, user_id="user_1"),
        lambda: pipes.invalidate_organization(slug, "org_1"),
        lambda: pipes.get_connected_account(slug, user_id="user_1"),
        lambda: pipes.authorize_url(slug, user_id="user_1", return_to="https://site.example/"),
    ]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as workos:
        for call in calls:
            with pytest.raises(InvalidProvider, match="provider slug") as caught:
                call()
            assert isinstance(caught.value, ValueError)
        assert len(workos.calls) == 0


@pytest.mark.parametrize("slug", GOOD_SLUGS)
def test_valid_slugs_reach_workos(slug: str) -> None:
    with responses.RequestsMock() as workos:
        workos.post(token_url(slug), json={"active": False, "error": "not_installed"})
        assert pipes.get_access_token(slug, user_id="user_1").error == "not_installed"


@pytest.mark.parametrize("view", ["connect", "reauthorize"])
@pytest.mark.parametrize("slug", ["%2E%2E", "..", "%2e", "Salesforce", "caf%C3%A9", "a%2Fb"])
def test_the_views_answer_404_to_an_invalid_slug_and_call_nobody(
    client: Client, ann: User, view: str, slug: str
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as workos:
        # What ``/pipes/reauthorize/%2E%2E/`` used to reach (urllib3 drops dot segments).
        workos.get(f"{WORKOS}/user_management/users/user_ann/", json={"id": "user_ann"})
        response = client.get(f"/pipes/{view}/{slug}/")
        assert response.status_code == 404
        assert len(workos.calls) == 0


@pytest.mark.parametrize("user_id", ["", ".", ".."])
def test_the_client_refuses_dot_and_empty_path_segments(user_id: str) -> None:
    client = PipesClient(api_key=API_KEY, base_url=WORKOS, max_retries=0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as workos:
        workos.get(re.compile(f"{WORKOS}/.*"), json={"id": "someone"})
        with pytest.raises(InvalidPathSegment) as caught:
            client.get_connected_account(ConnectionRef("salesforce", user_id=user_id))
        assert isinstance(caught.value, ValueError)
        for slug in ("", ".", ".."):
            with pytest.raises(InvalidPathSegment):
                client.get_access_token(ConnectionRef(slug, user_id="user_1"))
            with pytest.raises(InvalidPathSegment):
                client.authorize_url(
                    ConnectionRef(slug, user_id="user_1"), return_to="https://site.example/"
                )
        assert len(workos.calls) == 0


def test_the_client_encodes_each_path_segment() -> None:
    client = PipesClient(api_key=API_KEY, base_url=WORKOS, max_retries=0)
    with responses.RequestsMock() as workos:
        url = f"{WORKOS}/user_management/users/a%2F..%2Fb%3F%23%20%25/connected_accounts/hubspot"
        workos.get(url, json={"id": "ca_1", "state": "connected"})
        account = client.get_connected_account(ConnectionRef("hubspot", user_id="a/../b?# %"))
        assert workos.calls[0].request.url == url
    assert account is not None


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["..", "Salesforce", "a/b", ""])
def test_an_event_with_an_invalid_slug_is_acknowledged_and_ignored(
    client: Client, caplog: pytest.LogCaptureFixture, slug: str
) -> None:
    event = webhook_event("disconnected", provider=slug, user_id="user_1")
    with caplog.at_level(logging.WARNING, logger="django_workos_pipes"):
        assert post_webhook(client, event).status_code == 200
    assert "no usable provider_slug" in caplog.text


# 4. Cross-site GETs to connect/reauthorize change nothing.

CONSENT = "https://id.workos.example/oauth/consent?session=abc123"


def stub_authorize(workos: responses.RequestsMock, next_url: str = "/reports/") -> None:
    workos.post(
        f"{WORKOS}/data-integrations/salesforce/authorize",
        json={"url": CONSENT},
        match=[
            matchers.json_params_matcher(
                {"user_id": "user_ann", "return_to": f"http://testserver{next_url}"}
            )
        ],
    )


def cache_ann_token() -> None:
    with responses.RequestsMock() as workos:
        stub_token(workos, "salesforce", token_answer(TOKEN))
        pipes.get_access_token("salesforce", user_id="user_ann")


def still_cached() -> bool:
    """True if ann's token is served from the cache, without a call to WorkOS."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as workos:
        workos.post(token_url("salesforce"), json={"active": False, "error": "not_installed"})
        result = pipes.get_access_token("salesforce", user_id="user_ann")
        return len(workos.calls) == 0 and result.active


@pytest.mark.parametrize("view", ["connect", "reauthorize"])
def test_a_cross_site_get_gets_a_confirmation_page_and_changes_nothing(
    client: Client, ann: User, view: str
) -> None:
    cache_ann_token()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as workos:
        workos.post(re.compile(f"{WORKOS}/.*"), json={"url": CONSENT})
        workos.get(re.compile(f"{WORKOS}/.*"), json={"id": "ca_1"})
        response = client.get(
            f"/pipes/{view}/salesforce/",
            {"next": "/reports/?a=1&b=2"},
            HTTP_SEC_FETCH_SITE="cross-site",
        )
        assert len(workos.calls) == 0
    assert response.status_code == 200
    assert [t.name for t in response.templates if t.name] == [
        "workos_pipes/confirm.html",
        "workos_pipes/base.html",
    ]
    assert "no-store" in response["Cache-Control"]
    assert response["X-Frame-Options"] == "DENY"
    page = response.content.decode()
    form = re.search(r'<form method="post" action="([^"]*)">(.*?)</form>', page, re.S)
    assert form is not None, page
    assert form.group(1) == f"/pipes/{view}/salesforce/?next=%2Freports%2F%3Fa%3D1%26b%3D2"
    assert 'name="csrfmiddlewaretoken"' in form.group(2)
    assert 'name="next" value="/reports/?a=1&amp;b=2"' in form.group(2)
    assert "<button" in form.group(2)
    assert still_cached(), "the cross-site GET dropped the cached token"


def test_the_confirmation_button_starts_the_flow(ann: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ann)
    page = browser.get(
        "/pipes/connect/salesforce/", {"next": "/reports/"}, HTTP_SEC_FETCH_SITE="cross-site"
    )
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    with responses.RequestsMock() as workos:
        stub_authorize(workos)
        response = browser.post(
            "/pipes/connect/salesforce/",
            {"next": "/reports/", "csrfmiddlewaretoken": token.group(1)},
            HTTP_SEC_FETCH_SITE="same-origin",
        )
    assert response.status_code == 302
    assert response["Location"] == CONSENT


@pytest.mark.parametrize("sec_fetch_site", ["same-origin", "same-site", "none", None])
def test_a_same_site_typed_or_unlabelled_get_goes_straight_to_workos(
    client: Client, ann: User, sec_fetch_site: str | None
) -> None:
    headers = {} if sec_fetch_site is None else {"HTTP_SEC_FETCH_SITE": sec_fetch_site}
    with responses.RequestsMock() as workos:
        stub_authorize(workos)
        response = client.get("/pipes/connect/salesforce/", {"next": "/reports/"}, **headers)
        assert len(workos.calls) == 1
    assert response.status_code == 302
    assert response["Location"] == CONSENT


@pytest.mark.parametrize("middleware", ["with", "without"])
def test_a_post_without_a_csrf_token_is_refused(ann: User, middleware: str, settings: Any) -> None:
    """With or without ``CsrfViewMiddleware``: the views protect themselves."""
    if middleware == "without":
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "csrf" not in m.lower()]
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(ann)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as workos:
        workos.post(re.compile(f"{WORKOS}/.*"), json={"url": CONSENT})
        response = browser.post("/pipes/connect/salesforce/", {"next": "/reports/"})
        assert len(workos.calls) == 0
    assert response.status_code == 403


@pytest.mark.parametrize("slug", ["%2E%2E", "Salesforce"])
def test_disconnect_answers_404_to_an_invalid_slug_and_calls_nobody(
    client: Client, ann: User, slug: str
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as workos:
        workos.delete(re.compile(f"{WORKOS}/.*"), status=204)
        workos.get(re.compile(f"{WORKOS}/.*"), json={"id": "user_ann"})
        assert client.post(f"/pipes/disconnect/{slug}/").status_code == 404
        assert len(workos.calls) == 0


@pytest.mark.django_db
@pytest.mark.usefixtures("stub_resolver")
def test_an_anonymous_cross_site_get_is_confirmed_then_logs_in_and_comes_back(
    client: Client,
) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as workos:
        workos.post(re.compile(f"{WORKOS}/.*"), json={"url": CONSENT})
        page = client.get(
            "/pipes/connect/salesforce/", {"next": "/reports/"}, HTTP_SEC_FETCH_SITE="cross-site"
        )
        assert page.status_code == 200
        action = re.search(r'<form method="post" action="([^"]*)">', page.content.decode())
        assert action is not None
        login = client.post(action.group(1).replace("&amp;", "&"), {"next": "/reports/"})
        assert len(workos.calls) == 0
    assert login.status_code == 302
    back = parse_qs(urlsplit(login["Location"]).query)["next"]
    assert back == ["/pipes/connect/salesforce/?next=%2Freports%2F"]
