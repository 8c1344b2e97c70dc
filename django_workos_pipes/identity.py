"""Who is asking: the WorkOS user and organization behind a Django request.

The resolvers are settings (``USER_ID_RESOLVER``, ``ORGANIZATION_ID_RESOLVER``): a
callable or a dotted path, taking the request and returning an id or None. Three ways
to give the WorkOS user id:

- the defaults read ``request.user.workos_user_id`` and
  ``request.user.workos_organization_id`` (a model field or property: a site that
  signs its users in with WorkOS stores the id there);
- :func:`linked_user_id` links Django's own users to WorkOS users through WorkOS's
  ``external_id`` (by default ``str(user.pk)``), creating them with
  ``PROVISION_USERS``; :func:`linked_organization_id` does the same lookup for
  organizations, without creating any;
- any callable of the project's own.

Each gives None for anonymous users. A logged-in user for whom the resolver gives no id
is treated as anonymous, and a warning naming ``USER_ID_RESOLVER`` is logged, once per
process and user.

``ORGANIZATION_ADMIN_RESOLVER`` (request -> bool) says who may manage an
organization's shared connections; unset, nobody may.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from . import service
from .conf import app_settings
from .exceptions import PipesConfigurationError, PipesError

logger = logging.getLogger(__name__)

DEFAULT_USER_ID_RESOLVER = "django_workos_pipes.identity.default_user_id"
LINKED_USER_ID_RESOLVER = "django_workos_pipes.identity.linked_user_id"
LINKED_ORGANIZATION_ID_RESOLVER = "django_workos_pipes.identity.linked_organization_id"
_USER_MEMO = "_workos_pipes_user_link"
_ORGANIZATION_MEMO = "_workos_pipes_organization_link"
_WARNED_LIMIT = 10_000

_warned: set[Any] = set()
_warned_lock = threading.Lock()


def default_user_id(request: HttpRequest) -> str | None:
    return _user_attribute(request, "workos_user_id")


def default_organization_id(request: HttpRequest) -> str | None:
    return _user_attribute(request, "workos_organization_id")


def default_external_id(user: Any) -> str:
    """The ``external_id`` a Django user has in WorkOS: its primary key, as a string."""
    return str(user.pk)


def linked_user_id(request: HttpRequest) -> str | None:
    """The WorkOS user linked to the logged-in Django user through ``external_id``.

    ``USER_EXTERNAL_ID`` gives the user's ``external_id``; the WorkOS user with that
    ``external_id`` is looked up, or created with ``PROVISION_USERS`` (e-mail, first
    and last name, ``external_id``). Never by e-mail alone. Resolved once per request
    and cached (``USER_LINK_TTL``) for every process sharing the cache.

    Raises :class:`~django_workos_pipes.exceptions.LinkRefused` when the user can't be
    linked (the app's views show ``workos_pipes/not_linked.html``), and
    ``PipesUnavailable`` / ``PipesAPIError`` when WorkOS can't answer (a 503).
    """
    user = _authenticated_user(request)
    if user is None:
        return None
    return _memoised(request, _USER_MEMO, user.pk, lambda: _link_user(user))


def linked_organization_id(request: HttpRequest) -> str | None:
    """The WorkOS organization whose ``external_id`` is ``ORGANIZATION_EXTERNAL_ID(request)``.

    None when that callable gives None (the connection is then the user's own). The
    organization is looked up, never created; none with that ``external_id`` is a
    :class:`~django_workos_pipes.exceptions.LinkRefused` (``organization_not_found``).
    """
    user = _authenticated_user(request)
    if user is None:
        return None
    external_id_of = app_settings.ORGANIZATION_EXTERNAL_ID
    if external_id_of is None:
        raise PipesConfigurationError(
            "linked_organization_id needs WORKOS_PIPES['ORGANIZATION_EXTERNAL_ID']: a "
            "callable taking the request and giving the organization's external_id."
        )
    external_id = external_id_of(request)
    if not external_id:
        return None
    return _memoised(
        request,
        _ORGANIZATION_MEMO,
        (user.pk, external_id),
        lambda: service.pipes.link_organization(str(external_id)),
    )


def resolve_user_id(request: HttpRequest) -> str | None:
    user_id = app_settings.USER_ID_RESOLVER(request)
    if not user_id:
        _warn_unresolved(request)
    return user_id


def resolve_organization_id(request: HttpRequest) -> str | None:
    return app_settings.ORGANIZATION_ID_RESOLVER(request)


def is_organization_admin(request: HttpRequest) -> bool:
    """Whether this request's user may connect, reauthorize or disconnect their
    organization's shared connections: ``ORGANIZATION_ADMIN_RESOLVER``'s answer, and
    no one's while it is unset (members use those connections either way)."""
    resolver = app_settings.ORGANIZATION_ADMIN_RESOLVER
    return resolver is not None and resolver(request) is True


def _link_user(user: Any) -> str | None:
    external_id = app_settings.USER_EXTERNAL_ID(user)
    if not external_id:
        return None
    return service.pipes.link_user(
        str(external_id),
        email=_string_attribute(user, _email_field(user)),
        first_name=_string_attribute(user, "first_name"),
        last_name=_string_attribute(user, "last_name"),
    )


def _memoised(
    request: HttpRequest, name: str, key: Any, resolve: Callable[[], str | None]
) -> str | None:
    """``resolve()`` once per request and ``key``: its id, or the error it raised.

    The decorator, the mixin and every ``pipe_status`` of a page ask again; a failure
    (WorkOS down, a refusal) is not retried within the request either.
    """
    memo = getattr(request, name, None)
    if memo is None or memo[0] != key:
        try:
            memo = (key, resolve(), None)
        except PipesError as exc:
            memo = (key, None, exc)
        setattr(request, name, memo)
    if memo[2] is not None:
        raise memo[2]
    return memo[1]


def _warn_unresolved(request: HttpRequest) -> None:
    """A logged-in user with no WorkOS id is treated as anonymous: say so, once per
    process and user, since nothing else would."""
    user = _authenticated_user(request)
    if user is None:
        return
    with _warned_lock:
        if user.pk in _warned:
            return
        if len(_warned) >= _WARNED_LIMIT:
            _warned.clear()
        _warned.add(user.pk)
    logger.warning(
        "WORKOS_PIPES['USER_ID_RESOLVER'] (%s) gave no WorkOS user id for logged-in user "
        "pk=%s, so this app treats them as anonymous (sent to LOGIN_URL, pipe_status "
        "'anonymous'). Django's own users have no workos_user_id: set USER_ID_RESOLVER to "
        "%r to link them to WorkOS users, or give a resolver of your own. Logged once per "
        "user and process.",
        _resolver_name(),
        user.pk,
        LINKED_USER_ID_RESOLVER,
    )


def _resolver_name() -> str:
    value = app_settings.get("USER_ID_RESOLVER")
    if isinstance(value, str):
        return value
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', value)}"


def _authenticated_user(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return user


def _user_attribute(request: HttpRequest, name: str) -> str | None:
    user = _authenticated_user(request)
    if user is None:
        return None
    value = getattr(user, name, None)
    return str(value) if value else None


def _email_field(user: Any) -> str:
    get_name = getattr(user, "get_email_field_name", None)
    return get_name() if callable(get_name) else "email"


def _string_attribute(user: Any, name: str) -> str | None:
    value = getattr(user, name, None)
    return value.strip() or None if isinstance(value, str) else None
