"""A private ``memcached`` for the backend tests, on a free port of 127.0.0.1.

Like :mod:`tests.system.redis_server`: each :class:`MemcachedServer` runs its own process,
can be stopped and started again on the same port, and frozen with SIGSTOP. Without
the binary the tests skip, and fail under CI=true (``.ci/run`` installs Debian's
``memcached``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tests.system.local_server import LocalServer, installed


class MemcachedServer(LocalServer):
    """One ``memcached`` process on 127.0.0.1:``port`` (a free port by default)."""

    name = "memcached"
    probe, answer = b"version\r\n", b"VERSION"

    def __init__(self, port: int | None = None) -> None:
        super().__init__(installed("memcached"), port)

    @property
    def location(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        command = [self.binary, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "64"]
        return command + (["-u", "root"] if _is_root() else [])


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


@contextlib.contextmanager
def private_memcached() -> Iterator[MemcachedServer]:
    server = MemcachedServer()
    try:
        yield server.start()
    finally:
        server.stop()
