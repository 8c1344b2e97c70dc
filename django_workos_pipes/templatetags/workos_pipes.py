"""``{% load workos_pipes %}``: connection status, connections and flow links in templates.

``{% pipe_status "salesforce" as sf %}`` gives a :class:`~django_workos_pipes.status.PipeStatus`
(never the token), read through the service's cache like any other lookup, so a page
listing ten providers costs ten cache reads; ``credentials=True`` reads the credentials
call instead, for API-key providers and the provider's ``config`` (never the key). With
WorkOS down it costs at most one ``TIMEOUT``: the tag asks without retries, and the
circuit breaker answers the rest.
``{% pipe_connections as connections %}`` gives the user's
:class:`~django_workos_pipes.results.Connection` list (one cache read),
``{% pipe_organization_connections as shared %}`` their organization's.
``{% pipe_connect_url "salesforce" %}`` and ``{% pipe_reauthorize_url "salesforce" %}``
link to the flows, ``{% pipe_disconnect_url "salesforce" %}`` is a disconnect form's
action, each with ``next`` = this page. ``owner="organization"`` makes the status and
the flows about the organization's shared connection; ``{% pipe_organization_admin %}``
says whether the user may manage it. ``pipe_select_account_url``,
``pipe_choose_account_url`` and ``pipe_chosen_account`` serve several accounts of one
provider. All of them take the user from ``request`` in the context.
"""

from __future__ import annotations

import enum
import logging

from django import template
from django.http import HttpRequest

from .. import service
from ..exceptions import LinkRefused, PipesAPIError, PipesConfigurationError, PipesUnavailable
from ..identity import is_organization_admin, resolve_organization_id, resolve_user_id
from ..owners import ORGANIZATION, USER, check_owner
from ..providers import provider_name
from ..redirects import (
    choose_account_url,
    connect_url,
    disconnect_url,
    reauthorize_url,
    select_account_url,
    without_oauth_error,
)
from ..results import Connection
from ..selection import chosen_account
from ..status import PipeStatus

register = template.Library()
logger = logging.getLogger(__name__)


class _FromRequest(enum.Enum):
    """Marks an argument left out, as opposed to one given as None."""

    FROM_REQUEST = enum.auto()


FROM_REQUEST = _FromRequest.FROM_REQUEST


@register.simple_tag(takes_context=True)
def pipe_status(
    context: template.Context,
    provider: str,
    *,
    user_id: str | _FromRequest | None = FROM_REQUEST,
    organization_id: str | _FromRequest | None = FROM_REQUEST,
    credentials: bool = False,
    owner: str = USER,
) -> PipeStatus:
    """The status of a connection; ``error`` is ``"unknown"`` while WorkOS is unavailable
    (asked once, without retries), ``"anonymous"`` when there is no user to look up,
    ``"not_linked"`` when the logged-in user can't be linked to a WorkOS user (the
    connect link explains why), and ``"organization_required"`` for an organization's
    connection (``owner="organization"``) without an organization.

    By default the user and organization come from the resolvers, and the account is the
    one the user chose (of several). With ``user_id`` given
    (an admin page showing someone else's connection), ``organization_id`` is None unless
    given too: the request's organization is the viewer's, not that user's.

    With ``credentials=True`` the status comes from ``pipes.get_credentials``: for an
    API-key provider, and to show ``auth_method`` and the provider's ``config``.
    """
    whose = check_owner(owner)
    get = service.pipes.get_credentials if credentials else service.pipes.get_access_token
    try:
        user, organization = _identity(context, user_id, organization_id, "pipe_status")
        if not user:
            return PipeStatus.anonymous(provider)
        if whose == ORGANIZATION and not organization:
            return PipeStatus.organization_required(provider)
        account = None
        if user_id is FROM_REQUEST:
            request = _request(context, "pipe_status")
            account = chosen_account(request, provider, owner=whose, organization_id=organization)
        # No retries: a page shows "unknown" rather than wait; and after one failure
        # the breaker answers the page's other tags at once.
        result = get(
            provider,
            user_id=user,
            organization_id=organization,
            owner=whose,
            connected_account_id=account,
            max_retries=0,
        )
    except LinkRefused:
        return PipeStatus.not_linked(provider)
    except (PipesUnavailable, PipesAPIError) as exc:
        logger.warning("pipe_status for provider=%s shows 'unknown': %s", provider, exc)
        return PipeStatus.unknown(provider)
    return PipeStatus.from_result(provider, result)


@register.filter
def pipe_provider_name(slug: str) -> str:
    """``{{ "hubspot"|pipe_provider_name }}`` -> ``HubSpot`` (see ``PROVIDER_NAMES``)."""
    return provider_name(str(slug))


@register.simple_tag(takes_context=True)
def pipe_connections(
    context: template.Context,
    *,
    user_id: str | _FromRequest | None = FROM_REQUEST,
    organization_id: str | _FromRequest | None = FROM_REQUEST,
) -> tuple[Connection, ...] | None:
    """Every provider configured in WorkOS with the user's connection to each (nothing
    secret: no token is ever part of a listing), through the service's cache.

    Empty when there is no user to look up; None while WorkOS is unavailable, so a
    template can say so (``{% if connections is None %}``), and ``{% for %}`` over it
    simply shows nothing. ``user_id`` / ``organization_id`` as for ``pipe_status``.
    """
    try:
        user, organization = _identity(context, user_id, organization_id, "pipe_connections")
        if not user:
            return ()
        return service.pipes.list_connections(user, organization_id=organization)
    except LinkRefused:
        return ()  # nothing to list: a connect link shows the user why
    except (PipesUnavailable, PipesAPIError) as exc:
        logger.warning("pipe_connections shows nothing: %s", exc)
        return None


@register.simple_tag(takes_context=True)
def pipe_organization_connections(
    context: template.Context, *, organization_id: str | _FromRequest | None = FROM_REQUEST
) -> tuple[Connection, ...] | None:
    """The organization's shared connections (``pipes.list_organization_connections``),
    by default of the request's organization: empty without one, None while WorkOS is
    unavailable."""
    try:
        if organization_id is FROM_REQUEST:
            request = _request(context, "pipe_organization_connections")
            user = resolve_user_id(request)
            organization_id = resolve_organization_id(request) if user else None
        if not organization_id:
            return ()
        return service.pipes.list_organization_connections(organization_id)
    except LinkRefused:
        return ()
    except (PipesUnavailable, PipesAPIError) as exc:
        logger.warning("pipe_organization_connections shows nothing: %s", exc)
        return None


@register.simple_tag(takes_context=True)
def pipe_organization_admin(context: template.Context) -> bool:
    """Whether the request's user may connect, reauthorize or disconnect their
    organization's connections (``ORGANIZATION_ADMIN_RESOLVER``): to show those actions
    to administrators only."""
    request = _request(context, "pipe_organization_admin")
    try:
        return bool(resolve_organization_id(request)) and is_organization_admin(request)
    except LinkRefused:
        return False


@register.simple_tag(takes_context=True)
def pipe_chosen_account(context: template.Context, provider: str, owner: str = USER) -> str | None:
    """The id of the account (of several) the request's user chose for ``provider``, or
    None."""
    request = _request(context, "pipe_chosen_account")
    try:
        organization_id = resolve_organization_id(request)
    except LinkRefused:
        return None
    return chosen_account(
        request, provider, owner=check_owner(owner), organization_id=organization_id
    )


@register.simple_tag(takes_context=True)
def pipe_connect_url(
    context: template.Context, provider: str, next: str | None = None, owner: str = USER
) -> str:
    """The connect flow's URL, coming back to ``next`` (by default, this page)."""
    back = _next(context, next, "pipe_connect_url")
    return connect_url(provider, back, owner=check_owner(owner))


@register.simple_tag(takes_context=True)
def pipe_reauthorize_url(
    context: template.Context,
    provider: str,
    next: str | None = None,
    owner: str = USER,
    account: str | None = None,
) -> str:
    """The reauthorize flow's URL (of ``account``, one of several), coming back to
    ``next`` (by default, this page)."""
    back = _next(context, next, "pipe_reauthorize_url")
    return reauthorize_url(provider, back, owner=check_owner(owner), account_id=account)


@register.simple_tag(takes_context=True)
def pipe_disconnect_url(
    context: template.Context,
    provider: str,
    next: str | None = None,
    owner: str = USER,
    account: str | None = None,
) -> str:
    """The action of a disconnect form (POST, with ``{% csrf_token %}``), coming back to
    ``next`` (by default, this page); ``account`` names one of several accounts."""
    back = _next(context, next, "pipe_disconnect_url")
    return disconnect_url(provider, back, owner=check_owner(owner), account_id=account)


@register.simple_tag(takes_context=True)
def pipe_select_account_url(
    context: template.Context, provider: str, next: str | None = None, owner: str = USER
) -> str:
    """The page where the user picks one of several accounts (``SELECT_ACCOUNT_URL``),
    coming back to ``next`` (by default, this page)."""
    back = _next(context, next, "pipe_select_account_url")
    return select_account_url(provider, back, owner=check_owner(owner))


@register.simple_tag(takes_context=True)
def pipe_choose_account_url(
    context: template.Context, provider: str, next: str | None = None
) -> str:
    """The action of a form that POSTs the chosen ``account`` (with ``owner`` for an
    organization's), coming back to ``next`` (by default, this page)."""
    return choose_account_url(provider, _next(context, next, "pipe_choose_account_url"))


def _identity(
    context: template.Context,
    user_id: str | _FromRequest | None,
    organization_id: str | _FromRequest | None,
    tag: str,
) -> tuple[str | None, str | None]:
    if user_id is FROM_REQUEST:
        request = _request(context, tag)
        user_id = resolve_user_id(request)
        if organization_id is FROM_REQUEST:
            organization_id = resolve_organization_id(request) if user_id else None
    if organization_id is FROM_REQUEST:
        organization_id = None
    return user_id, organization_id


def _next(context: template.Context, next_url: str | None, tag: str) -> str:
    """The page to come back to; by default this one, minus a refused consent's error."""
    if next_url is not None:
        return next_url
    return without_oauth_error(_request(context, tag).get_full_path())


def _request(context: template.Context, tag: str) -> HttpRequest:
    request = context.get("request")
    if not isinstance(request, HttpRequest):
        raise PipesConfigurationError(
            f"{{% {tag} %}} needs the request in the template context: add "
            "'django.template.context_processors.request' to the 'context_processors' "
            "of your TEMPLATES setting, and render the template with the request."
        )
    return request
