"""Settings of the cross-process test site, configured through the environment.

``DWP_REDIS_URL`` and ``DWP_CACHE_PREFIX`` name the shared cache, ``DWP_WORKOS_URL``
the stand-in for WorkOS, ``DWP_WEBHOOK_SECRET`` the webhook secret.
"""

from __future__ import annotations

import os

SECRET_KEY = "crossprocess-tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_workos_pipes",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "tests.system.crossprocess.urls"
DATABASES: dict[str, dict[str, str]] = {}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("DWP_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "KEY_PREFIX": os.environ.get("DWP_CACHE_PREFIX", "dwp-crossprocess"),
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
}

WORKOS_PIPES = {
    "API_KEY": "sk_test_crossprocess_0123456789",
    "BASE_URL": os.environ.get("DWP_WORKOS_URL", "http://127.0.0.1:9"),
    "WEBHOOK_SECRET": os.environ.get("DWP_WEBHOOK_SECRET", ""),
    "TIMEOUT": 2,
    "MAX_RETRIES": 0,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django_workos_pipes": {"handlers": ["stderr"], "level": "INFO"}},
}
