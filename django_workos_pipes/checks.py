"""System checks: configuration mistakes reported by ``manage.py check``, with stable IDs.

No check touches the network or the cache; they read settings, and import modules
(resolvers, the cache backend's client library) that requests would import anyway.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from .caching import crypto
from .caching.backends import install_hint, missing_module
from .conf import BY_NAME, app_settings
from .exceptions import PipesConfigurationError
from .identity import (
    DEFAULT_USER_ID_RESOLVER,
    LINKED_ORGANIZATION_ID_RESOLVER,
    LINKED_USER_ID_RESOLVER,
    default_user_id,
    linked_organization_id,
)

PROCESS_LOCAL_BACKENDS = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
NON_NEGATIVE = (
    "EXPIRY_LEEWAY",
    "TOKEN_TTL",
    "INACTIVE_TTL",
    "CONNECTIONS_TTL",
    "MAX_RETRIES",
    "BACKOFF_MAX",
    "USER_LINK_TTL",
    "WORKOS_BREAKER_SECONDS",
    "CACHE_BREAKER_SECONDS",
)
RESOLVERS = (
    "USER_ID_RESOLVER",
    "ORGANIZATION_ID_RESOLVER",
    "ORGANIZATION_ADMIN_RESOLVER",
    "USER_EXTERNAL_ID",
    "ORGANIZATION_EXTERNAL_ID",
)
POSITIVE = ("TIMEOUT", "WEBHOOK_TOLERANCE")


@register(Tags.compatibility)
def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    if not isinstance(getattr(settings, "WORKOS_PIPES", None) or {}, Mapping):
        return [
            Error(
                "settings.WORKOS_PIPES must be a dict.",
                hint="WORKOS_PIPES = {} is a start: it reads WORKOS_API_KEY and "
                "WORKOS_WEBHOOK_SECRET from the environment (see the README's Quick start).",
                id="workos_pipes.E007",
            )
        ]
    return [
        *_check_api_key(),
        *_check_base_url(),
        *_check_numbers(),
        *_check_resolvers(),
        *_check_webhook_secret(),
        *_check_encryption_keys(),
    ]


@register(Tags.caches)
def check_cache(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    alias = app_settings.CACHE_ALIAS
    caches = getattr(settings, "CACHES", {})
    if alias not in caches:
        return [
            Error(
                f"WORKOS_PIPES['CACHE_ALIAS'] is {alias!r}, which is not in settings.CACHES.",
                hint=f"Add a {alias!r} cache to CACHES or set CACHE_ALIAS to one of "
                f"{sorted(caches)}.",
                id="workos_pipes.E002",
            )
        ]
    backend = caches[alias].get("BACKEND", "")
    missing = missing_module(backend) if backend else None
    if missing is not None:
        return [
            Error(
                f"The {alias!r} cache ({backend}) needs the Python module {missing!r}, "
                "which is not installed: every token request would skip the cache and "
                "every webhook would be refused with a 503.",
                hint=install_hint(missing),
                id="workos_pipes.E008",
            )
        ]
    if backend in PROCESS_LOCAL_BACKENDS and not settings.DEBUG:
        return [
            Warning(
                f"The {alias!r} cache ({backend.rsplit('.', 1)[-1]}) is local to each process: "
                "tokens are fetched once per process, and webhook invalidations reach only "
                "the process that received them.",
                hint="Use a shared cache (Redis or Memcached) in production, or silence "
                "workos_pipes.W001 if you run a single process.",
                id="workos_pipes.W001",
            )
        ]
    return []


@register(Tags.compatibility)
def check_user_model(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """The default resolver reads ``user.workos_user_id``: a user model without one would
    make every logged-in user anonymous to this app."""
    if not _default_user_resolver():
        return []
    try:
        user_model = get_user_model()
    except (ImproperlyConfigured, LookupError):
        return []  # django.contrib.auth is not installed: there are no users to resolve
    if hasattr(user_model, "workos_user_id"):
        return []
    label = user_model._meta.label
    return [
        Warning(
            f"WORKOS_PIPES['USER_ID_RESOLVER'] is the default, which reads "
            f"user.workos_user_id, and {label} has no such field or attribute: every "
            "logged-in user is anonymous to this app (sent to LOGIN_URL).",
            hint=f"To link Django users to WorkOS users, set WORKOS_PIPES['USER_ID_RESOLVER'] "
            f"= {LINKED_USER_ID_RESOLVER!r} (with 'PROVISION_USERS': True to create them); "
            f"or add a workos_user_id field to {label} (sites signing in with WorkOS); or "
            "give a resolver of your own.",
            id="workos_pipes.W003",
        )
    ]


@register(Tags.security, deploy=True)
def check_encryption(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Tokens in a shared cache (Redis, Memcached, files, a database) are readable by
    whoever reads it, its snapshots or its backups, unless they are encrypted."""
    alias = app_settings.CACHE_ALIAS
    backend = getattr(settings, "CACHES", {}).get(alias, {}).get("BACKEND", "")
    if not backend or backend in PROCESS_LOCAL_BACKENDS or app_settings.get("ENCRYPTION_KEYS"):
        return []
    return [
        Warning(
            f"Access tokens are stored in plain text in the shared {alias!r} cache "
            f"({backend.rsplit('.', 1)[-1]}): anyone who can read it, or its snapshots "
            "and backups, can use them until they expire.",
            hint="pip install 'django-workos-pipes[encryption]' and set "
            "WORKOS_PIPES['ENCRYPTION_KEYS'] (or the WORKOS_PIPES_ENCRYPTION_KEYS "
            "environment variable) to a key from `manage.py workos_pipes_generate_key`.",
            id="workos_pipes.W010",
        )
    ]


def _default_user_resolver() -> bool:
    value = app_settings.get("USER_ID_RESOLVER")
    return value in (DEFAULT_USER_ID_RESOLVER, default_user_id)


def _check_api_key() -> list[CheckMessage]:
    if app_settings.get("API_KEY"):
        return []
    return [
        Error(
            "No WorkOS API key is configured.",
            hint="Set WORKOS_PIPES['API_KEY'] or the WORKOS_API_KEY environment variable.",
            id="workos_pipes.E001",
        )
    ]


def _check_base_url() -> list[CheckMessage]:
    value = app_settings.get("BASE_URL")
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is not None and parts.scheme in ("http", "https") and parts.netloc:
        return []
    return [
        Error(
            f"WORKOS_PIPES['BASE_URL'] = {value!r} is not an http(s) URL.",
            hint="Leave it unset for https://api.workos.com, or give the emulator's URL, "
            "e.g. http://127.0.0.1:4100.",
            id="workos_pipes.E004",
        )
    ]


def _check_numbers() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for key in NON_NEGATIVE + POSITIVE:
        value = app_settings.get(key)
        valid = isinstance(value, (int, float)) and not isinstance(value, bool)
        if valid and (value > 0 or (key in NON_NEGATIVE and value == 0)):
            continue
        bound = "a positive number" if key in POSITIVE else "a number, zero or more"
        errors.append(
            Error(
                f"WORKOS_PIPES['{key}'] = {value!r} must be {bound}.",
                hint="Remove the key to use its default.",
                id="workos_pipes.E003",
            )
        )
    return errors


def _check_resolvers() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for key in RESOLVERS:
        try:
            getattr(app_settings, key)
        except PipesConfigurationError as exc:
            errors.append(
                Error(
                    str(exc),
                    hint=f"Give a callable, or the dotted path of one: {BY_NAME[key].doc}",
                    id="workos_pipes.E005",
                )
            )
    organization_resolver = app_settings.get("ORGANIZATION_ID_RESOLVER")
    linked = organization_resolver in (LINKED_ORGANIZATION_ID_RESOLVER, linked_organization_id)
    if linked and app_settings.get("ORGANIZATION_EXTERNAL_ID") is None:
        errors.append(
            Error(
                "WORKOS_PIPES['ORGANIZATION_ID_RESOLVER'] is linked_organization_id, which "
                "needs WORKOS_PIPES['ORGANIZATION_EXTERNAL_ID'].",
                hint="Give a callable (or its dotted path) taking the request and returning "
                "the external_id of the request's organization, or None.",
                id="workos_pipes.E009",
            )
        )
    return errors


def _check_webhook_secret() -> list[CheckMessage]:
    value = app_settings.get("WEBHOOK_SECRET")
    if value is not None and not isinstance(value, (str, list, tuple)):
        return [
            Error(
                "WORKOS_PIPES['WEBHOOK_SECRET'] must be a string or a list of strings.",
                hint="Give the secret shown on the WorkOS dashboard's webhook endpoint.",
                id="workos_pipes.E006",
            )
        ]
    if app_settings.WEBHOOK_SECRETS:
        return []
    return [
        Warning(
            "No WorkOS webhook secret is configured: the webhook endpoint refuses every "
            "request, so cached tokens are not invalidated when connections change.",
            hint="Set WORKOS_PIPES['WEBHOOK_SECRET'] or the WORKOS_WEBHOOK_SECRET environment "
            "variable to the endpoint's secret from the WorkOS dashboard.",
            id="workos_pipes.W002",
        )
    ]


def _check_encryption_keys() -> list[CheckMessage]:
    try:
        crypto.keyring()
    except PipesConfigurationError as exc:
        return [
            Error(
                str(exc),
                hint="Generate a key with `manage.py workos_pipes_generate_key`; list "
                "the new key first and keep the old ones until their entries expire.",
                id="workos_pipes.E010",
            )
        ]
    return []
