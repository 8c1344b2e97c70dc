"""System checks: configuration mistakes reported by ``manage.py check``, with stable IDs.

No check touches the network or the cache; they only read settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from .conf import app_settings
from .exceptions import PipesConfigurationError

PROCESS_LOCAL_BACKENDS = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)
NON_NEGATIVE = (
    "EXPIRY_LEEWAY",
    "TOKEN_TTL",
    "INACTIVE_TTL",
    "MAX_RETRIES",
    "BACKOFF_MAX",
    "WORKOS_BREAKER_SECONDS",
    "CACHE_BREAKER_SECONDS",
)
POSITIVE = ("TIMEOUT", "WEBHOOK_TOLERANCE")


@register(Tags.compatibility)
def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    if not isinstance(getattr(settings, "WORKOS_PIPES", None) or {}, Mapping):
        return [
            Error(
                "settings.WORKOS_PIPES must be a dict.",
                hint="WORKOS_PIPES = {'API_KEY': env('WORKOS_API_KEY'), ...}",
                id="workos_pipes.E007",
            )
        ]
    return [
        *_check_api_key(),
        *_check_base_url(),
        *_check_numbers(),
        *_check_resolvers(),
        *_check_webhook_secret(),
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
    for key in ("USER_ID_RESOLVER", "ORGANIZATION_ID_RESOLVER"):
        try:
            getattr(app_settings, key)
        except PipesConfigurationError as exc:
            errors.append(
                Error(
                    str(exc),
                    hint="Give a callable, or the dotted path of one, taking the request.",
                    id="workos_pipes.E005",
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
