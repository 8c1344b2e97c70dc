"""The pages of the example: one per way of requiring a connection.

- ``salesforce``: a sync view with ``@require_pipe``;
- ``crm_and_chat``: an async view with two ``@require_pipe`` stacked (HubSpot, Slack);
- ``JiraIssues``: a class-based view with ``PipeRequiredMixin`` and a required scope;
- ``connected_apps``: the user's connections from ``{% pipe_connections %}``, with
  Connect / Reconnect / Disconnect (a POST to the app's ``workos_pipes:disconnect``).

Each sends an anonymous visitor to log in first (no ``login_required`` needed), and
shows what it was given in ``request.pipes``: the masked token, its expiry and scopes.
A real page would call the provider's API with ``token.access_token``; nothing here
ever puts that string in a page.
"""

from __future__ import annotations

from pathlib import Path

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.generic import TemplateView

from django_workos_pipes.decorators import PipesHttpRequest, require_pipe
from django_workos_pipes.mixins import PipeRequiredMixin

from .providers import BY_SLUG, PROVIDERS

FAVICON = Path(__file__).resolve().parent / "static" / "demo" / "favicon.svg"


@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """``/favicon.ico``, which browsers ask for whatever the page's ``<link rel=icon>``."""
    return HttpResponse(FAVICON.read_bytes(), content_type="image/svg+xml")


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/dashboard.html", {"providers": PROVIDERS})


@login_required
def connected_apps(request: HttpRequest) -> HttpResponse:
    """Everything comes from the template tags; the view only requires a login."""
    return render(request, "demo/connected_apps.html")


@require_pipe("salesforce")
def salesforce(request: PipesHttpRequest) -> HttpResponse:
    return render(
        request,
        "demo/connected_page.html",
        {
            "title": "Salesforce accounts",
            "kind": "A sync view with @require_pipe",
            "code": '@require_pipe("salesforce")\ndef salesforce(request):\n'
            '    token = request.pipes["salesforce"]',
            "tokens": _tokens(request),
        },
    )


@require_pipe("hubspot")
@require_pipe("slack")
async def crm_and_chat(request: PipesHttpRequest) -> HttpResponse:
    # Both checks ran without blocking the event loop; rendering reads the session's
    # user from the database, so it runs in a worker thread.
    context = {
        "title": "CRM and chat",
        "kind": "An async view with two providers stacked",
        "code": '@require_pipe("hubspot")\n@require_pipe("slack")\n'
        "async def crm_and_chat(request):\n"
        '    hubspot, slack = request.pipes["hubspot"], request.pipes["slack"]',
        "tokens": _tokens(request),
    }
    return await sync_to_async(render)(request, "demo/connected_page.html", context)


class JiraIssues(PipeRequiredMixin, TemplateView):
    template_name = "demo/connected_page.html"
    pipe_provider = "jira"
    pipe_scopes = ["read:jira-work"]
    extra_context = {
        "title": "Jira issues",
        "kind": "A class-based view with PipeRequiredMixin",
        "code": "class JiraIssues(PipeRequiredMixin, TemplateView):\n"
        '    pipe_provider = "jira"\n    pipe_scopes = ["read:jira-work"]',
    }

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        context["tokens"] = _tokens(self.request)
        return context


def _tokens(request: HttpRequest) -> list[dict[str, object]]:
    """The page's connections, in the order of the dashboard."""
    granted = getattr(request, "pipes", {})
    return [
        {"provider": BY_SLUG[slug], "token": granted[slug]}
        for slug in (p.slug for p in PROVIDERS)
        if slug in granted
    ]
