"""The built-in views: start the connect or reauthorize flow, and receive webhooks.

``connect`` and ``reauthorize`` ask WorkOS for the consent URL of a provider and send
the browser there; after consent WorkOS sends it back to ``next`` (a page of this site,
else ``LOGIN_REDIRECT_URL``).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_http_methods

from . import service
from .exceptions import LinkRefused, PipesAPIError, PipesUnavailable
from .http import login_required, not_linked, unavailable
from .identity import resolve_organization_id, resolve_user_id
from .redirects import safe_next
from .webhooks import webhook

__all__ = ["connect", "reauthorize", "webhook"]


@require_http_methods(["GET", "POST"])
def connect(request: HttpRequest, provider: str) -> HttpResponse:
    """Send the user to WorkOS to connect ``provider``."""
    return _start_flow(request, provider, reauthorize=False)


@require_http_methods(["GET", "POST"])
def reauthorize(request: HttpRequest, provider: str) -> HttpResponse:
    """Send the user to WorkOS to reauthorize their existing ``provider`` account."""
    return _start_flow(request, provider, reauthorize=True)


def _start_flow(request: HttpRequest, provider: str, *, reauthorize: bool) -> HttpResponse:
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
