"""Who is asking: the WorkOS user and organization behind a Django request.

The resolvers are settings (``USER_ID_RESOLVER``, ``ORGANIZATION_ID_RESOLVER``): a
callable or a dotted path, taking the request and returning an id or None. The
defaults read ``request.user.workos_user_id`` and ``request.user.workos_organization_id``
(a model field or property), and give None for anonymous users.

``ORGANIZATION_ADMIN_RESOLVER`` (request -> bool) says who may manage an
organization's shared connections; unset, nobody may.
"""

from __future__ import annotations

from django.http import HttpRequest

from .conf import app_settings


def default_user_id(request: HttpRequest) -> str | None:
    return _user_attribute(request, "workos_user_id")


def default_organization_id(request: HttpRequest) -> str | None:
    return _user_attribute(request, "workos_organization_id")


def _user_attribute(request: HttpRequest, name: str) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    value = getattr(user, name, None)
    return str(value) if value else None


def resolve_user_id(request: HttpRequest) -> str | None:
    return app_settings.USER_ID_RESOLVER(request)


def resolve_organization_id(request: HttpRequest) -> str | None:
    return app_settings.ORGANIZATION_ID_RESOLVER(request)


def is_organization_admin(request: HttpRequest) -> bool:
    """Whether this request's user may connect, reauthorize or disconnect their
    organization's shared connections: ``ORGANIZATION_ADMIN_RESOLVER``'s answer, and
    no one's while it is unset (members use those connections either way)."""
    resolver = app_settings.ORGANIZATION_ADMIN_RESOLVER
    return resolver is not None and resolver(request) is True
