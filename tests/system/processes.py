"""Real Django server processes for tests that need more than one process.

``start_server("tests.system.faultsite.settings", env={...}, threads=4)`` starts
``python -m tests.system.processes`` (a stdlib WSGI server with a fixed pool of worker threads)
on a free port of 127.0.0.1, waits until it answers HTTP, and returns a
:class:`ServerProcess`; ``stop()`` (or leaving its ``with`` block) ends it.
``running_servers(2, ...)`` starts several at once and always stops them all.

The child binds port 0 and reports the port it got, so there is no race for a free
port; its log (request lines, warnings, tracebacks) goes to a file that
:meth:`ServerProcess.log` returns, for assertion messages.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

ROOT = Path(__file__).resolve().parents[2]
READY = "listening on port "


class ServerProcess:
    """One server process; start it with :meth:`start`, or use :func:`start_server`."""

    def __init__(
        self,
        settings_module: str,
        *,
        env: Mapping[str, str] | None = None,
        threads: int = 4,
        host: str = "127.0.0.1",
        cwd: Path = ROOT,
    ) -> None:
        self.settings_module = settings_module
        self.env = dict(env or {})
        self.threads = threads
        self.host = host
        self.cwd = cwd
        self.port: int | None = None
        self.process: subprocess.Popen[str] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="dwp-server-", suffix=".log", delete=False
        )

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the server has not reported its port yet")
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerProcess:
        """Launch the process; returns at once (see :meth:`wait_ready`)."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(self.cwd), os.environ.get("PYTHONPATH")])
            ),
            "PYTHONUNBUFFERED": "1",
            **self.env,
        }
        command = [sys.executable, "-m", "tests.system.processes", "--host", self.host]
        command += ["--threads", str(self.threads)]
        self.process = subprocess.Popen(
            command,
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        return self

    def wait_ready(self, timeout: float = 15.0, path: str = "/") -> ServerProcess:
        """Wait until the process reports its port and answers a GET of ``path``."""
        deadline = time.monotonic() + timeout
        self.port = self._read_port(deadline)
        while True:
            try:
                self.request("GET", path, timeout=max(0.1, deadline - time.monotonic()))
                return self
            except OSError:
                if time.monotonic() >= deadline or not self.alive:
                    raise RuntimeError(f"server never answered:\n{self.log()}") from None
                time.sleep(0.05)

    def _read_port(self, deadline: float) -> int:
        assert self.process is not None and self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    line = self.process.stdout.readline()
                    if line.startswith(READY):
                        return int(line[len(READY) :])
                    if not line:  # the process exited before it was ready
                        break
        raise RuntimeError(f"server did not start:\n{self.log()}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> tuple[int, bytes]:
        """One HTTP request to this server: (status, body). No proxies, bounded wait."""
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate the process (kill it if it lingers) and remove its log file."""
        code = None
        if self.process is not None:
            code = end_process(self.process, timeout=timeout)
            if self.process.stdout is not None:
                self.process.stdout.close()
        self._log.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._log.name)
        return code

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def end_process(
    process: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 5.0
) -> int:
    """Send ``sig`` to a process still running and wait for it, killing it if it lingers
    past ``timeout``; its exit code."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait(timeout)


def run_python(
    *args: str, env: Mapping[str, str], cwd: Path = ROOT, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` to the end and assert it succeeded (its output says why not)."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def start_server(
    settings_module: str,
    *,
    env: Mapping[str, str] | None = None,
    threads: int = 4,
    timeout: float = 15.0,
    ready_path: str = "/",
) -> ServerProcess:
    """A server process of ``settings_module``, started and answering."""
    server = ServerProcess(settings_module, env=env, threads=threads)
    try:
        return server.start().wait_ready(timeout, ready_path)
    except BaseException:
        server.stop()
        raise


@contextlib.contextmanager
def running_servers(
    count: int,
    settings_module: str,
    *,
    env: Mapping[str, str] | None = None,
    threads: int = 4,
    timeout: float = 15.0,
    ready_path: str = "/",
) -> Iterator[list[ServerProcess]]:
    """``count`` server processes, started in parallel; all stopped on leaving."""
    servers = [ServerProcess(settings_module, env=env, threads=threads) for _ in range(count)]
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready(timeout, ready_path)
        yield servers
    finally:
        for server in servers:
            server.stop()


# The child process.


class PooledWSGIServer(WSGIServer):
    """wsgiref's server with a fixed pool of worker threads, like a threaded app server."""

    def __init__(self, address: tuple[str, int], threads: int) -> None:
        super().__init__(address, QuietHandler)
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="wsgi")

    def process_request(self, request: Any, client_address: Any) -> None:
        self.pool.submit(self._serve, request, client_address)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else '?'}\n")


def serve(host: str, threads: int) -> None:
    import django
    from django.core.wsgi import get_wsgi_application

    django.setup()
    application = get_wsgi_application()
    server = PooledWSGIServer((host, 0), threads)
    server.set_app(application)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{READY}{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        server.pool.shutdown(wait=False, cancel_futures=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--threads", type=int, default=4)
    arguments = parser.parse_args()
    serve(arguments.host, arguments.threads)
