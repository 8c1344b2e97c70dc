"""A credential's secret shows on no error page and in no error e-mail.

Django's debug page and its HTML error e-mails print every frame's local variables. A
view that fails while it holds a credential (in ``request.pipes`` and in a variable),
and a credentials answer WorkOS got wrong (a frame of the client parsed the body that
holds the key), must leave the API key out of both. The fault suite's leak guard reads
every log record, page and mail.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.http import HttpRequest, JsonResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, path

from django_workos_pipes import pipes
from django_workos_pipes.decorators import require_pipe
from tests.servers import Answer, LoopbackServer
from tests.system.faultkit import API_KEY, LeakGuard
from tests.system.faultsite import pipes_settings

SECRET = "zd_live_api_key_" + "5ecret" * 6


@require_pipe("zendesk", credentials=True)
def failing_view(request: HttpRequest) -> JsonResponse:
    """Holds the credential, then fails, as project code may."""
    credential = request.pipes["zendesk"]  # type: ignore[attr-defined]
    subdomain = credential.config["subdomain"]
    raise RuntimeError(f"the {subdomain} ticket export failed")


def direct_view(request: HttpRequest) -> JsonResponse:
    """Project code calling the service itself, letting any error become a 500."""
    result = pipes.get_credentials("zendesk", user_id=request.GET["user"])
    return JsonResponse({"active": result.active})


urlpatterns: list[URLPattern | URLResolver] = [
    path("failing/", failing_view),
    path("direct/", direct_view),
]


def answer(expires_at: str | None = None) -> Answer:
    credential: dict[str, Any] = {
        "object": "credential",
        "auth_method": "api_key",
        "value": SECRET,
        "config": {"subdomain": "acme"},
    }
    if expires_at is not None:
        credential["expires_at"] = expires_at
    body = json.dumps({"active": True, "credential": credential}).encode()
    return 200, {"Content-Type": "application/json"}, body


def error_page(guard: LeakGuard, outbox: list[Any], url: str, path_: str, *, debug: bool) -> int:
    settings = pipes_settings(base_url=url, api_key=API_KEY, max_retries=0)
    with override_settings(DEBUG=debug, ROOT_URLCONF=__name__, WORKOS_PIPES=settings):
        response = Client(raise_request_exception=False).get(path_, {"user": "user_a"})
    guard.body(response.content)
    for message in outbox:
        guard.body(message.body)
        for content, _ in getattr(message, "alternatives", []):
            guard.body(content)
    assert debug or outbox, "an error e-mail was sent"
    return response.status_code


@pytest.mark.parametrize("debug", [True, False], ids=["debug-page", "error-mail"])
def test_a_view_failing_with_a_credential_shows_it_nowhere(
    debug: bool,
    error_mail: list[Any],
    leak_guard: LeakGuard,
) -> None:
    leak_guard.watch("API key credential", SECRET)
    with LoopbackServer(lambda request: answer()) as workos:
        status = error_page(leak_guard, error_mail, workos.url, "/failing/", debug=debug)
    assert status == 500
    pages = "\n".join(leak_guard.bodies)
    assert "in failing_view" in pages, "the view's frame, with its locals, is shown"
    assert "zd_l\u2026" in pages or "zd_l&#x2026;" in pages or "zd_l&hellip;" in pages
    leak_guard.assert_clean()


@pytest.mark.parametrize("debug", [True, False], ids=["debug-page", "error-mail"])
def test_a_malformed_credentials_answer_shows_the_key_nowhere(
    debug: bool,
    error_mail: list[Any],
    leak_guard: LeakGuard,
) -> None:
    leak_guard.watch("API key credential", SECRET)
    with LoopbackServer(lambda request: answer(expires_at="not a date")) as workos:
        status = error_page(leak_guard, error_mail, workos.url, "/direct/", debug=debug)
    assert status == 500
    pages = "\n".join(leak_guard.bodies)
    assert "in get_credentials" in pages and "in _vend" in pages
    leak_guard.assert_clean()
