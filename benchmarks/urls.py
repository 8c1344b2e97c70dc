"""URLs of the benchmark site: the same view body, plain and decorated."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import include, path

from django_workos_pipes.decorators import require_pipe


def workos_user_id(request: HttpRequest) -> str | None:
    user = request.user
    return f"user_bench_{user.pk}" if user.is_authenticated else None


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"hello {request.user.get_username()}")


@require_pipe("salesforce")
def piped(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"hello {request.user.get_username()}")


STATUS_PROVIDERS = (
    "salesforce",
    "hubspot",
    "slack",
    "google",
    "microsoft",
    "jira",
    "github",
    "notion",
    "asana",
    "dropbox",
)
STATUS_PAGE = (
    "{% load workos_pipes %}{% for provider in providers %}{% pipe_status provider as s %}"
    "{{ provider }} {% if s.active %}connected{% else %}{{ s.error }}{% endif %}\n"
    "{% endfor %}"
)


def status(request: HttpRequest) -> HttpResponse:
    """A page of ten ``{% pipe_status %}`` tags, one per provider."""
    template = engines["django"].from_string(STATUS_PAGE)
    return HttpResponse(template.render({"providers": STATUS_PROVIDERS}, request))


def naive(request: HttpRequest) -> HttpResponse:
    """What a project without this app does: ask WorkOS through the SDK on every request."""
    from django.conf import settings

    client = _sdk(settings.WORKOS_PIPES["BASE_URL"])
    result = client.pipes.get_access_token("salesforce", user_id=workos_user_id(request) or "")
    assert result.active
    return HttpResponse(f"hello {request.user.get_username()}")


_clients: dict[str, Any] = {}


def _sdk(base_url: str) -> Any:
    if base_url not in _clients:
        from workos import WorkOSClient

        _clients[base_url] = WorkOSClient(
            api_key="sk_test_benchmark_0123456789", client_id="client_bench", base_url=base_url
        )
    return _clients[base_url]


urlpatterns = [
    path("plain/", plain),
    path("piped/", piped),
    path("naive/", naive),
    path("status/", status),
    path("pipes/", include("django_workos_pipes.urls")),
]
