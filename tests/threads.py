"""Real threads released together, for the single-flight tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def run_at_once(n: int, fn: Callable[[], Any]) -> list[Any]:
    """``fn`` in ``n`` real threads released together by a barrier; each thread's result,
    or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def worker(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
