"""A private ``redis-server`` for tests that stop, kill or freeze Redis on purpose, and a
link in front of it that can be cut like a network partition.

The shared Redis at ``REDIS_URL`` is never touched: each :class:`RedisServer` runs its
own process on a free port of 127.0.0.1, with no persistence, and can be stopped and
started again on the same port. ``stop()`` always ends the process, frozen or not.
:class:`Link` forwards a port of its own to it; ``cut()`` severs every connection and
refuses new ones while Redis and its data live on, ``mend()`` lets clients in again.
"""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
from types import TracebackType

from tests.servers import free_port
from tests.system.local_server import LocalServer, installed


class RedisServer(LocalServer):
    """One ``redis-server`` process on 127.0.0.1:``port`` (a free port by default)."""

    name = "redis-server"
    probe, answer = b"PING\r\n", b"+PONG"

    def __init__(self, port: int | None = None) -> None:
        super().__init__(installed("redis-server"), port)
        self._dir = tempfile.TemporaryDirectory(prefix="dwp-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        return [*command, "--loglevel", "warning", "--dir", self._dir.name]

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Link:
    """A TCP forwarder on 127.0.0.1 in front of ``target_port``: a cuttable network."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._stop = threading.Event()
        self._acceptor: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def mend(self) -> Link:
        """Accept connections (again) on the same port."""
        if self._acceptor is not None:
            return self
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.05)
        self._stop.clear()
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()
        return self

    def cut(self) -> None:
        """Refuse new connections and sever the open ones; Redis keeps its data."""
        acceptor, self._acceptor = self._acceptor, None
        self._stop.set()
        if acceptor is not None:
            acceptor.join(5)
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while not self._stop.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                try:
                    server = socket.create_connection(("127.0.0.1", self.target_port), timeout=1)
                except OSError:
                    _close(client)
                    continue
                client.settimeout(None)
                server.settimeout(None)
                with self._lock:
                    self._sockets |= {client, server}
                for source, sink in ((client, server), (server, client)):
                    threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)
                with self._lock:
                    self._sockets.discard(sock)

    def __enter__(self) -> Link:
        return self.mend()

    def __exit__(self, *exc: object) -> None:
        self.cut()


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
