"""Settings: one ``WORKOS_PIPES`` dict, with the environment as fallback.

Each key is declared once, in :data:`SETTINGS`: its environment variable, default,
parser and documentation. Values are read when they are used, never at import, so
``override_settings`` works in tests and a missing API key fails on first use with the
name of the setting to fix. What is costly to look up (the resolvers' imports) is
memoised and forgotten on Django's ``setting_changed`` signal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast, overload

import environ
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from .exceptions import PipesConfigurationError

DEFAULT_BASE_URL = "https://api.workos.com"

env = environ.Env()

_T = TypeVar("_T")


@dataclass(frozen=True)
class Setting:
    """One key of ``WORKOS_PIPES``."""

    name: str
    default: Any
    doc: str
    env_var: str | None = None
    number: bool = False
    positive: bool = False
    """For numbers: zero is refused too (else only negative values are)."""


SETTINGS: tuple[Setting, ...] = (
    Setting("API_KEY", None, "The WorkOS API key (``sk_...``).", env_var="WORKOS_API_KEY"),
    Setting(
        "BASE_URL",
        DEFAULT_BASE_URL,
        "The WorkOS API root; the emulator's URL in development.",
        env_var="WORKOS_BASE_URL",
    ),
    Setting(
        "WEBHOOK_SECRET",
        None,
        "The webhook endpoint's secret; a list (or comma-separated string) to rotate.",
        env_var="WORKOS_WEBHOOK_SECRET",
    ),
    Setting(
        "WEBHOOK_TOLERANCE",
        180,
        "Seconds a signature's timestamp may be away from now.",
        number=True,
        positive=True,
    ),
    Setting("CACHE_ALIAS", "default", "The ``CACHES`` alias that holds tokens."),
    Setting("TIMEOUT", 5.0, "Seconds to wait for one WorkOS answer.", number=True, positive=True),
    Setting("MAX_RETRIES", 3, "Retries of a failed WorkOS call.", number=True),
    Setting("BACKOFF_FACTOR", 0.5, "Seconds before the first retry; doubles each time."),
    Setting("BACKOFF_MAX", 5.0, "Longest wait between retries, Retry-After included.", number=True),
    Setting(
        "EXPIRY_LEEWAY",
        60,
        "A token is refreshed this many seconds before it expires.",
        number=True,
    ),
    Setting("TOKEN_TTL", 3600, "Longest time an active answer is served from cache.", number=True),
    Setting("INACTIVE_TTL", 30, "How long an inactive answer is served from cache.", number=True),
    Setting(
        "CONNECTIONS_TTL",
        300,
        "Longest time a user's connections listing is served from cache (0: never cached).",
        number=True,
    ),
    Setting(
        "LOCK_TIMEOUT",
        None,
        "How long a single-flight lock may be held; default one call with all its retries.",
    ),
    Setting(
        "WORKOS_BREAKER_SECONDS",
        5.0,
        "After WorkOS fails (past its retries), lookups that need it fail fast for this "
        "long, in every process sharing the cache: a cached token is served, else "
        "unavailable. Then one call tries again. 0 turns the breaker off.",
        number=True,
    ),
    Setting(
        "CACHE_BREAKER_SECONDS",
        5.0,
        "After a cache error, this process skips the cache (asking WorkOS directly) for "
        "this long, then one call tries it again. 0 turns the breaker off.",
        number=True,
    ),
    Setting(
        "USER_ID_RESOLVER",
        "django_workos_pipes.identity.default_user_id",
        "Callable or dotted path: request -> WorkOS user id or None.",
    ),
    Setting(
        "ORGANIZATION_ID_RESOLVER",
        "django_workos_pipes.identity.default_organization_id",
        "Callable or dotted path: request -> WorkOS organization id or None.",
    ),
    Setting(
        "ORGANIZATION_ADMIN_RESOLVER",
        None,
        "Callable or dotted path: request -> bool, may this user connect or disconnect "
        "the organization's connections. Unset: nobody may.",
    ),
    Setting(
        "SUPPORTS_MULTIPLE_CONNECTIONS",
        False,
        "Ask WorkOS for every account of a provider (``supports_multiple_connections``).",
    ),
    Setting(
        "USER_EXTERNAL_ID",
        "django_workos_pipes.identity.default_external_id",
        "Callable or dotted path: Django user -> the WorkOS external_id that links it "
        "(``linked_user_id``); default ``str(user.pk)``.",
    ),
    Setting(
        "PROVISION_USERS",
        False,
        "``linked_user_id`` creates the WorkOS user (e-mail, names, external_id) of a Django "
        "user that has none.",
    ),
    Setting(
        "USER_LINK_TTL",
        30 * 86400,
        "Seconds a user's (or organization's) link to WorkOS stays cached.",
        number=True,
    ),
    Setting(
        "ORGANIZATION_EXTERNAL_ID",
        None,
        "Callable or dotted path: request -> the external_id of the WorkOS organization "
        "(``linked_organization_id``), or None.",
    ),
    Setting(
        "PROVIDER_NAMES",
        {},
        "Display names of provider slugs on the app's pages, e.g. {'salesforce': 'Salesforce'}.",
    ),
    Setting(
        "ENCRYPTION_KEYS",
        None,
        "Keys that encrypt cached tokens (a list, or a comma-separated string): the first "
        "encrypts, every one decrypts. ``manage.py workos_pipes_generate_key`` makes one.",
        env_var="WORKOS_PIPES_ENCRYPTION_KEYS",
    ),
    Setting("CONNECT_URL", "workos_pipes:connect", "URL name (or path) of the connect view."),
    Setting(
        "REAUTHORIZE_URL",
        "workos_pipes:reauthorize",
        "URL name (or path) of the reauthorize view.",
    ),
    Setting(
        "SELECT_ACCOUNT_URL",
        "workos_pipes:connections",
        "URL name (or path) of the page where a user picks one of several accounts.",
    ),
)
BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in SETTINGS}


class _Value(Generic[_T]):
    """A typed attribute of :class:`PipesSettings`: the setting of the same name,
    converted by ``convert`` on each access (so ``override_settings`` applies)."""

    def __init__(self, convert: Callable[[Any], _T]) -> None:
        self._convert = convert
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type) -> _Value[_T]: ...

    @overload
    def __get__(self, instance: PipesSettings, owner: type) -> _T: ...

    def __get__(self, instance: PipesSettings | None, owner: type) -> _Value[_T] | _T:
        if instance is None:
            return self
        return self._convert(instance.get(self._name))


class PipesSettings:
    """Typed view of ``settings.WORKOS_PIPES``; attributes are looked up on each access."""

    def __init__(self) -> None:
        self._resolvers: dict[str, Callable[..., Any]] = {}
        self.generation = 0
        """Bumped whenever Django settings change, so holders of memoised lookups (the
        service's cache object) know to look again."""

    @property
    def raw(self) -> Mapping[str, Any]:
        value = getattr(settings, "WORKOS_PIPES", None) or {}
        if type(value) is not dict and not isinstance(value, Mapping):  # dict: the fast path
            raise PipesConfigurationError("settings.WORKOS_PIPES must be a dict.")
        return value

    def get(self, key: str) -> Any:
        """The configured value: ``WORKOS_PIPES[key]``, else its environment variable."""
        setting = BY_NAME[key]
        raw = self.raw
        if key in raw:
            return raw[key]
        if setting.env_var is not None:
            return env.str(setting.env_var, default=setting.default) or setting.default
        return setting.default

    def source(self, key: str) -> str:
        """Where ``key``'s value comes from, for error messages: the setting, else its
        environment variable."""
        env_var = BY_NAME[key].env_var
        if key in self.raw or env_var is None or not env.str(env_var, default=""):
            return f"WORKOS_PIPES['{key}']"
        return f"the {env_var} environment variable"

    def reset(self) -> None:
        """Forget memoised lookups; called when Django settings change."""
        self._resolvers.clear()
        self.generation += 1

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
        return split_secrets(self.get("WEBHOOK_SECRET"))

    WEBHOOK_TOLERANCE = _Value(float)
    CACHE_ALIAS = _Value(str)
    TIMEOUT = _Value(float)
    MAX_RETRIES = _Value(int)
    BACKOFF_FACTOR = _Value(float)
    BACKOFF_MAX = _Value(float)
    EXPIRY_LEEWAY = _Value(float)
    TOKEN_TTL = _Value(float)
    INACTIVE_TTL = _Value(float)
    CONNECTIONS_TTL = _Value(float)

    @property
    def LOCK_TIMEOUT(self) -> float:
        """How long a single-flight lock may be held: by default one whole upstream call
        with every retry, so a crashed holder blocks the others no longer than that."""
        value = self.get("LOCK_TIMEOUT")
        if value is not None:
            return float(value)
        attempts = self.MAX_RETRIES + 1
        return self.TIMEOUT * attempts + self.BACKOFF_MAX * self.MAX_RETRIES

    WORKOS_BREAKER_SECONDS = _Value(float)
    CACHE_BREAKER_SECONDS = _Value(float)

    @property
    def USER_ID_RESOLVER(self) -> Callable[..., str | None]:
        return self._resolver("USER_ID_RESOLVER")

    @property
    def ORGANIZATION_ID_RESOLVER(self) -> Callable[..., str | None]:
        return self._resolver("ORGANIZATION_ID_RESOLVER")

    @property
    def ORGANIZATION_ADMIN_RESOLVER(self) -> Callable[..., bool] | None:
        """None when unset: then nobody may manage an organization's connections."""
        return self._optional_resolver("ORGANIZATION_ADMIN_RESOLVER")

    SUPPORTS_MULTIPLE_CONNECTIONS = _Value(bool)

    @property
    def USER_EXTERNAL_ID(self) -> Callable[..., str | None]:
        return self._resolver("USER_EXTERNAL_ID")

    PROVISION_USERS = _Value(bool)
    USER_LINK_TTL = _Value(float)

    @property
    def ORGANIZATION_EXTERNAL_ID(self) -> Callable[..., str | None] | None:
        return self._optional_resolver("ORGANIZATION_EXTERNAL_ID")

    @property
    def PROVIDER_NAMES(self) -> Mapping[str, str]:
        value = self.get("PROVIDER_NAMES")
        return value if isinstance(value, Mapping) else {}

    @property
    def ENCRYPTION_KEYS(self) -> tuple[str, ...]:
        """The encryption keys as given (:mod:`.caching.crypto` decodes them); empty when
        encryption is off."""
        value = self.get("ENCRYPTION_KEYS")
        valid = value is None or isinstance(value, str)
        if isinstance(value, (list, tuple)):
            valid = all(isinstance(item, str) for item in value)
        if not valid:
            raise PipesConfigurationError(
                f"{self.source('ENCRYPTION_KEYS')} must be a list of keys (strings)."
            )
        return split_secrets(value)

    CONNECT_URL = _Value(str)
    REAUTHORIZE_URL = _Value(str)
    SELECT_ACCOUNT_URL = _Value(str)

    def _resolver(self, name: str) -> Callable[..., Any]:
        """The resolver, imported once (until settings change): it runs on every request."""
        found = self._resolvers.get(name)
        if found is None:
            found = self._resolvers[name] = _import(self.get(name), name)
        return found

    def _optional_resolver(self, name: str) -> Callable[..., Any] | None:
        """The resolver, or None when the setting is unset (it has no default)."""
        return None if self.get(name) is None else self._resolver(name)


def split_secrets(value: Any) -> tuple[str, ...]:
    """Secrets from a list, or from one comma-separated string; blanks dropped."""
    values = (value or "").split(",") if isinstance(value, str) or not value else value
    return tuple(secret.strip() for secret in values if secret and secret.strip())


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
    imported = import_string(path)
    if not callable(imported):
        raise TypeError(path)
    return cast(Callable[..., Any], imported)


app_settings = PipesSettings()


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("WORKOS_PIPES", "CACHES"):
        app_settings.reset()
