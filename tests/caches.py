"""Cache backends for tests: one that counts the calls made to it, one that is down.

Both are real ``BaseCache`` subclasses configured through ``CACHES``, so the service
uses them exactly as it uses Redis or Memcached.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache

OPERATIONS = ("get", "get_many", "set", "set_many", "add", "delete", "delete_many", "incr")


class _Counted:
    """Class-level counts, so a test can read them whichever instance Django built."""

    calls: Counter[str] = Counter()
    _lock = threading.Lock()

    @classmethod
    def count(cls, operation: str) -> None:
        with cls._lock:
            cls.calls[operation] += 1

    @classmethod
    def reset(cls) -> Counter[str]:
        with cls._lock:
            calls, cls.calls = cls.calls, Counter()
        return calls


class CountingCache(LocMemCache):
    """Django's locmem cache, counting each operation (a round trip on a shared cache).

    locmem's ``get_many`` calls ``get`` per key; those inner calls are not counted."""

    counted = _Counted
    _inside = threading.local()

    def get(self, *args: Any, **kwargs: Any) -> Any:
        if not getattr(self._inside, "get_many", False):
            self.counted.count("get")
        return super().get(*args, **kwargs)

    def get_many(self, *args: Any, **kwargs: Any) -> Any:
        self.counted.count("get_many")
        self._inside.get_many = True
        try:
            return super().get_many(*args, **kwargs)
        finally:
            self._inside.get_many = False

    def set(self, *args: Any, **kwargs: Any) -> Any:
        self.counted.count("set")
        return super().set(*args, **kwargs)

    def add(self, *args: Any, **kwargs: Any) -> Any:
        self.counted.count("add")
        return super().add(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        self.counted.count("delete")
        return super().delete(*args, **kwargs)


class DownCache(BaseCache):
    """A cache whose server is gone: every operation raises, and is counted."""

    counted = _Counted

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)

    def _fail(self, operation: str) -> Any:
        self.counted.count(operation)
        raise ConnectionError(f"cache server gone ({operation})")

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._fail("get")

    def get_many(self, *args: Any, **kwargs: Any) -> Any:
        return self._fail("get_many")

    def set(self, *args: Any, **kwargs: Any) -> Any:
        return self._fail("set")

    def add(self, *args: Any, **kwargs: Any) -> Any:
        return self._fail("add")

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        return self._fail("delete")

    def delete_many(self, *args: Any, **kwargs: Any) -> Any:
        return self._fail("delete_many")

    def touch(self, *args: Any, **kwargs: Any) -> Any:
        return self._fail("touch")

    def clear(self) -> None:
        self._fail("clear")


def counting(location: str = "counting") -> dict[str, dict[str, Any]]:
    return {"default": {"BACKEND": "tests.caches.CountingCache", "LOCATION": location}}


def down() -> dict[str, dict[str, Any]]:
    return {"default": {"BACKEND": "tests.caches.DownCache"}}
