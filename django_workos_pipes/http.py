"""The answers given instead of a view: redirects, the unavailable page, a refused consent,
the confirmation asked of a visitor sent by another site.

A redirect takes the kind of client into account: a browser gets a 302; htmx gets a
200 with ``HX-Redirect``, since it would follow a 302 inside the page and swap the
login or consent page into a fragment; a client that accepts JSON but not HTML gets a
JSON body it can act on, with the URL a person should visit.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.encoding import iri_to_uri

from . import wire
from .exceptions import LinkRefused, PipesError, PipesUnavailable
from .providers import provider_name

logger = logging.getLogger(__name__)

UNAVAILABLE_TEMPLATE = "workos_pipes/unavailable.html"
DENIED_TEMPLATE = "workos_pipes/denied.html"
ORGANIZATION_TEMPLATE = "workos_pipes/organization.html"

ORGANIZATION_REQUIRED = "organization_required"
"""An organization's connection was needed, and the request has no organization."""
ORGANIZATION_ADMIN_REQUIRED = "organization_admin_required"
"""Only an administrator may connect or disconnect an organization's connection."""
CONFIRM_TEMPLATE = "workos_pipes/confirm.html"
NOT_LINKED_TEMPLATE = "workos_pipes/not_linked.html"


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def is_cross_site(request: HttpRequest) -> bool:
    """True when the browser says another site sent the request (Fetch Metadata).

    ``same-origin``, ``same-site`` and ``none`` (a typed URL, a bookmark) are not; nor is a
    request without the header (older browsers, scripts, Django's test client).
    """
    return request.headers.get("Sec-Fetch-Site") == "cross-site"


def wants_json(request: HttpRequest) -> bool:
    """True for API clients: JSON accepted, HTML not (a browser's ``*/*`` accepts both)."""
    return request.accepts("application/json") and not request.accepts("text/html")


def client_redirect(
    request: HttpRequest, url: str, *, status: int, body: dict[str, Any]
) -> HttpResponse:
    """Send the client to ``url``; ``status`` and ``body`` are for JSON clients."""
    if is_htmx(request):
        response = HttpResponse()
        response["HX-Redirect"] = iri_to_uri(url)
        return response
    if wants_json(request):
        return JsonResponse({**body, "redirect": url}, status=status)
    return HttpResponseRedirect(url)


def login_required(request: HttpRequest, next_url: str | None = None) -> HttpResponse:
    """What ``login_required`` does, with ``next`` = this request's path and query (or
    ``next_url``: a POST-only view's path is no page to come back to)."""
    response = redirect_to_login(next_url or request.get_full_path())
    if is_htmx(request) or wants_json(request):
        return client_redirect(request, response.url, status=401, body={"error": "login_required"})
    return response


def unavailable(request: HttpRequest, provider: str | None, exc: PipesError) -> HttpResponse:
    """A 503 when WorkOS gave no usable answer: the request is fine, it may succeed later.

    ``provider`` is None when the call was about no one provider (the connections list).

    An outage is logged as a warning; a refusal (a revoked API key, say) as an error,
    since it won't pass by itself. The log line names the failure and its request id,
    nothing secret.
    """
    level = logging.WARNING if isinstance(exc, PipesUnavailable) else logging.ERROR
    logger.log(level, "No answer from WorkOS for provider=%s, answering 503: %s", provider, exc)
    if wants_json(request):
        return JsonResponse({"error": "unavailable", "provider": provider}, status=503)
    name = provider_name(provider) if provider else None
    context = {"provider": provider, "provider_name": name}
    return render(request, UNAVAILABLE_TEMPLATE, context, status=503)


def denied(request: HttpRequest, provider: str, error: str, retry_url: str) -> HttpResponse:
    """A 403 page for a user who came back from a consent they did not give.

    Redirecting them to the consent again would loop; this page lets them choose.
    """
    context = {
        "provider": provider,
        "provider_name": provider_name(provider),
        "error": error,
        "retry_url": retry_url,
    }
    return render(request, DENIED_TEMPLATE, context, status=403)


def organization_refused(
    request: HttpRequest, provider: str, error: str, *, admin_resolver_set: bool = True
) -> HttpResponse:
    """A 403 for an organization's connection this request can't use or manage: no
    organization (:data:`ORGANIZATION_REQUIRED`), or not an administrator
    (:data:`ORGANIZATION_ADMIN_REQUIRED`). A clear answer, never a WorkOS error.

    The page tells a member to ask an administrator; while ``ORGANIZATION_ADMIN_RESOLVER``
    is unset (``admin_resolver_set`` False) it also tells the site's developers how to
    set it, since nobody can be an administrator until then.
    """
    if wants_json(request):
        return JsonResponse({"error": error, "provider": provider}, status=403)
    context = {"provider": provider, "error": error, "admin_resolver_set": admin_resolver_set}
    return render(request, ORGANIZATION_TEMPLATE, context, status=403)


def confirm(
    request: HttpRequest, provider: str, *, reauthorize: bool, next_url: str
) -> HttpResponse:
    """A page whose button POSTs (with a CSRF token) to this URL with the same ``next``.

    A GET another site sent changes nothing: it could otherwise drop the user's cached
    token and start a consent they never asked for. The page may not be framed, so the
    button can't be clicked through another site's page either. The form posts to the
    full URL, query included, so a visitor who must log in first comes back to it.
    """
    context = {
        "provider": provider,
        "reauthorize": reauthorize,
        "action": request.get_full_path(),
        "next": next_url,
    }
    response = render(request, CONFIRM_TEMPLATE, context)
    response["X-Frame-Options"] = "DENY"
    add_never_cache_headers(response)
    return response


def not_linked(request: HttpRequest, refusal: LinkRefused) -> HttpResponse:
    """The page for a logged-in user who can't be linked to a WorkOS user (or whose
    organization can't): what happened, and what to do about it.

    409 when WorkOS holds a conflicting user (its e-mail address is taken), else 403.
    The ``external_id`` to set in WorkOS is shown to staff only (and with ``DEBUG``).
    The refusal itself was logged where it was decided, with that id.
    """
    status = 409 if refusal.reason == wire.EMAIL_NOT_AVAILABLE else 403
    if wants_json(request):
        return JsonResponse({"error": "not_linked", "reason": refusal.reason}, status=status)
    user = getattr(request, "user", None)
    context = {
        "reason": refusal.reason,
        "external_id": refusal.external_id,
        "for_staff": bool(getattr(user, "is_staff", False) or settings.DEBUG),
    }
    return render(request, NOT_LINKED_TEMPLATE, context, status=status)
