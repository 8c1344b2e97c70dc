"""A server binary's own process on a free port of 127.0.0.1, for tests that stop, kill
or freeze it on purpose: the base of :class:`~tests.system.redis_server.RedisServer`
and :class:`~tests.system.memcached_server.MemcachedServer`.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
from typing import TypeVar

from tests.environment import require_service
from tests.servers import free_port
from tests.system.processes import end_process

READY_TIMEOUT = 5.0


def installed(executable: str) -> str:
    """The path of ``executable``; skips (fails under CI=true) when it is missing."""
    binary = shutil.which(executable)
    require_service(binary is not None, f"{executable} is not installed")
    assert binary is not None
    return binary


Server = TypeVar("Server", bound="LocalServer")


class LocalServer:
    """One process on 127.0.0.1:``port`` (a free port by default), started again on the
    same port; ``stop()`` always ends it, frozen or not. Subclasses say how to start
    it (:meth:`command`) and what to send to tell that it answers (:attr:`probe`)."""

    name = "server"
    probe = b""  # a request in the server's own protocol...
    answer = b""  # ...and how its reply starts when the server is up

    def __init__(self, binary: str, port: int | None = None) -> None:
        self.binary = binary
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def ping(self) -> bool:
        """True when the server answers :attr:`probe` within 0.5 s (raw, no client)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(self.probe)
                return sock.recv(64).startswith(self.answer)
        except OSError:
            return False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self: Server) -> Server:
        """Start (or start again, on the same port) and wait until it answers."""
        if self.running:
            return self
        self.process = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.ping():
            if not self.running:
                error = self._stderr()
                self.process = None
                raise RuntimeError(f"{self.name} on port {self.port} exited: {error}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} on port {self.port} never answered")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Terminate (SIGTERM; SIGKILL if it lingers) and wait: the port is free again."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: open connections are reset, nothing is flushed."""
        self._end(signal.SIGKILL)

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections, but nothing answers."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGCONT)

    def _end(self, sig: signal.Signals) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGCONT)  # a frozen server can't handle SIGTERM
        end_process(process, sig)
        if process.stderr is not None:
            process.stderr.close()

    def _stderr(self) -> str:
        if self.process is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode(errors="replace")
