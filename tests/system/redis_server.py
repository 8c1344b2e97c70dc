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
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from types import TracebackType

from tests.environment import require_service
from tests.servers import free_port
from tests.system.processes import end_process

READY_TIMEOUT = 5.0


def redis_binary() -> str:
    """The ``redis-server`` executable; skips (fails under CI=true) when it is missing."""
    binary = shutil.which("redis-server")
    require_service(binary is not None, "redis-server is not installed")
    assert binary is not None
    return binary


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1:``port`` (a free port by default)."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = redis_binary()
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="dwp-redis-")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> RedisServer:
        """Start (or start again, on the same port) and wait until it answers PING."""
        if self.running:
            return self
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        command += ["--loglevel", "warning", "--dir", self._dir.name]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.ping():
            if not self.running:
                error = self._stderr()
                self.process = None
                raise RuntimeError(f"redis-server on port {self.port} exited: {error}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} never answered")
            time.sleep(0.02)
        return self

    def ping(self) -> bool:
        """True when the server answers ``PING`` within 0.5 s (raw RESP, no client)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

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
