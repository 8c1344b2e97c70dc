#!/usr/bin/env python3
"""Run the example site and the local WorkOS Pipes emulator together: one command.

    python3 scripts/dev.py example          # makes the venv, then runs this
    .venv/bin/python example_project/run.py [--port 8000] [--emulator-port 4100]

It prepares the database (migrations, the demo users), starts the emulator and the site
as two child processes sharing one API key and one webhook secret (fresh for each run,
passed through the environment), prints where to go and how to log in, and stops both
on Ctrl-C. If either stops by itself, the other is stopped too and the exit code is 1.

Ports come from the flags, else ``EXAMPLE_PORT`` / ``EMULATOR_PORT``, else 8000 and
4100; 0 picks a free one. A port in use is reported before anything starts.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MANAGE = HERE / "manage.py"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0

sys.path.insert(0, str(ROOT))
from example_project.demo import accounts  # noqa: E402  (no Django import)


class Stop(Exception):
    """SIGINT or SIGTERM arrived: stop the children and leave."""


class StartupError(Exception):
    """Something kept the example from starting; the message says what to do."""


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: list[Child] = []
    try:
        return run(options, children)
    except StartupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Stop:
        print("\nStopping the site and the emulator ...", flush=True)
        return 0
    finally:
        # Ctrl-C reached the children too (same process group); be sure all the same,
        # and let a second Ctrl-C not cut this short.
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        for child in reversed(children):
            child.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="example_project/run.py",
        description="Run the example site and the local WorkOS Pipes emulator.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface for both (%(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=_env_port("EXAMPLE_PORT", 8000),
        help="the site's port; env EXAMPLE_PORT (default: %(default)s)",
    )
    parser.add_argument(
        "--emulator-port",
        type=int,
        default=_env_port("EMULATOR_PORT", 4100),
        help="the emulator's port; env EMULATOR_PORT (default: %(default)s)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("EXAMPLE_STATE_DIR", HERE / ".state")),
        help="where the SQLite database and the emulator's connections are kept",
    )
    return parser.parse_args(argv)


def run(options: argparse.Namespace, children: list[Child]) -> int:
    host = options.host
    site_port = claim_port(host, options.port, "--port / EXAMPLE_PORT")
    emulator_port = claim_port(host, options.emulator_port, "--emulator-port / EMULATOR_PORT")
    if site_port == emulator_port:
        raise StartupError(f"the site and the emulator can't share port {site_port}.")
    state_dir: Path = options.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)

    site_url = f"http://{_url_host(host)}:{site_port}"
    emulator_url = f"http://{_url_host(host)}:{emulator_port}"
    api_key = "sk_test_" + secrets.token_hex(16)
    webhook_secret = "whsec_" + secrets.token_hex(16)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "EXAMPLE_STATE_DIR": str(state_dir),
        "WORKOS_API_KEY": api_key,
        "WORKOS_BASE_URL": emulator_url,
        "WORKOS_WEBHOOK_SECRET": webhook_secret,
        "EMULATOR_URL": emulator_url,
        "PYTHONUNBUFFERED": "1",
        # Loopback calls must never go through a proxy configured for the internet.
        "NO_PROXY": _no_proxy(),
        "no_proxy": _no_proxy(),
    }

    print("Preparing the database (migrations, demo users) ...", flush=True)
    setup = subprocess.run([sys.executable, str(MANAGE), "demo_setup"], env=env, check=False)
    if setup.returncode != 0:
        raise StartupError("preparing the database failed (see above).")

    emulator = Child(
        "emulator",
        [
            sys.executable,
            "-m",
            "django_workos_pipes.emulator",
            "--host",
            host,
            "--port",
            str(emulator_port),
            # The API key and the webhook secret travel in the environment, not in
            # arguments that any local user could read from the process list.
            "--webhook-url",
            f"{site_url}/pipes/webhook/",
            "--state",
            str(state_dir / "emulator.json"),
        ],
        env,
    )
    children.append(emulator)
    emulator.wait_until_answering(f"{emulator_url}/_emulator/state")

    bind = f"[{host}]" if ":" in host else host
    site = Child(
        "site",
        [sys.executable, str(MANAGE), "runserver", "--noreload", f"{bind}:{site_port}"],
        env,
    )
    children.append(site)
    site.wait_until_answering(f"{site_url}/login/")

    print(banner(site_url, emulator_url), flush=True)
    while True:
        for child in children:
            code = child.process.poll()
            if code is not None:
                others = " and ".join(c.name for c in children if c is not child)
                print(
                    f"\nerror: the {child.name} stopped (exit code {code}); stopping the {others}.",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
        time.sleep(0.2)


def banner(site_url: str, emulator_url: str) -> str:
    rule = "-" * 64
    return "\n".join(
        [
            "",
            rule,
            "  django-workos-pipes example",
            "",
            f"  Site              {site_url}/",
            f"  Demo login        {accounts.USERNAME} / {accounts.PASSWORD}",
            f"  {accounts.ORGANIZATION_NAME + ' logins':<18}{accounts.ADMIN_USERNAME} connects "
            f"{accounts.ORGANIZATION_NAME}'s Salesforce, {accounts.MEMBER_USERNAME} uses it "
            "(same password)",
            f"  Emulator control  {emulator_url}/_emulator/",
            "",
            "  Press Ctrl-C to stop both.",
            rule,
            "",
        ]
    )


class Child:
    """A child process with a name, started at once, stopped gently then firmly."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)

    def wait_until_answering(self, url: str) -> None:
        """Poll ``url`` until it answers (any status); the child dying is an error."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise StartupError(f"the {self.name} could not start (exit code {code}).")
            try:
                with opener.open(url, timeout=1):
                    return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        raise StartupError(f"the {self.name} did not answer at {url} within {READY_TIMEOUT:.0f} s.")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def claim_port(host: str, port: int, flag: str) -> int:
    """``port`` if nothing listens there (0: any free one); else a clear error."""
    if not 0 <= port <= 65535:
        raise StartupError(f"{port} is not a port number ({flag}).")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As the servers themselves do, so a port left in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StartupError(
                f"port {port} on {host} is not available ({exc.strerror}). Stop what uses "
                f"it, or choose another port with {flag}."
            ) from None
        return int(probe.getsockname()[1])


def _env_port(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        sys.exit(f"error: {name}={value!r} is not a port number.")
    return int(value)


def _url_host(host: str) -> str:
    loopback = {"0.0.0.0": "127.0.0.1", "::": "::1"}
    host = loopback.get(host, host)
    return f"[{host}]" if ":" in host else host


def _no_proxy() -> str:
    existing = os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or ""
    return ",".join(filter(None, [existing, "127.0.0.1", "localhost", "::1"]))


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop


if __name__ == "__main__":
    sys.exit(main())
