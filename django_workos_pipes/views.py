"""The built-in views: the connections page, the flows that change a connection, and
the webhook.

``connect`` and ``reauthorize`` ask WorkOS for the consent URL of a provider and send
the browser there; after consent WorkOS sends it back to ``next`` (a page of this site,
else ``LOGIN_REDIRECT_URL``). Starting a flow drops the cached token, so a GET sent by
another site gets a confirmation page instead, whose button POSTs with a CSRF token.
``connections`` lists every provider configured in WorkOS with the user's state;
``disconnect`` (a POST from that page) removes an account.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import service, wire
from .exceptions import LinkRefused, PipesAPIError, PipesUnavailable
from .http import (
    client_redirect,
    confirm,
    is_cross_site,
    login_required,
    not_linked,
    unavailable,
    wants_json,
)
from .identity import resolve_organization_id, resolve_user_id
from .redirects import safe_next
from .webhooks import webhook

__all__ = ["connect", "connections", "disconnect", "reauthorize", "webhook"]

CONNECTIONS_TEMPLATE = "workos_pipes/connections.html"


@never_cache
@require_safe
def connections(request: HttpRequest) -> HttpResponse:
    """Every provider configured in WorkOS, the user's state with each, and the actions
    that change it; the same data as JSON for a client that accepts JSON but not HTML.

    The listing comes through the service's cache, so rendering the page again costs no
    WorkOS call until a connection changes.
    """
    try:
        user_id = resolve_user_id(request)
        if not user_id:
            return login_required(request)
        found = service.pipes.list_connections(
            user_id, organization_id=resolve_organization_id(request)
        )
    except LinkRefused as refusal:
        return not_linked(request, refusal)
    except (PipesUnavailable, PipesAPIError) as exc:
        return unavailable(request, None, exc)
    if wants_json(request):
        return JsonResponse({"connections": [connection.as_json() for connection in found]})
    # The request is given explicitly: the page's template tags need it, even in a
    # project whose TEMPLATES lack the request context processor.
    return render(request, CONNECTIONS_TEMPLATE, {"connections": found, "request": request})


@require_POST
@csrf_protect
def disconnect(request: HttpRequest, provider: str) -> HttpResponse:
    """Remove the user's ``provider`` account, then go back to ``next`` (a page of this
    site) or the connections page. JSON clients get ``{"provider", "disconnected"}``,
    ``disconnected`` being False when there was no account to remove."""
    if not wire.is_provider_slug(provider):
        raise Http404("Unknown provider.")
    back = safe_next(request, default=reverse("workos_pipes:connections"))
    try:
        user_id = resolve_user_id(request)
        if not user_id:
            return login_required(request, back)
        removed = service.pipes.disconnect(
            provider, user_id=user_id, organization_id=resolve_organization_id(request)
        )
    except LinkRefused as refusal:
        return not_linked(request, refusal)
    except (PipesUnavailable, PipesAPIError) as exc:
        return unavailable(request, provider, exc)
    body = {"provider": provider, "disconnected": removed}
    return client_redirect(request, back, status=200, body=body)


@require_http_methods(["GET", "POST"])
@csrf_protect
def connect(request: HttpRequest, provider: str) -> HttpResponse:
    """Send the user to WorkOS to connect ``provider``."""
    return _start_flow(request, provider, reauthorize=False)


@require_http_methods(["GET", "POST"])
@csrf_protect
def reauthorize(request: HttpRequest, provider: str) -> HttpResponse:
    """Send the user to WorkOS to reauthorize their existing ``provider`` account."""
    return _start_flow(request, provider, reauthorize=True)


def _start_flow(request: HttpRequest, provider: str, *, reauthorize: bool) -> HttpResponse:
    if not wire.is_provider_slug(provider):
        raise Http404("Unknown provider.")
    if request.method == "GET" and is_cross_site(request):
        # Before anything else: resolving the user may call WorkOS too.
        return confirm(request, provider, reauthorize=reauthorize, next_url=safe_next(request))
    try:
        user_id = resolve_user_id(request)
        if not user_id:
            return login_required(request)
        url = service.pipes.authorize_url(
            provider,
            user_id=user_id,
            organization_id=resolve_organization_id(request),
            return_to=request.build_absolute_uri(safe_next(request)),
            reauthorize=reauthorize,
        )
    except LinkRefused as refusal:
        return not_linked(request, refusal)
    except PipesUnavailable as exc:
        return unavailable(request, provider, exc)
    except PipesAPIError as exc:
        return _api_error(request, provider, exc)
    return HttpResponseRedirect(url)


def _api_error(request: HttpRequest, provider: str, exc: PipesAPIError) -> HttpResponse:
    """WorkOS refused the request: 404 for a provider it doesn't know, else the 503 page.

    Anything else (a revoked API key, say) is this site's problem, not the user's: it is
    logged, and the user sees the page that says to try again later.
    """
    if exc.status_code == 404:
        raise Http404("Unknown provider.")
    return unavailable(request, provider, exc)
