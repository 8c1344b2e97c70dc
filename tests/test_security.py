"""Defects found by an outsider's tour (issue 10): a token on error pages.

WorkOS is stubbed with ``responses``; the error pages are Django's own
(``ExceptionReporter``, and ``AdminEmailHandler`` with ``include_html=True``), which print
the local variables of every frame of a traceback.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator

import django
import pytest
import responses
import time_machine
from django.core import mail
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, include, path
from django.utils.log import AdminEmailHandler
from django.views.debug import ExceptionReporter

from django_workos_pipes import pipes
from django_workos_pipes.exceptions import PipesAPIError, PipesUnavailable
from tests.settings import API_KEY
from tests.stubs import active, token_url

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
    with responses.RequestsMock() as upstream:
        upstream.post(token_url("salesforce"), json=active(TOKEN, expires_at=None))
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
            responses.RequestsMock() as upstream,
        ):
            upstream.post(
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
