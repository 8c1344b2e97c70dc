"""``require_pipe``: a view runs only for a user whose connection is active and scoped.

The decision lives in two plain functions shared by the decorator, the mixin and any
other caller: :func:`check_pipe` (sync) and :func:`acheck_pipe` (async). Each returns
None when the view may run, the token (or, with ``credentials=True``, the
:class:`~django_workos_pipes.results.Credential`) then being in
``request.pipes[provider]``, or the response to give instead: login, connect,
reauthorize, or the 503 page.

A view that lets :class:`PipesReauthorizationRequired` escape (its provider session met
a connection only the user can fix) is answered like an inactive connection: the user
is sent to reauthorize, never shown a 500. :func:`recover` and :func:`arecover` do it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse

from . import service
from .exceptions import (
    PROVIDER_REJECTED_TOKEN,
    LinkRefused,
    PipesAPIError,
    PipesReauthorizationRequired,
    PipesUnavailable,
)
from .http import (
    client_redirect,
    denied,
    is_htmx,
    login_required,
    not_linked,
    unavailable,
    wants_json,
)
from .identity import resolve_organization_id, resolve_user_id
from .redirects import connect_url, reauthorize_url, without_oauth_error
from .results import NEEDS_REAUTHORIZATION, AccessToken, Credential, CredentialResult, TokenResult

if TYPE_CHECKING:
    import requests

logger = logging.getLogger(__name__)

_View = TypeVar("_View", bound=Callable[..., Any])

# The codes an OAuth server sends back when a consent is not given (RFC 6749 4.1.2.1).
CONSENT_ERRORS = frozenset(
    {
        "access_denied",
        "invalid_request",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "unauthorized_client",
        "unsupported_response_type",
    }
)


class RequestPipes(dict[str, AccessToken | Credential]):
    """``request.pipes``: the tokens (or credentials) granted to this request, by
    provider, and provider sessions bound to the request's user and organization."""

    def __init__(self, user_id: str, organization_id: str | None) -> None:
        super().__init__()
        self.user_id = user_id
        self.organization_id = organization_id

    def session(self, provider: str) -> requests.Session:
        """``pipes.session(provider, ...)`` for this request's user and organization."""
        return service.pipes.session(
            provider, user_id=self.user_id, organization_id=self.organization_id
        )

    def concerns(self, exc: PipesReauthorizationRequired) -> bool:
        """Whether ``exc`` is about this request's own connections (a view may also
        use another user's, which this user can't reauthorize)."""
        return (exc.user_id, exc.organization_id) == (self.user_id, self.organization_id)


class PipesHttpRequest(HttpRequest):
    """For type checkers: the request a ``require_pipe`` view receives."""

    pipes: RequestPipes


@dataclass(frozen=True)
class Refusal:
    """Why a view can't run yet, and which flow fixes it."""

    provider: str
    error: str
    reauthorize: bool
    missing_scopes: tuple[str, ...] = ()

    def url(self, next_url: str) -> str:
        build = reauthorize_url if self.reauthorize else connect_url
        return build(self.provider, next_url)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "provider": self.provider}
        if self.missing_scopes:
            body["missing_scopes"] = list(self.missing_scopes)
        return body


def require_pipe(
    provider: str, *, scopes: Iterable[str] | None = None, credentials: bool = False
) -> Callable[[_View], _View]:
    """Run the view only once the user's ``provider`` connection is active and has every
    scope in ``scopes``; the token is then ``request.pipes[provider]``.

    With ``credentials=True`` it is the connection's
    :class:`~django_workos_pipes.results.Credential` instead (``pipes.get_credentials``):
    the secret of an OAuth, API-key or client-credentials connection, with the
    provider's ``config``. API keys have no scopes, so ``scopes`` fits OAuth only.

    Works on sync and async views (an async view stays a coroutine function) and with
    ``method_decorator``. Stacked, the outermost decorator is checked first.
    """
    required = _required_scopes(scopes)

    def decorator(view: _View) -> _View:
        if iscoroutinefunction(view):

            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                response = await acheck_pipe(request, provider, required, credentials)
                if response is not None:
                    return response
                return await arecover(request, view(request, *args, **kwargs))

            return cast(_View, functools.wraps(view)(async_wrapper))

        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            response = check_pipe(request, provider, required, credentials)
            if response is not None:
                return response
            return recover(request, view, *args, **kwargs)

        return cast(_View, functools.wraps(view)(wrapper))

    return decorator


def check_pipe(
    request: HttpRequest, provider: str, scopes: tuple[str, ...] = (), credentials: bool = False
) -> HttpResponse | None:
    """None if the view may run (the token, or with ``credentials`` the credential, is
    then in ``request.pipes``), else the answer.

    WorkOS down, or refusing the call (a revoked API key, say), is a 503 page, logged;
    the visitor did nothing wrong, so it is never a 500. A user the resolver refuses to
    link gets the page that says why (``workos_pipes/not_linked.html``).
    """
    get = service.pipes.get_credentials if credentials else service.pipes.get_access_token
    try:
        identity = _identity(request)
        if identity is None:
            return login_required(request)
        user_id, organization_id = identity
        result = get(provider, user_id=user_id, organization_id=organization_id)
    except LinkRefused as refusal:
        return not_linked(request, refusal)
    except (PipesUnavailable, PipesAPIError) as exc:
        return unavailable(request, provider, exc)
    outcome = decide(provider, scopes, result)
    if isinstance(outcome, Refusal):
        return refuse(request, outcome)
    _grant(request, provider, outcome, identity)
    return None


async def acheck_pipe(
    request: HttpRequest, provider: str, scopes: tuple[str, ...] = (), credentials: bool = False
) -> HttpResponse | None:
    """:func:`check_pipe` for async views: nothing here blocks the event loop.

    The resolvers run in a worker thread, since ``request.user`` is lazy and loading it
    queries the database (as may a custom resolver). So does rendering a refusal, whose
    templates can be overridden by templates that touch the database.
    """
    get = service.pipes.aget_credentials if credentials else service.pipes.aget_access_token
    try:
        identity = await sync_to_async(_identity)(request)
        if identity is None:
            return login_required(request)
        user_id, organization_id = identity
        result = await get(provider, user_id=user_id, organization_id=organization_id)
    except LinkRefused as refusal:
        return await sync_to_async(not_linked)(request, refusal)
    except (PipesUnavailable, PipesAPIError) as exc:
        return await sync_to_async(unavailable)(request, provider, exc)
    outcome = decide(provider, scopes, result)
    if isinstance(outcome, Refusal):
        return await sync_to_async(refuse)(request, outcome)
    _grant(request, provider, outcome, identity)
    return None


def recover(request: HttpRequest, view: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a granted view; if it meets a connection that needs this user, send them to
    fix it (:func:`refuse`), as if the decorator had seen it first."""
    try:
        return view(request, *args, **kwargs)
    except PipesReauthorizationRequired as exc:
        refusal = _refusal_for(request, exc)
        if refusal is None:
            raise
        return refuse(request, refusal)


async def arecover(request: HttpRequest, running: Awaitable[Any]) -> Any:
    """:func:`recover` for an async view, given its coroutine."""
    try:
        return await running
    except PipesReauthorizationRequired as exc:
        refusal = _refusal_for(request, exc)
        if refusal is None:
            raise
        return await sync_to_async(refuse)(request, refusal)


def decide(
    provider: str, scopes: tuple[str, ...], result: TokenResult | CredentialResult
) -> AccessToken | Credential | Refusal:
    """The token (or credential) if the connection is active with every scope; otherwise
    why not.

    ``needs_reauthorization`` and a missing scope are fixed by reauthorizing; every other
    error (``not_installed``, or a code WorkOS adds later) by connecting.
    """
    token = result.granted
    if token is not None:
        if token.has_scopes(scopes):
            return token
        granted = set(token.scopes) - set(token.missing_scopes)
        missing = tuple(scope for scope in scopes if scope not in granted)
        return Refusal(provider, "missing_scopes", reauthorize=True, missing_scopes=missing)
    error = result.error or "unknown"
    return Refusal(provider, error, reauthorize=error == NEEDS_REAUTHORIZATION)


def _refusal_for(request: HttpRequest, exc: PipesReauthorizationRequired) -> Refusal | None:
    """The refusal that sends this request's user to fix ``exc``; None if it is about
    someone else's connection."""
    granted = getattr(request, "pipes", None)
    if not isinstance(granted, RequestPipes) or not granted.concerns(exc):
        return None
    logger.info("%s; sending the user to fix it", exc)
    fixable = exc.error in (NEEDS_REAUTHORIZATION, PROVIDER_REJECTED_TOKEN)
    return Refusal(exc.provider, exc.error, reauthorize=fixable)


def refuse(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    """Send the user to the flow that fixes ``refusal``, then back to this page.

    A browser coming back from a consent it refused (``?error=access_denied``) is not
    sent to the consent again, which would loop: it gets the ``denied`` page, whose
    "Try again" link starts the flow afresh.
    """
    next_url = request.get_full_path()
    consent_error = _consent_error(request)
    if consent_error is not None:
        retry_url = refusal.url(without_oauth_error(next_url))
        return denied(request, refusal.provider, consent_error, retry_url)
    return client_redirect(request, refusal.url(next_url), status=403, body=refusal.as_json())


def _identity(request: HttpRequest) -> tuple[str, str | None] | None:
    user_id = resolve_user_id(request)
    if not user_id:
        return None
    return user_id, resolve_organization_id(request)


def _consent_error(request: HttpRequest) -> str | None:
    error = request.GET.get("error")
    if error not in CONSENT_ERRORS or is_htmx(request) or wants_json(request):
        return None
    return error


def _grant(
    request: HttpRequest,
    provider: str,
    token: AccessToken | Credential,
    identity: tuple[str, str | None],
) -> None:
    granted = getattr(request, "pipes", None)
    if not isinstance(granted, RequestPipes):
        granted = request.pipes = RequestPipes(*identity)  # type: ignore[attr-defined]
    granted[provider] = token


def _required_scopes(scopes: Iterable[str] | None) -> tuple[str, ...]:
    if isinstance(scopes, str):
        raise TypeError(f"scopes must be a list of scope names, not the string {scopes!r}.")
    return tuple(scopes or ())
