"""Real threads released together, for the single-flight tests."""

from __future__ import annotations

import sys
import threading
import time
import traceback
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


def wait_for_waiters(n: int, function: str = "_wait_for_peer", timeout: float = 10.0) -> None:
    """Block until ``n`` other threads are inside ``function`` (a frame of that name on
    their stack): a slow upstream answer that holds itself back with this is only given
    once every request it should be shared with is waiting for it, however busy the
    machine, instead of after a guessed sleep. Raises AssertionError after ``timeout``."""
    me = threading.get_ident()
    deadline = time.monotonic() + timeout
    while (found := _threads_in(function, me)) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"{found} of {n} threads reached {function}() in {timeout} s")
        time.sleep(0.01)


def _threads_in(function: str, me: int) -> int:
    """How many threads other than ``me`` have a frame running ``function``."""
    return sum(
        1
        for ident, frame in sys._current_frames().items()
        if ident != me and function in {f.f_code.co_name for f, _ in traceback.walk_stack(frame)}
    )
