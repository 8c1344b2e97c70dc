"""The example project as a real server process, the way ``run.py`` starts it.

``runserver --noreload`` (not a bare WSGI server) because the site's stylesheet is a
static file, which runserver serves in DEBUG: the screenshots show the real pages.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from django_workos_pipes.emulator import Emulator
from tests.system.processes import end_process

ROOT = Path(__file__).resolve().parents[3]
MANAGE = ROOT / "example_project" / "manage.py"


class ExampleSite:
    """The example site on ``127.0.0.1:port``, with its own database in ``state_dir``."""

    def __init__(self, port: int, state_dir: Path, env: Mapping[str, str]) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "example_project.settings",
            "EXAMPLE_STATE_DIR": str(state_dir),
            "PYTHONUNBUFFERED": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            **env,
        }
        # A DATABASE_URL or CACHE_URL of the developer's must not leak into the test.
        for name in ("DATABASE_URL", "CACHE_URL"):
            if name not in env:
                self.env.pop(name, None)
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="dwp-example-", suffix=".log", delete=False
        )

    def start(self, timeout: float = 30.0) -> ExampleSite:
        """Migrate, create the demo user, start runserver and wait until it answers."""
        setup = subprocess.run(
            [sys.executable, str(MANAGE), "demo_setup"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if setup.returncode != 0:
            raise RuntimeError(f"demo_setup failed:\n{setup.stdout}{setup.stderr}")
        self.process = subprocess.Popen(
            [sys.executable, str(MANAGE), "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the example site exited:\n{self.log()}")
            with contextlib.suppress(OSError):
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                try:
                    connection.request("GET", "/login/")
                    connection.getresponse().read()
                    return self
                finally:
                    connection.close()
            time.sleep(0.1)
        raise RuntimeError(f"the example site never answered:\n{self.log()}")

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            end_process(self.process)
        self._log.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._log.name)

    def __enter__(self) -> ExampleSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Stack(NamedTuple):
    """The example site and the emulator it talks to (the ``stack`` fixture)."""

    site: ExampleSite
    emulator: Emulator
    api_key: str
    webhook_secret: str
