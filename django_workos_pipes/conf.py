"""Settings: one ``WORKOS_PIPES`` dict, with the environment as fallback.

Every value is read when it is used, never at import, so ``override_settings`` works in
tests and a missing API key fails on first use with the name of the setting to fix.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, cast

import environ
from django.conf import settings
from django.utils.module_loading import import_string

from .exceptions import PipesConfigurationError

DEFAULT_BASE_URL = "https://api.workos.com"

# Key in WORKOS_PIPES -> (environment variable or None, default).
DEFAULTS: dict[str, tuple[str | None, Any]] = {
    "API_KEY": ("WORKOS_API_KEY", None),
    "BASE_URL": ("WORKOS_BASE_URL", DEFAULT_BASE_URL),
    "WEBHOOK_SECRET": ("WORKOS_WEBHOOK_SECRET", None),
    "WEBHOOK_TOLERANCE": (None, 180),
    "CACHE_ALIAS": (None, "default"),
    "TIMEOUT": (None, 5.0),
    "MAX_RETRIES": (None, 3),
    "BACKOFF_FACTOR": (None, 0.5),
    "BACKOFF_MAX": (None, 5.0),
    "EXPIRY_LEEWAY": (None, 60),
    "TOKEN_TTL": (None, 3600),
    "INACTIVE_TTL": (None, 30),
    "LOCK_TIMEOUT": (None, None),
    "USER_ID_RESOLVER": (None, "django_workos_pipes.identity.default_user_id"),
    "ORGANIZATION_ID_RESOLVER": (None, "django_workos_pipes.identity.default_organization_id"),
    "CONNECT_URL": (None, "workos_pipes:connect"),
    "REAUTHORIZE_URL": (None, "workos_pipes:reauthorize"),
}

env = environ.Env()


class PipesSettings:
    """Typed view of ``settings.WORKOS_PIPES``; attributes are looked up on each access."""

    @property
    def raw(self) -> Mapping[str, Any]:
        value = getattr(settings, "WORKOS_PIPES", None) or {}
        if type(value) is not dict and not isinstance(value, Mapping):  # dict: the fast path
            raise PipesConfigurationError("settings.WORKOS_PIPES must be a dict.")
        return value

    def get(self, key: str) -> Any:
        """The configured value: ``WORKOS_PIPES[key]``, else its environment variable."""
        env_var, default = DEFAULTS[key]
        raw = self.raw
        if key in raw:
            return raw[key]
        if env_var is not None:
            return env.str(env_var, default=default) or default
        return default

    @property
    def API_KEY(self) -> str:
        value = self.get("API_KEY")
        if not value or not isinstance(value, str):
            raise PipesConfigurationError(
                "WorkOS API key missing: set WORKOS_PIPES['API_KEY'] or the WORKOS_API_KEY "
                "environment variable."
            )
        return value

    @property
    def BASE_URL(self) -> str:
        return str(self.get("BASE_URL")).rstrip("/")

    @property
    def WEBHOOK_SECRETS(self) -> tuple[str, ...]:
        """Every accepted webhook secret; several while a secret is being rotated.

        A string may hold several, separated by commas (WorkOS secrets have none).
        """
        value = self.get("WEBHOOK_SECRET") or ()
        if isinstance(value, str):
            value = value.split(",")
        return tuple(secret.strip() for secret in value if secret and secret.strip())

    @property
    def WEBHOOK_TOLERANCE(self) -> float:
        return float(self.get("WEBHOOK_TOLERANCE"))

    @property
    def CACHE_ALIAS(self) -> str:
        return str(self.get("CACHE_ALIAS"))

    @property
    def TIMEOUT(self) -> float:
        return float(self.get("TIMEOUT"))

    @property
    def MAX_RETRIES(self) -> int:
        return int(self.get("MAX_RETRIES"))

    @property
    def BACKOFF_FACTOR(self) -> float:
        return float(self.get("BACKOFF_FACTOR"))

    @property
    def BACKOFF_MAX(self) -> float:
        return float(self.get("BACKOFF_MAX"))

    @property
    def EXPIRY_LEEWAY(self) -> float:
        return float(self.get("EXPIRY_LEEWAY"))

    @property
    def TOKEN_TTL(self) -> float:
        return float(self.get("TOKEN_TTL"))

    @property
    def INACTIVE_TTL(self) -> float:
        return float(self.get("INACTIVE_TTL"))

    @property
    def LOCK_TIMEOUT(self) -> float:
        """How long a single-flight lock may be held: by default one whole upstream call
        with every retry, so a crashed holder blocks the others no longer than that."""
        value = self.get("LOCK_TIMEOUT")
        if value is not None:
            return float(value)
        attempts = self.MAX_RETRIES + 1
        return self.TIMEOUT * attempts + self.BACKOFF_MAX * self.MAX_RETRIES

    @property
    def USER_ID_RESOLVER(self) -> Callable[..., str | None]:
        return _import(self.get("USER_ID_RESOLVER"), "USER_ID_RESOLVER")

    @property
    def ORGANIZATION_ID_RESOLVER(self) -> Callable[..., str | None]:
        return _import(self.get("ORGANIZATION_ID_RESOLVER"), "ORGANIZATION_ID_RESOLVER")

    @property
    def CONNECT_URL(self) -> str:
        return str(self.get("CONNECT_URL"))

    @property
    def REAUTHORIZE_URL(self) -> str:
        return str(self.get("REAUTHORIZE_URL"))


def _import(value: Any, name: str) -> Callable[..., Any]:
    if callable(value):
        return cast(Callable[..., Any], value)
    try:
        return _import_path(str(value))
    except ImportError as exc:
        raise PipesConfigurationError(
            f"WORKOS_PIPES['{name}'] = {value!r} cannot be imported: {exc}"
        ) from exc
    except TypeError:
        raise PipesConfigurationError(
            f"WORKOS_PIPES['{name}'] = {value!r} is not callable."
        ) from None


@functools.lru_cache(maxsize=64)
def _import_path(path: str) -> Callable[..., Any]:
    """Import a dotted path once: resolvers are looked up on every request."""
    imported = import_string(path)
    if not callable(imported):
        raise TypeError(path)
    return cast(Callable[..., Any], imported)


app_settings = PipesSettings()
