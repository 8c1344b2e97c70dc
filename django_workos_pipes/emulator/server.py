"""The threaded HTTP server: sockets in, :class:`~.web.Request` out, bytes back.

Built on ``http.server`` so the emulator needs nothing beyond the standard library.
It speaks HTTP/1.1 with keep-alive like the real API, puts ``X-Request-ID`` on every
answer (its own errors included), stays quiet unless asked to log, and can hang up
mid-answer on purpose for the fault injector. On stop it closes the connections that
are still open, so a pooled client can't keep talking to a stopped emulator.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseServer, TCPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .web import MAX_BODY, Request, Response, error_response, split_path

logger = logging.getLogger("django_workos_pipes.emulator")

Dispatch = Callable[[Request], Response]


class EmulatorHTTPServer(ThreadingHTTPServer):
    """A thread per connection; remembers open connections so ``stop`` can close them."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], dispatch: Dispatch, *, verbose: bool) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.dispatch = dispatch
        self.verbose = verbose
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up in DNS (getfqdn), which can stall.
        TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def track(self, connection: socket.socket, is_open: bool) -> None:
        with self._open_lock:
            (self._open.add if is_open else self._open.discard)(connection)

    def close_connections(self) -> None:
        with self._open_lock:
            connections, self._open = list(self._open), set()
        for connection in connections:
            _hang_up(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away is normal; anything else is logged, never printed.
        logger.debug("error while serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "WorkOS-Pipes-Emulator"
    timeout = 30.0  # idle keep-alive connections are closed after this long

    def setup(self) -> None:
        super().setup()
        self._server().track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._server().track(self.connection, False)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors found by ``http.server`` itself (bad request line...) get JSON too."""
        self.close_connection = True
        answer = error_response(code, message or "The request could not be read.", "bad_request")
        self._send(answer, _request_id())

    def log_message(self, format: str, *args: Any) -> None:
        if self._server().verbose:
            logger.info("%s %s", self.address_string(), format % args)

    def _server(self) -> EmulatorHTTPServer:
        server: BaseServer = self.server
        assert isinstance(server, EmulatorHTTPServer)
        return server

    def _serve(self) -> None:
        request_id = _request_id()
        body = self._read_body(request_id)
        if body is None:
            return
        response = self._server().dispatch(self._request(body, request_id))
        self._send(response, request_id)
        if self._server().verbose:
            logger.info('"%s %s" %s %s', self.command, self.path, response.status, request_id)

    def _read_body(self, request_id: str) -> bytes | None:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            self._send(error_response(411, "Send a Content-Length.", "length_required"), request_id)
            return None
        length = _content_length(self.headers.get("Content-Length"))
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            status = 413 if length > MAX_BODY else 400
            message = "Bad or oversized Content-Length."
            self._send(error_response(status, message, "bad_request"), request_id)
            return None
        return self.rfile.read(length) if length else b""

    def _request(self, body: bytes, request_id: str) -> Request:
        parts = urlsplit(self.path)
        return Request(
            method=self.command,
            target=self.path,
            path=parts.path,
            segments=tuple(unquote(segment) for segment in split_path(parts.path)),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            request_id=request_id,
        )

    def _send(self, response: Response, request_id: str) -> None:
        cut = response.cut_after is not None
        if cut:
            self.close_connection = True
        data = response.encode(
            request_id, close=self.close_connection, head_only=self.command == "HEAD"
        )
        try:
            self.wfile.write(data[: response.cut_after] if cut else data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
            return
        if cut:
            _hang_up(self.connection)


def _content_length(value: str | None) -> int:
    """The body's length, or -1 unless the header is plain ASCII digits.

    ``str.isdigit`` alone would let through ``³`` (Latin-1, as ``http.server`` decodes
    headers), which ``int`` then refuses, and ``int`` alone reads other scripts' digits.
    """
    if value is None:
        return 0
    return int(value) if value.isascii() and value.isdigit() else -1


def _hang_up(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the client
        connection.shutdown(socket.SHUT_RDWR)


def _request_id() -> str:
    return str(uuid.uuid4())


class BackgroundServer:
    """Runs an :class:`EmulatorHTTPServer` in a daemon thread."""

    def __init__(self, host: str, port: int, dispatch: Dispatch, *, verbose: bool = False) -> None:
        self._httpd = EmulatorHTTPServer((host, port), dispatch, verbose=verbose)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="workos-emulator-http",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        self._thread.join(timeout=5)
