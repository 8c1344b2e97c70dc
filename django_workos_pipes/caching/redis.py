"""Redis: a client-reusing ``RedisCache``, and the pipeline the webhook's ledger uses.

Django's ``RedisCache`` reuses its connection pool but builds a new ``redis.Redis``
object on every call, which costs more CPU than the rest of a cache hit here (see
docs/benchmarks.md). :class:`RedisCache` is Django's backend, options and behaviour
included, with one client per connection pool, built once: redis-py clients are
thread-safe, and their pools reconnect after a fork. Use it in ``CACHES``::

    "BACKEND": "django_workos_pipes.caching.redis.RedisCache"

:func:`redis_client` gives the webhook's ledger the raw client, for one round trip
that claims an event and writes its invalidation, on this backend, on Django's and on
django-redis's default client; any other backend is used through Django's cache API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.cache import BaseCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from django.core.cache.backends.redis import RedisSerializer

__all__ = ["RedisCache", "RedisCacheClient", "redis_client"]


class RedisCacheClient(DjangoRedisCacheClient):
    """Django's Redis cache client, building each ``redis.Redis`` once per pool."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        django: Any = self  # Django's attributes below are not in its type stubs
        pool = django._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:  # pools live as long as this object, so their ids stay theirs
            client = self._clients.setdefault(id(pool), django._client(connection_pool=pool))
        return client


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache``, reusing its Redis clients."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient


Redis = Any
"""A ``redis.Redis`` client (redis-py is an optional dependency)."""


def redis_client(cache: BaseCache) -> tuple[Redis, Callable[[str], str]] | None:
    """A client of ``cache``'s Redis server (its primary) and the function making its
    keys, or None.

    Only where an integer written raw is what the cache API reads back (its serializers
    store integers as they are): Django's ``RedisCache`` (and :class:`RedisCache`) with
    the default serializer, and django-redis's default client. None for anything else,
    whose callers then use the cache API.
    """
    if isinstance(cache, DjangoRedisCache):
        client: Any = cache._cache
        if type(client._serializer) is not RedisSerializer:
            return None
        return client.get_client(write=True), cache.make_key
    if type(cache).__module__ == "django_redis.cache":
        return _django_redis_client(cache)
    return None


def _django_redis_client(cache: Any) -> tuple[Redis, Callable[[str], str]] | None:
    from django_redis.client import DefaultClient, SentinelClient

    client = cache.client
    if type(client) not in (DefaultClient, SentinelClient):  # herd and shard clients differ
        return None
    return client.get_client(write=True), client.make_key
