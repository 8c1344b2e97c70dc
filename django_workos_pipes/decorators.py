"""``require_pipe``: a view runs only for a user whose connection is active and scoped.

The decision lives in two plain functions shared by the decorator, the mixin and any
other caller: :func:`check_pipe` (sync) and :func:`acheck_pipe` (async). Each returns
None when the view may run, the token (or, with ``credentials=True``, the
:class:`~django_workos_pipes.results.Credential`) then being in
``request.pipes[provider]``, or the response to give instead: login, connect,
reauthorize, pick an account (of several), the 403 for an organization's connection
without an organization, or the 503 page.

The connection is the user's own, or (``owner="organization"``) their organization's.
An account the user picked on the connections page (:mod:`.selection`) is asked for by
name; one WorkOS no longer has is forgotten and the default asked for instead.

A view that lets :class:`PipesReauthorizationRequired` escape (its provider session met
a connection only the user can fix) is answered like an inactive connection: the user
is sent to reauthorize, never shown a 500. :func:`recover` and :func:`arecover` do it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
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
    ORGANIZATION_REQUIRED,
    client_redirect,
    denied,
    is_htmx,
    login_required,
    not_linked,
    organization_refused,
    unavailable,
    wants_json,
)
from .identity import resolve_organization_id, resolve_user_id
from .owners import ORGANIZATION, USER, Owner, check_owner
from .redirects import connect_url, reauthorize_url, select_account_url, without_oauth_error
from .results import (
    ACCOUNT_SELECTION_REQUIRED,
    NEEDS_REAUTHORIZATION,
    NOT_INSTALLED,
    AccessToken,
    Credential,
    CredentialResult,
    TokenResult,
)
from .selection import chosen_account, forget_account

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
    provider, and provider sessions bound to the request's user and organization (and to
    the owner and account each was granted for)."""

    def __init__(self, user_id: str, organization_id: str | None) -> None:
        super().__init__()
        self.user_id = user_id
        self.organization_id = organization_id
        self.owners: dict[str, tuple[Owner, str | None]] = {}
        """Provider -> (owner, account id) of each grant."""

    def session(self, provider: str) -> requests.Session:
        """``pipes.session(provider, ...)`` for this request's user and organization, and
        for the connection ``require_pipe`` granted (the organization's, an account)."""
        owner, account_id = self.owners.get(provider, (USER, None))
        return service.pipes.session(
            provider,
            user_id=self.user_id,
            organization_id=self.organization_id,
            owner=owner,
            connected_account_id=account_id,
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
    owner: Owner = USER

    def url(self, next_url: str) -> str:
        if self.error == ACCOUNT_SELECTION_REQUIRED:
            return select_account_url(self.provider, next_url, owner=self.owner)
        build = reauthorize_url if self.reauthorize else connect_url
        return build(self.provider, next_url, owner=self.owner)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "provider": self.provider}
        if self.owner != USER:
            body["owner"] = self.owner
        if self.missing_scopes:
            body["missing_scopes"] = list(self.missing_scopes)
        return body


def require_pipe(
    provider: str,
    *,
    scopes: Iterable[str] | None = None,
    credentials: bool = False,
    owner: Owner = USER,
) -> Callable[[_View], _View]:
    """Run the view only once the ``provider`` connection is active and has every scope
    in ``scopes``; the token is then ``request.pipes[provider]``.

    The connection is the user's own, or with ``owner="organization"`` their
    organization's, shared by its members (a request with no organization gets a 403).

    With ``credentials=True`` it is the connection's
    :class:`~django_workos_pipes.results.Credential` instead (``pipes.get_credentials``):
    the secret of an OAuth, API-key or client-credentials connection, with the
    provider's ``config``. API keys have no scopes, so ``scopes`` fits OAuth only.

    Works on sync and async views (an async view stays a coroutine function) and with
    ``method_decorator``. Stacked, the outermost decorator is checked first.
    """
    required = _required_scopes(scopes)
    owner = check_owner(owner)

    def decorator(view: _View) -> _View:
        if iscoroutinefunction(view):

            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                response = await acheck_pipe(request, provider, required, credentials, owner=owner)
                if response is not None:
                    return response
                return await arecover(request, view(request, *args, **kwargs))

            return cast(_View, functools.wraps(view)(async_wrapper))

        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            response = check_pipe(request, provider, required, credentials, owner=owner)
            if response is not None:
                return response
            return recover(request, view, *args, **kwargs)

        return cast(_View, functools.wraps(view)(wrapper))

    return decorator


def check_pipe(
    request: HttpRequest,
    provider: str,
    scopes: tuple[str, ...] = (),
    credentials: bool = False,
    *,
    owner: Owner = USER,
) -> HttpResponse | None:
    """None if the view may run (the token, or with ``credentials`` the credential, is
    then in ``request.pipes``), else the answer.

    WorkOS down, or refusing the call (a revoked API key, say), is a 503 page, logged;
    the visitor did nothing wrong, so it is never a 500. A user the resolver refuses to
    link gets the page that says why (``workos_pipes/not_linked.html``).
    """
    get = service.pipes.get_credentials if credentials else service.pipes.get_access_token
    try:
        asked = _whom(request, provider, check_owner(owner))
        if not isinstance(asked, _Asked):
            return asked
        result = get(provider, **asked.whose)
        if _stale_choice(asked, result):
            forget_account(request, provider, **asked.slot)
            asked = asked.without_account()
            result = get(provider, **asked.whose)
    except LinkRefused as refusal:
        return not_linked(request, refusal)
    except (PipesUnavailable, PipesAPIError) as exc:
        return unavailable(request, provider, exc)
    outcome = decide(provider, scopes, result, owner=asked.owner)
    if isinstance(outcome, Refusal):
        return refuse(request, outcome)
    _grant(request, outcome, asked)
    return None


async def acheck_pipe(
    request: HttpRequest,
    provider: str,
    scopes: tuple[str, ...] = (),
    credentials: bool = False,
    *,
    owner: Owner = USER,
) -> HttpResponse | None:
    """:func:`check_pipe` for async views: nothing here blocks the event loop.

    The resolvers run in a worker thread, since ``request.user`` is lazy and loading it
    queries the database (as may a custom resolver, and the session holding the chosen
    account). So does rendering a refusal, whose templates can be overridden by
    templates that touch the database.
    """
    get = service.pipes.aget_credentials if credentials else service.pipes.aget_access_token
    try:
        asked = await sync_to_async(_whom)(request, provider, check_owner(owner))
        if not isinstance(asked, _Asked):
            return asked
        result = await get(provider, **asked.whose)
        if _stale_choice(asked, result):
            await sync_to_async(forget_account)(request, provider, **asked.slot)
            asked = asked.without_account()
            result = await get(provider, **asked.whose)
    except LinkRefused as refusal:
        return await sync_to_async(not_linked)(request, refusal)
    except (PipesUnavailable, PipesAPIError) as exc:
        return await sync_to_async(unavailable)(request, provider, exc)
    outcome = decide(provider, scopes, result, owner=asked.owner)
    if isinstance(outcome, Refusal):
        return await sync_to_async(refuse)(request, outcome)
    _grant(request, outcome, asked)
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
    provider: str,
    scopes: tuple[str, ...],
    result: TokenResult | CredentialResult,
    *,
    owner: Owner = USER,
) -> AccessToken | Credential | Refusal:
    """The token (or credential) if the connection is active with every scope; otherwise
    why not.

    ``needs_reauthorization`` and a missing scope are fixed by reauthorizing,
    ``account_selection_required`` by picking an account; every other error
    (``not_installed``, or a code WorkOS adds later) by connecting.
    """
    token = result.granted
    if token is not None:
        if token.has_scopes(scopes):
            return token
        granted = set(token.scopes) - set(token.missing_scopes)
        missing = tuple(scope for scope in scopes if scope not in granted)
        return Refusal(
            provider, "missing_scopes", reauthorize=True, missing_scopes=missing, owner=owner
        )
    error = result.error or "unknown"
    return Refusal(provider, error, reauthorize=error == NEEDS_REAUTHORIZATION, owner=owner)


def _refusal_for(request: HttpRequest, exc: PipesReauthorizationRequired) -> Refusal | None:
    """The refusal that sends this request's user to fix ``exc``; None if it is about
    someone else's connection."""
    granted = getattr(request, "pipes", None)
    if not isinstance(granted, RequestPipes) or not granted.concerns(exc):
        return None
    logger.info("%s; sending the user to fix it", exc)
    fixable = exc.error in (NEEDS_REAUTHORIZATION, PROVIDER_REJECTED_TOKEN)
    return Refusal(exc.provider, exc.error, reauthorize=fixable, owner=check_owner(exc.owner))


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


@dataclass(frozen=True)
class _Asked:
    """The connection a request asks for: whose, and which account the user chose."""

    provider: str
    user_id: str
    organization_id: str | None
    owner: Owner
    account_id: str | None

    @property
    def slot(self) -> dict[str, Any]:
        """Where the chosen account is remembered (:mod:`.selection`'s arguments)."""
        return {"owner": self.owner, "organization_id": self.organization_id}

    @property
    def whose(self) -> dict[str, Any]:
        """The service's keyword arguments for this connection."""
        return {
            "user_id": self.user_id,
            "organization_id": self.organization_id,
            "owner": self.owner,
            "connected_account_id": self.account_id,
        }

    def without_account(self) -> _Asked:
        return replace(self, account_id=None)


def _whom(request: HttpRequest, provider: str, owner: Owner) -> _Asked | HttpResponse:
    """Who asks for which connection, or the answer when nobody can: log in first, or
    (an organization's connection) belong to an organization first. Raises
    :class:`LinkRefused` as the resolvers do."""
    identity = _identity(request)
    if identity is None:
        return login_required(request)
    user_id, organization_id = identity
    if owner == ORGANIZATION and not organization_id:
        return organization_refused(request, provider, ORGANIZATION_REQUIRED)
    account_id = chosen_account(request, provider, owner=owner, organization_id=organization_id)
    return _Asked(provider, user_id, organization_id, owner, account_id)


def _stale_choice(asked: _Asked, result: TokenResult | CredentialResult) -> bool:
    """A chosen account WorkOS no longer has: the choice is forgotten and the default
    account asked for instead, once."""
    return asked.account_id is not None and not result.active and result.error == NOT_INSTALLED


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


def _grant(request: HttpRequest, granted_now: AccessToken | Credential, asked: _Asked) -> None:
    granted = getattr(request, "pipes", None)
    if not isinstance(granted, RequestPipes):
        granted = request.pipes = RequestPipes(  # type: ignore[attr-defined]
            asked.user_id, asked.organization_id
        )
    granted[asked.provider] = granted_now
    granted.owners[asked.provider] = (asked.owner, asked.account_id)


def _required_scopes(scopes: Iterable[str] | None) -> tuple[str, ...]:
    if isinstance(scopes, str):
        raise TypeError(f"scopes must be a list of scope names, not the string {scopes!r}.")
    return tuple(scopes or ())
