"""The built-in views: the connections page, the flows that change a connection, and
the webhook.

``connect`` and ``reauthorize`` ask WorkOS for the consent URL of a provider and send
the browser there; after consent WorkOS sends it back to ``next`` (a page of this site,
else ``LOGIN_REDIRECT_URL``). Starting a flow drops the cached token, so a GET sent by
another site gets a confirmation page instead, whose button POSTs with a CSRF token.
``connections`` lists every provider configured in WorkOS with the user's state (and
their organization's shared connections); ``disconnect`` (a POST from that page) removes
an account; ``choose_account`` (a POST too) remembers which of several accounts the user
wants used.

``?owner=organization`` (or the same POST field) makes ``connect``, ``reauthorize`` and
``disconnect`` act on the organization's shared connection, which only an
administrator may do (``ORGANIZATION_ADMIN_RESOLVER``); ``account=<id>`` names one of
several accounts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from . import service, wire
from .conf import app_settings
from .exceptions import LinkRefused, PipesAPIError, PipesUnavailable
from .http import (
    ORGANIZATION_ADMIN_REQUIRED,
    ORGANIZATION_REQUIRED,
    client_redirect,
    confirm,
    is_cross_site,
    login_required,
    not_linked,
    organization_refused,
    unavailable,
    wants_json,
)
from .identity import is_organization_admin, resolve_organization_id, resolve_user_id
from .owners import ORGANIZATION, USER, Owner, check_owner
from .redirects import safe_next
from .results import Connection
from .selection import choose_account as remember_account
from .selection import chosen_account, forget_account
from .webhooks import webhook

__all__ = ["choose_account", "connect", "connections", "disconnect", "reauthorize", "webhook"]

CONNECTIONS_TEMPLATE = "workos_pipes/connections.html"

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def connections(request: HttpRequest) -> HttpResponse:
    """Every provider configured in WorkOS, the user's state with each, and the actions
    that change it; the same data as JSON for a client that accepts JSON but not HTML.

    With an organization, its shared connections are listed apart (their actions for
    administrators only), and the user's own list leaves out the providers their
    organization owns. The listings come through the service's cache, so rendering the
    page again costs no WorkOS call until a connection changes.
    """
    try:
        user_id = resolve_user_id(request)
        if not user_id:
            return login_required(request)
        organization_id = resolve_organization_id(request)
        found = service.pipes.list_connections(user_id, organization_id=organization_id)
    except LinkRefused as refusal:
        return not_linked(request, refusal)
    except (PipesUnavailable, PipesAPIError) as exc:
        return unavailable(request, None, exc)
    shared = _organization_connections(organization_id)
    own = tuple(connection for connection in found if connection.connection_owner == USER)
    if wants_json(request):
        body: dict[str, object] = {"connections": [connection.as_json() for connection in own]}
        if organization_id:
            body["organization_connections"] = (
                None if shared is None else [connection.as_json() for connection in shared]
            )
        return JsonResponse(body)
    context = {
        "connections": own,
        "organization_id": organization_id,
        "organization_connections": shared,
        "organization_admin": bool(organization_id) and is_organization_admin(request),
        # The request is given explicitly: the page's template tags need it, even in a
        # project whose TEMPLATES lack the request context processor.
        "request": request,
        "next": safe_next(request, default=request.path),
        "selecting": request.GET.get("provider"),
    }
    return render(request, CONNECTIONS_TEMPLATE, context)


@require_POST
@csrf_protect
def disconnect(request: HttpRequest, provider: str) -> HttpResponse:
    """Remove the ``provider`` account, then go back to ``next`` (a page of this site) or
    the connections page. JSON clients get ``{"provider", "disconnected"}``,
    ``disconnected`` being False when there was no account to remove.

    ``owner=organization`` removes the organization's account (administrators only);
    ``account=<id>`` one of several accounts.
    """
    return _account_post(request, provider, _disconnect)


def _disconnect(request: HttpRequest, asked: _AccountPost) -> HttpResponse:
    """``disconnect`` once the user is known: only who may manage the account removes it."""
    refused = _may_manage(request, asked.provider, asked.owner, asked.organization_id)
    if refused is not None:
        return refused
    removed = service.pipes.disconnect(
        asked.provider,
        user_id=asked.user_id,
        organization_id=asked.organization_id,
        owner=asked.owner,
        connected_account_id=asked.account_id,
    )
    if asked.account_id is not None:
        forget_account(
            request,
            asked.provider,
            owner=asked.owner,
            organization_id=asked.organization_id,
            account_id=asked.account_id,
        )
    body = {"provider": asked.provider, "disconnected": removed}
    return client_redirect(request, asked.back, status=200, body=body)


@require_POST
@csrf_protect
def choose_account(request: HttpRequest, provider: str) -> HttpResponse:
    """Remember which of several ``provider`` accounts (``account``, an id the listing
    shows; empty forgets the choice) this user's pages use, in their session; then go
    back to ``next`` or the connections page. Members choose among their organization's
    accounts too (``owner=organization``): using one is not managing it.
    """
    return _account_post(request, provider, _choose_account)


def _choose_account(request: HttpRequest, asked: _AccountPost) -> HttpResponse:
    """``choose_account`` once the user is known: only an account the listing shows is
    remembered, so the session never names one WorkOS doesn't have."""
    provider, account_id = asked.provider, asked.account_id
    if asked.owner == ORGANIZATION and not asked.organization_id:
        return organization_refused(request, provider, ORGANIZATION_REQUIRED)
    if account_id is not None and account_id not in _account_ids(asked):
        if wants_json(request):
            return JsonResponse({"error": "unknown_account", "provider": provider}, status=400)
        return HttpResponseBadRequest("No such account.")
    remember_account(
        request, provider, account_id, owner=asked.owner, organization_id=asked.organization_id
    )
    body = {"provider": provider, "connected_account_id": account_id}
    return client_redirect(request, asked.back, status=200, body=body)


@dataclass(frozen=True)
class _AccountPost:
    """What a POST about one provider's account asks: who asks, about whose account
    (``owner``), which one (``account``), and where to go back to."""

    provider: str
    owner: Owner
    account_id: str | None
    back: str
    user_id: str
    organization_id: str | None


def _account_post(
    request: HttpRequest,
    provider: str,
    act: Callable[[HttpRequest, _AccountPost], HttpResponse],
) -> HttpResponse:
    """What ``disconnect`` and ``choose_account`` share: a known provider and owner, a
    logged-in user (else the login page, coming back to ``next``), then ``act``; a
    refused link and WorkOS down or refusing are the pages that say so."""
    if not wire.is_provider_slug(provider):
        raise Http404("Unknown provider.")
    back = safe_next(request, default=reverse("workos_pipes:connections"))
    owner = _owner(request)
    if owner is None:
        return _bad_owner()
    try:
        user_id = resolve_user_id(request)
        if not user_id:
            return login_required(request, back)
        organization_id = resolve_organization_id(request)
        asked = _AccountPost(
            provider, owner, _param(request, "account"), back, user_id, organization_id
        )
        return act(request, asked)
    except LinkRefused as refusal:
        return not_linked(request, refusal)
    except (PipesUnavailable, PipesAPIError) as exc:
        return unavailable(request, provider, exc)


@require_http_methods(["GET", "POST"])
@csrf_protect
def connect(request: HttpRequest, provider: str) -> HttpResponse:
    """Send the user to WorkOS to connect ``provider``."""
    return _start_flow(request, provider, reauthorize=False)


@require_http_methods(["GET", "POST"])
@csrf_protect
def reauthorize(request: HttpRequest, provider: str) -> HttpResponse:
    """Send the user to WorkOS to reauthorize their existing ``provider`` account (the
    one named by ``account``, else the one they chose, else WorkOS's default)."""
    return _start_flow(request, provider, reauthorize=True)


def _start_flow(request: HttpRequest, provider: str, *, reauthorize: bool) -> HttpResponse:
    if not wire.is_provider_slug(provider):
        raise Http404("Unknown provider.")
    owner = _owner(request)
    if owner is None:
        return _bad_owner()
    if request.method == "GET" and is_cross_site(request):
        # Before anything else: resolving the user may call WorkOS too.
        return confirm(request, provider, reauthorize=reauthorize, next_url=safe_next(request))
    try:
        user_id = resolve_user_id(request)
        if not user_id:
            return login_required(request)
        organization_id = resolve_organization_id(request)
        refused = _may_manage(request, provider, owner, organization_id)
        if refused is not None:
            return refused
        account_id = None
        if reauthorize:
            account_id = _param(request, "account") or chosen_account(
                request, provider, owner=owner, organization_id=organization_id
            )
        url = service.pipes.authorize_url(
            provider,
            user_id=user_id,
            organization_id=organization_id,
            return_to=request.build_absolute_uri(safe_next(request)),
            reauthorize=reauthorize,
            owner=owner,
            connected_account_id=account_id,
        )
    except LinkRefused as refusal:
        return not_linked(request, refusal)
    except PipesUnavailable as exc:
        return unavailable(request, provider, exc)
    except PipesAPIError as exc:
        return _api_error(request, provider, exc)
    return HttpResponseRedirect(url)


def _may_manage(
    request: HttpRequest, provider: str, owner: Owner, organization_id: str | None
) -> HttpResponse | None:
    """None when this user may change the ``owner``'s connection: always their own;
    an organization's only with an organization, and as its administrator."""
    if owner == USER:
        return None
    if not organization_id:
        return organization_refused(request, provider, ORGANIZATION_REQUIRED)
    if not is_organization_admin(request):
        configured = app_settings.ORGANIZATION_ADMIN_RESOLVER is not None
        return organization_refused(
            request, provider, ORGANIZATION_ADMIN_REQUIRED, admin_resolver_set=configured
        )
    return None


def _organization_connections(organization_id: str | None) -> tuple[Connection, ...] | None:
    """The organization's shared connections; None without an organization, or when
    WorkOS can't list them (the user's own connections are still shown)."""
    if not organization_id:
        return None
    try:
        return service.pipes.list_organization_connections(organization_id)
    except (PipesUnavailable, PipesAPIError) as exc:
        logger.warning("The organization's connections are not shown: %s", exc)
        return None


def _account_ids(asked: _AccountPost) -> set[str]:
    """The ids of the owner's ``provider`` accounts, from the cached listing."""
    if asked.owner == ORGANIZATION and asked.organization_id:
        listed = service.pipes.list_organization_connections(asked.organization_id)
    else:
        listed = service.pipes.list_connections(
            asked.user_id, organization_id=asked.organization_id
        )
    ids: set[str] = set()
    for connection in listed:
        if connection.provider == asked.provider:
            ids.update(account.id for account in connection.accounts)
            if connection.account is not None:
                ids.add(connection.account.id)
    return ids


def _owner(request: HttpRequest) -> Owner | None:
    """The ``owner`` the request names (POST, then GET), ``"user"`` if none; None for
    anything else."""
    try:
        return check_owner(_param(request, "owner") or USER)
    except ValueError:
        return None


def _bad_owner() -> HttpResponse:
    return HttpResponseBadRequest("owner must be 'user' or 'organization'.")


def _param(request: HttpRequest, name: str) -> str | None:
    value = request.POST.get(name) or request.GET.get(name)
    return value or None


def _api_error(request: HttpRequest, provider: str, exc: PipesAPIError) -> HttpResponse:
    """WorkOS refused the request: 404 for a provider it doesn't know, else the 503 page.

    Anything else (a revoked API key, say) is this site's problem, not the user's: it is
    logged, and the user sees the page that says to try again later.
    """
    if exc.status_code == 404:
        raise Http404("Unknown provider.")
    return unavailable(request, provider, exc)
