"""What a cache backend needs installed, and how to say so.

Django's Redis and Memcached backends import their client library on first use, not
when the backend is imported, so a missing ``redis`` shows only once a request touches
the cache. The system check (``workos_pipes.E008``) and the service's "cache down"
warning both name the missing module and what installs it, from this table.
"""

from __future__ import annotations

import importlib

CLIENT_MODULES = {
    "django.core.cache.backends.redis.RedisCache": "redis",
    "django_workos_pipes.caching.redis.RedisCache": "redis",
    "django.core.cache.backends.memcached.PyMemcacheCache": "pymemcache",
    "django.core.cache.backends.memcached.PyLibMCCache": "pylibmc",
}
"""Backends whose client library is imported lazily, by the backend's dotted path."""

INSTALL = {
    "redis": 'pip install "django-workos-pipes[redis]"',
    "django_redis": 'pip install "django-workos-pipes[django-redis]"',
    "pymemcache": 'pip install "django-workos-pipes[memcached]"',
    "pylibmc": "pip install pylibmc",
}


def install_hint(module: str) -> str:
    """The command that installs ``module``: the package's extra where there is one."""
    top = module.partition(".")[0]
    return INSTALL.get(top, f"install the package that provides the '{top}' module")


def missing_module(backend: str) -> str | None:
    """The module ``backend`` needs and that can't be imported, or None if all is there.

    Imports the backend's module, then the client library it would import on first use.
    Importing never connects to anything.
    """
    module_path = backend.rpartition(".")[0]
    for module in (module_path, CLIENT_MODULES.get(backend)):
        if not module:
            continue
        try:
            importlib.import_module(module)
        except ImportError as exc:
            return exc.name or module
    return None
