"""The example project: its checks, and ``run.py``, the one command, as a user runs it.

``run.py`` is started for real (emulator and site as its children, on free ports, with
a database of the test's own), driven over HTTP like a browser would, and stopped with
Ctrl-C's signal; the browser test covers the consent pages on top of this.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from example_project.demo import accounts
from tests.system.processes import ROOT, run_python

pytestmark = pytest.mark.processes

RUN = ROOT / "example_project" / "run.py"
MANAGE = ROOT / "example_project" / "manage.py"


def example_env(state_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CACHE_URL")}
    env.update(EXAMPLE_STATE_DIR=str(state_dir), NO_PROXY="127.0.0.1,localhost")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too, only not yet reaped by its parent.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


class Running:
    """``run.py`` started as a user would, its output collected as it comes."""

    def __init__(self, state_dir: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(RUN), "--port", "0", "--emulator-port", "0", *args],
            cwd=ROOT,
            env=example_env(state_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.output = ""

    def read_until(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while True:
                found = re.search(pattern, self.output)
                if found:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no {pattern!r} in:\n{self.output}")
                if selector.select(remaining):
                    # Raw reads: a buffered readline would hide lines from select().
                    chunk = os.read(self.process.stdout.fileno(), 65536)
                    if not chunk:
                        raise AssertionError(f"run.py ended before {pattern!r}:\n{self.output}")
                    self.output += chunk.decode(errors="replace")

    def finish(self, timeout: float = 15.0) -> int:
        assert self.process.stdout is not None
        code = self.process.wait(timeout)
        self.output += self.process.stdout.read().decode(errors="replace")
        return code

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if not path.exists():
            pytest.skip("needs Linux's /proc/<pid>/task/<pid>/children")
        return [int(pid) for pid in path.read_text().split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    started = Running(tmp_path)
    try:
        yield started
    finally:
        pids = [] if started.process.poll() is not None else started.children()
        started.stop()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def logged_in(site: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy for loopback
    page = session.get(f"{site}/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text
    answer = session.post(
        f"{site}/login/",
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": accounts.USERNAME,
            "password": accounts.PASSWORD,
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/", answer.text
    return session


def emulator_call(emulator: str, action: str, **body: object) -> dict[str, object]:
    answer = requests.post(f"{emulator}/_emulator/{action}", json=body, timeout=10)
    assert answer.status_code in (200, 201), answer.text
    result: dict[str, object] = answer.json()
    return result


def test_run_py_serves_the_site_against_its_emulator_and_stops_on_ctrl_c(
    running: Running,
) -> None:
    site = running.read_until(r"Site\s+(http://127\.0\.0\.1:\d+)/").group(1)
    emulator = running.read_until(r"Emulator control\s+(http://127\.0\.0\.1:\d+)/_emulator/")[1]
    running.read_until(rf"Demo login\s+{accounts.USERNAME} / {accounts.PASSWORD}")
    running.read_until("Press Ctrl-C to stop both")
    children = running.children()
    assert len(children) == 2
    emulator_pid = next(
        pid for pid in children if "django_workos_pipes.emulator" in _arguments(pid)
    )
    environ = dict(
        entry.split("=", 1)
        for entry in Path(f"/proc/{emulator_pid}/environ").read_text().split("\0")
        if "=" in entry
    )
    secrets_ = [environ["WORKOS_API_KEY"], environ["WORKOS_WEBHOOK_SECRET"]]
    # They travel in the environment, never in arguments the process list shows.
    assert all(secret not in " ".join(_arguments(pid)) for pid in children for secret in secrets_)

    session = logged_in(site)
    user = accounts.WORKOS_USER_ID
    hubspot = emulator_call(emulator, "connections", provider="hubspot", user_id=user)
    slack = emulator_call(emulator, "connections", provider="slack", user_id=user)
    jira = emulator_call(emulator, "connections", provider="jira", user_id=user)
    tokens = [str(c["access_token"]) for c in (hubspot, slack, jira)]

    # The async page with two providers stacked, and the class-based view.
    for path, wanted in (("/crm-and-chat/", tokens[:2]), ("/jira/", tokens[2:])):
        page = session.get(f"{site}{path}", allow_redirects=False, timeout=10)
        assert page.status_code == 200, page.text
        for token in wanted:
            assert token[:4] + "…" in page.text
        for token in tokens:
            assert token not in page.text
    dashboard = session.get(f"{site}/", timeout=10).text
    assert dashboard.count(">Connected<") == 3
    assert "/_emulator/" in dashboard  # the header links to the control page

    # The emulator's webhook, signed with the secret run.py shared, reaches the site:
    # the cached Jira token is forgotten at once.
    emulator_call(emulator, "connections/needs_reauthorization", provider="jira", user_id=user)
    page = session.get(f"{site}/jira/", allow_redirects=False, timeout=10)
    assert page.status_code == 302
    assert page.headers["Location"] == "/pipes/reauthorize/jira/?next=/jira/"

    # Ctrl-C: both children stop, and so does run.py, successfully.
    running.process.send_signal(signal.SIGINT)
    assert running.finish() == 0, running.output
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in children)
    assert "Stopping the site and the emulator" in running.output

    # The API key and the webhook secret run.py made never show in its output.
    assert secrets_ and not any(value in running.output for value in secrets_)


def test_run_py_stops_the_site_when_the_emulator_dies(running: Running) -> None:
    running.read_until("Press Ctrl-C to stop both")
    children = running.children()
    emulator_pid = next(
        pid for pid in children if "django_workos_pipes.emulator" in _arguments(pid)
    )

    os.kill(emulator_pid, signal.SIGKILL)

    assert running.finish() == 1, running.output
    assert "the emulator stopped" in running.output
    assert not any(alive(pid) for pid in children)


def test_run_py_refuses_a_port_in_use_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(RUN), "--port", str(port), "--emulator-port", "0"],
            cwd=ROOT,
            env=example_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=30,
        )

    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is not available" in result.stderr
    assert "--port / EXAMPLE_PORT" in result.stderr
    assert "Preparing" not in result.stdout
    assert not (tmp_path / "db.sqlite3").exists()


def test_the_example_passes_its_checks_and_its_migrations_are_complete(tmp_path: Path) -> None:
    env = example_env(tmp_path)
    env.update(WORKOS_API_KEY="sk_test_check", WORKOS_WEBHOOK_SECRET="whsec_check")
    for command in (["check", "--fail-level", "WARNING"], ["makemigrations", "--check"]):
        run_python(str(MANAGE), *command, env=env)


def _arguments(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_text().split("\0")
