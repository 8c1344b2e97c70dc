"""The pages of the example: one per way of requiring a connection.

- ``salesforce``: a sync view with ``@require_pipe``;
- ``crm_and_chat``: an async view with two ``@require_pipe`` stacked (HubSpot, Slack);
- ``JiraIssues``: a class-based view with ``PipeRequiredMixin`` and a required scope;
- ``connected_apps``: the user's connections from ``{% pipe_connections %}``, with
  Connect / Reconnect / Disconnect (a POST to the app's ``workos_pipes:disconnect``);
- ``team_salesforce``: the organization's shared Salesforce connection, with
  ``@require_pipe("salesforce", owner="organization")``: Acme's administrator connects
  it once (the app's connect view with ``?owner=organization``), every member uses it.

Each sends an anonymous visitor to log in first (no ``login_required`` needed), and
shows what it was given in ``request.pipes``: the masked token, its expiry and scopes.
Then it calls the provider's API the way a real page would, through
``request.pipes.session(slug)``: against the emulator, its stand-in provider API
(``/_provider/{slug}/me``), which refuses a token that died early ("Expire token",
"Revoke at provider" on its control page). The page shows what came back: the status,
the token the provider saw (masked), and whether the session had to renew it and resend.
Nothing here ever puts a token in a page.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import requests
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.generic import TemplateView

from django_workos_pipes.conf import app_settings
from django_workos_pipes.decorators import PipesHttpRequest, require_pipe
from django_workos_pipes.mixins import PipeRequiredMixin

from . import accounts
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
    session = request.pipes.session("salesforce")
    called = _provider_call(session.get, "salesforce") if _provider_api() else {}
    return render(
        request,
        "demo/connected_page.html",
        {
            "title": "Salesforce accounts",
            "kind": "A sync view with @require_pipe",
            "code": '@require_pipe("salesforce")\ndef salesforce(request):\n'
            '    session = request.pipes.session("salesforce")\n'
            '    response = session.get(f"{BASE_URL}/_provider/salesforce/me", timeout=5)',
            "tokens": _tokens(request, called),
        },
    )


@require_pipe("salesforce", owner="organization")
def team_salesforce(request: PipesHttpRequest) -> HttpResponse:
    session = request.pipes.session("salesforce")  # the organization's connection
    called = _provider_call(session.get, "salesforce") if _provider_api() else {}
    return render(
        request,
        "demo/connected_page.html",
        {
            "title": f"{accounts.ORGANIZATION_NAME}'s Salesforce",
            "kind": "A connection the organization shares, with @require_pipe(owner=...)",
            "code": '@require_pipe("salesforce", owner="organization")\n'
            "def team_salesforce(request):\n"
            '    token = request.pipes["salesforce"]   # the same for every member\n'
            '    session = request.pipes.session("salesforce")',
            "tokens": _tokens(request, called),
        },
    )


@require_pipe("hubspot")
@require_pipe("slack")
async def crm_and_chat(request: PipesHttpRequest) -> HttpResponse:
    # Both checks ran without blocking the event loop; each provider call runs in a
    # worker thread of its own (not the one thread sync code shares: a slow provider
    # must not hold up everyone else), and so does rendering, which reads the session's
    # user from the database.
    called = {}
    if _provider_api():
        for slug in ("hubspot", "slack"):
            get = sync_to_async(request.pipes.session(slug).get, thread_sensitive=False)
            called.update(await _aprovider_call(get, slug))
    context = {
        "title": "CRM and chat",
        "kind": "An async view with two providers stacked",
        "code": '@require_pipe("hubspot")\n@require_pipe("slack")\n'
        "async def crm_and_chat(request):\n"
        '    session = request.pipes.session("hubspot")\n'
        "    response = await sync_to_async(session.get, thread_sensitive=False)(\n"
        '        f"{BASE_URL}/_provider/hubspot/me", timeout=5\n    )',
        "tokens": _tokens(request, called),
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
        '    pipe_provider = "jira"\n    pipe_scopes = ["read:jira-work"]\n\n'
        "    def get_context_data(self, **kwargs):\n"
        '        session = self.request.pipes.session("jira")\n'
        '        response = session.get(f"{BASE_URL}/_provider/jira/me", timeout=5)',
    }

    def get_context_data(self, **kwargs: object) -> dict[str, object]:
        context = super().get_context_data(**kwargs)
        session = cast(PipesHttpRequest, self.request).pipes.session("jira")
        called = _provider_call(session.get, "jira") if _provider_api() else {}
        context["tokens"] = _tokens(self.request, called)
        return context


def _provider_api() -> str:
    """The emulator's stand-in provider API, beside its WorkOS API at ``BASE_URL``, when
    the site runs against the emulator (WorkOS has none: a real page would call the
    provider itself)."""
    return f"{app_settings.BASE_URL}/_provider" if settings.EMULATOR_URL else ""


def _provider_call(get: Any, slug: str) -> dict[str, dict[str, object]]:
    """Call ``/_provider/{slug}/me`` with ``get`` (a session's); what the page shows.

    ``PipesReauthorizationRequired`` goes through: the decorator sends the user to fix
    the connection. A provider that can't be reached is shown, not raised.
    """
    try:
        response = get(f"{_provider_api()}/{slug}/me", timeout=5)
    except requests.RequestException as exc:
        return {slug: {"error": type(exc).__name__}}
    return {slug: _outcome(response)}


async def _aprovider_call(get: Any, slug: str) -> dict[str, dict[str, object]]:
    try:
        response = await get(f"{_provider_api()}/{slug}/me", timeout=5)
    except requests.RequestException as exc:
        return {slug: {"error": type(exc).__name__}}
    return {slug: _outcome(response)}


def _outcome(response: requests.Response) -> dict[str, object]:
    try:
        body: Any = response.json()
    except ValueError:
        body = {"body": response.text[:200]}
    refused = [
        {"status": r.status_code, "why": _reason(r)} for r in response.history if r.status_code
    ]
    return {
        "status": response.status_code,
        "ok": response.ok,
        "token": body.get("token") if isinstance(body, dict) else None,
        "fingerprint": body.get("token_fingerprint") if isinstance(body, dict) else None,
        "resent": len(response.history),
        "refused": refused,
        "json": json.dumps(body, indent=2, ensure_ascii=False),
    }


def _reason(response: requests.Response) -> str:
    try:
        return str(response.json().get("error_description", ""))
    except (ValueError, AttributeError):
        return ""


def _tokens(
    request: HttpRequest, called: dict[str, dict[str, object]] | None = None
) -> list[dict[str, object]]:
    """The page's connections, in the order of the dashboard, with what each
    provider's API said."""
    granted = getattr(request, "pipes", {})
    return [
        {"provider": BY_SLUG[slug], "token": granted[slug], "api": (called or {}).get(slug)}
        for slug in (p.slug for p in PROVIDERS)
        if slug in granted
    ]
