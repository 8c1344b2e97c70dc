"""A private ``memcached`` for the backend tests, on a free port of 127.0.0.1.

Like :mod:`tests.system.redis_server`: each :class:`MemcachedServer` runs its own process,
can be stopped and started again on the same port, and frozen with SIGSTOP. Without
the binary the tests skip, and fail under CI=true (``.ci/run`` installs Debian's
``memcached``).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

from tests.environment import require_service
from tests.servers import free_port
from tests.system.redis_server import READY_TIMEOUT


def memcached_binary() -> str:
    binary = shutil.which("memcached")
    require_service(binary is not None, "memcached is not installed")
    assert binary is not None
    return binary


class MemcachedServer:
    """One ``memcached`` process on 127.0.0.1:``port`` (a free port by default)."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = memcached_binary()
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def location(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> MemcachedServer:
        """Start (or start again, on the same port) and wait until it answers."""
        if self.running:
            return self
        command = [self.binary, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "64"]
        command += ["-u", "root"] if _is_root() else []
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.ping():
            if not self.running:
                assert self.process is not None and self.process.stderr is not None
                error = self.process.stderr.read().decode(errors="replace")
                self.process = None
                raise RuntimeError(f"memcached on port {self.port} exited: {error}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"memcached on port {self.port} never answered")
            time.sleep(0.02)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"version\r\n")
                return sock.recv(64).startswith(b"VERSION")
        except OSError:
            return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGCONT)  # a frozen server can't handle SIGTERM
                process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if process.stderr is not None:
            process.stderr.close()

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, but nothing answers."""
        if self.process is not None and self.running:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None and self.running:
            self.process.send_signal(signal.SIGCONT)


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
