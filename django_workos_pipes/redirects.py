"""Where a user goes to connect a provider, and where they may be sent back to.

``CONNECT_URL``, ``REAUTHORIZE_URL`` and ``SELECT_ACCOUNT_URL`` may each be a URL name
(reversed with the provider), a path or an absolute URL; ``{provider}`` in a path or URL
is replaced with the provider slug. The page to come back to travels as ``next``, merged
into any query the configured URL already has, exactly as ``redirect_to_login`` does it;
an organization's connection adds ``owner=organization``, one of several accounts
``account=<id>``.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from django.http import HttpRequest, QueryDict
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from .conf import app_settings
from .exceptions import PipesConfigurationError
from .owners import USER, Owner, check_owner

# What an OAuth authorization server appends to the redirect URI when it refuses
# (RFC 6749, section 4.1.2.1): the error, and the request's ``state`` beside it.
OAUTH_ERROR_PARAMS = ("error", "error_description", "error_uri", "state")


def connect_url(provider: str, next_url: str | None = None, *, owner: Owner = USER) -> str:
    """The page that starts the connect flow for ``provider`` (the organization's
    connection with ``owner="organization"``)."""
    query = _flow_query(owner, None, next_url)
    return _with_query(_resolve("CONNECT_URL", app_settings.CONNECT_URL, provider), query)


def reauthorize_url(
    provider: str,
    next_url: str | None = None,
    *,
    owner: Owner = USER,
    account_id: str | None = None,
) -> str:
    """The page that starts the reauthorize flow for ``provider`` (``account_id``: one
    of several accounts)."""
    query = _flow_query(owner, account_id, next_url)
    return _with_query(_resolve("REAUTHORIZE_URL", app_settings.REAUTHORIZE_URL, provider), query)


def disconnect_url(
    provider: str,
    next_url: str | None = None,
    *,
    owner: Owner = USER,
    account_id: str | None = None,
) -> str:
    """Where a form POSTs to disconnect ``provider`` (``workos_pipes:disconnect``)."""
    path = reverse("workos_pipes:disconnect", kwargs={"provider": provider})
    return _with_query(path, _flow_query(owner, account_id, next_url))


def select_account_url(provider: str, next_url: str | None = None, *, owner: Owner = USER) -> str:
    """The page where the user picks one of their (or their organization's) accounts of
    ``provider`` (``SELECT_ACCOUNT_URL``), told which provider as ``provider``."""
    page = _resolve("SELECT_ACCOUNT_URL", app_settings.SELECT_ACCOUNT_URL, provider)
    return _with_query(page, {"provider": provider, **_flow_query(owner, None, next_url)})


def choose_account_url(provider: str, next_url: str | None = None) -> str:
    """Where a form POSTs the chosen ``account`` (``workos_pipes:choose_account``)."""
    path = reverse("workos_pipes:choose_account", kwargs={"provider": provider})
    return _with_query(path, {"next": next_url})


def safe_next(request: HttpRequest, default: str | None = None) -> str:
    """The ``next`` the request asks for, if it stays on this site; else ``default``, or
    ``LOGIN_REDIRECT_URL`` without one.

    Read from POST, then GET, like ``LoginView``. A foreign host or scheme
    (``//evil.com``, ``https:evil.com``, ``javascript:``...) is never returned.
    """
    candidate = request.POST.get("next", request.GET.get("next", ""))
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default if default is not None else resolve_url(settings.LOGIN_REDIRECT_URL)


def without_oauth_error(url: str) -> str:
    """``url`` without the parameters a refused consent appended to it.

    Only a URL that carries ``error`` is touched: a page's own ``state`` parameter is
    left alone otherwise.
    """
    parts = urlsplit(url)
    query = QueryDict(parts.query, mutable=True)
    if "error" not in query:
        return url
    for name in OAUTH_ERROR_PARAMS:
        query.pop(name, None)
    return urlunsplit(parts._replace(query=query.urlencode(safe="/")))


def _flow_query(
    owner: Owner, account_id: str | None, next_url: str | None
) -> dict[str, str | None]:
    """What a flow's URL carries: the owner when it is the organization, the account when
    one is named, and the page to come back to."""
    return {
        "owner": owner if check_owner(owner) != USER else None,
        "account": account_id or None,
        "next": next_url,
    }


def _with_query(url: str, values: dict[str, str | None]) -> str:
    """``url`` with ``values`` (None ones left out) merged into its query."""
    given = {name: value for name, value in values.items() if value is not None}
    if not given:
        return url
    parts = urlsplit(url)
    query = QueryDict(parts.query, mutable=True)
    for name, value in given.items():
        query[name] = value
    return urlunsplit(parts._replace(query=query.urlencode(safe="/")))


def _resolve(setting: str, value: str, provider: str) -> str:
    """A path or URL (it has a ``/``) is used as is; anything else is a URL name.

    A URL name is reversed with ``provider`` first, then without arguments (a page that
    lists every connection, say).
    """
    if "/" in value:
        return value.replace("{provider}", quote(provider, safe=""))
    for kwargs in ({"provider": provider}, None):
        try:
            return reverse(value, kwargs=kwargs)
        except NoReverseMatch:
            continue
    raise PipesConfigurationError(
        f"WORKOS_PIPES['{setting}'] = {value!r} is neither a path, an absolute URL, nor a "
        "URL name that reverses (with a 'provider' argument or none)."
    )
