"""Cache backends for tests: one that counts the calls made to it, and one that can be
taken down.

Both are real ``BaseCache`` subclasses configured through ``CACHES``, so the service uses
them exactly as it uses Redis or Memcached.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.core.cache.backends.locmem import LocMemCache


class Calls:
    """Class-level counts, so a test can read them whichever instance Django built."""

    counts: Counter[str] = Counter()
    _lock = threading.Lock()

    @classmethod
    def count(cls, operation: str) -> None:
        with cls._lock:
            cls.counts[operation] += 1

    @classmethod
    def take(cls) -> dict[str, int]:
        """The counts since the last look."""
        with cls._lock:
            counts, cls.counts = cls.counts, Counter()
        return dict(counts)


class CountingCache(LocMemCache):
    """Django's locmem cache, counting each operation (a round trip on a shared cache).

    locmem's ``get_many`` and ``set_many`` call ``get`` and ``set`` per key; those inner
    calls are not counted."""

    _inside = threading.local()

    def _before(self, operation: str) -> None:
        Calls.count(operation)

    def _before_one(self, operation: str) -> None:
        """Count a single-key operation, unless a ``*_many`` is making it per key."""
        if not getattr(self._inside, "many", False):
            self._before(operation)

    @contextlib.contextmanager
    def _many(self, operation: str) -> Iterator[None]:
        """Count a ``*_many`` once, and not the per-key calls it makes inside."""
        self._before(operation)
        self._inside.many = True
        try:
            yield
        finally:
            self._inside.many = False

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self._before_one("get")
        return super().get(*args, **kwargs)

    def get_many(self, *args: Any, **kwargs: Any) -> Any:
        with self._many("get_many"):
            return super().get_many(*args, **kwargs)

    def set(self, *args: Any, **kwargs: Any) -> Any:
        self._before_one("set")
        return super().set(*args, **kwargs)

    def set_many(self, *args: Any, **kwargs: Any) -> Any:
        with self._many("set_many"):
            return super().set_many(*args, **kwargs)

    def add(self, *args: Any, **kwargs: Any) -> Any:
        self._before("add")
        return super().add(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        self._before("delete")
        return super().delete(*args, **kwargs)


class FlakyCache(CountingCache):
    """A counting cache whose server can be taken away: while ``FlakyCache.down`` is
    True every operation is counted, then raises, as with a Redis that is gone."""

    down = False

    def _before(self, operation: str) -> None:
        Calls.count(operation)
        if FlakyCache.down:
            raise ConnectionError(f"cache server gone ({operation})")


def counting(location: str = "counting") -> dict[str, dict[str, Any]]:
    return {"default": {"BACKEND": "tests.caches.CountingCache", "LOCATION": location}}


def flaky(location: str = "flaky") -> dict[str, dict[str, Any]]:
    return {"default": {"BACKEND": "tests.caches.FlakyCache", "LOCATION": location}}
