"""Settings of the fault-suite site, read from the environment at start-up.

``DWP_WORKOS_URL`` is the emulator, ``DWP_API_KEY`` its key, ``DWP_WEBHOOK_SECRET`` the
webhook secret. ``DWP_REDIS_URL`` (with ``DWP_CACHE_PREFIX``) selects a Redis cache,
else the cache is process-local. ``DWP_TIMEOUT``, ``DWP_MAX_RETRIES``,
``DWP_BACKOFF_MAX``, ``DWP_TOKEN_TTL`` and ``DWP_CACHE_TIMEOUT`` (Redis socket timeouts)
keep the faults quick; ``DWP_BREAKER_SECONDS`` turns the circuit breakers on and
``DWP_ENCRYPTION_KEYS`` encrypts the cached tokens. Everything is logged at DEBUG to
stderr, the process's log file, so the secrets test can read every line.
"""

from __future__ import annotations

import os
from typing import Any

from tests.system.faultsite import pipes_settings

SECRET_KEY = "faultsite-tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_workos_pipes",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "tests.system.faultsite.urls"
DATABASES: dict[str, dict[str, str]] = {}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
    }
]

_redis_url = os.environ.get("DWP_REDIS_URL")
_cache_timeout = float(os.environ.get("DWP_CACHE_TIMEOUT", "0.25"))
CACHES: dict[str, dict[str, Any]] = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis_url,
            "KEY_PREFIX": os.environ.get("DWP_CACHE_PREFIX", "dwp-faultsite"),
            "OPTIONS": {
                "socket_connect_timeout": _cache_timeout,
                "socket_timeout": _cache_timeout,
            },
        }
        if _redis_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

WORKOS_PIPES = pipes_settings(
    base_url=os.environ.get("DWP_WORKOS_URL", "http://127.0.0.1:9"),
    api_key=os.environ.get("DWP_API_KEY", ""),
    webhook_secret=os.environ.get("DWP_WEBHOOK_SECRET", ""),
    timeout=float(os.environ.get("DWP_TIMEOUT", "0.3")),
    max_retries=int(os.environ.get("DWP_MAX_RETRIES", "2")),
    backoff_max=float(os.environ.get("DWP_BACKOFF_MAX", "0.1")),
    token_ttl=float(os.environ.get("DWP_TOKEN_TTL", "3600")),
    encryption_keys=os.environ.get("DWP_ENCRYPTION_KEYS", ""),
    breaker_seconds=float(os.environ.get("DWP_BREAKER_SECONDS", "0")),
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": "DEBUG"},
    "loggers": {
        "django": {"level": "DEBUG"},
        "django.request": {"level": "DEBUG"},
        "django_workos_pipes": {"level": "DEBUG"},
    },
}
