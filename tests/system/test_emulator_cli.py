"""The emulator as a real process: status line, signals, options and ``--state``."""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import requests

from django_workos_pipes.emulator import EVENT_CONNECTED, Emulator, StateFileError
from tests.emulator.calls import SECRET
from tests.servers import Receiver

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk_test_cli_0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
MODULE = [sys.executable, "-m", "django_workos_pipes.emulator"]
COMMAND = [sys.executable, "-m", "django", "workos_pipes_emulator", "--settings=tests.settings"]


class EmulatorProcess:
    """A spawned emulator; :meth:`status_line` waits (bounded) for its first line."""

    def __init__(self, command: Sequence[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        env.pop("DJANGO_SETTINGS_MODULE", None)  # the emulator must not need any
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.line = ""
        self.url = ""

    def status_line(self, timeout: float = 15) -> str:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.stop()
                pytest.fail(f"no status line within {timeout} s: {self.stop()}")
        self.line = self.process.stdout.readline()
        match = re.search(r"listening on (http://\S+) ", self.line)
        assert match, f"unexpected status line {self.line!r}; {self.stop()}"
        self.url = match.group(1)
        return self.line

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        """Signal it, wait (bounded) and return ``(exit code, rest of stdout, stderr)``."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            out, err = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate(timeout=5)
            pytest.fail(f"the emulator did not stop on signal {sig}: {err}")
        return self.process.returncode, out, err


@pytest.fixture
def spawn() -> Iterator[type[EmulatorProcess]]:
    started: list[EmulatorProcess] = []

    class Tracked(EmulatorProcess):
        def __init__(self, command: Sequence[str]) -> None:
            super().__init__(command)
            started.append(self)

    yield Tracked
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.communicate(timeout=5)


def token(http: requests.Session, url: str, provider: str = "salesforce") -> requests.Response:
    return http.post(
        f"{url}/data-integrations/{provider}/token", json={"user_id": "user_1"}, headers=AUTH
    )


def test_the_cli_serves_until_sigterm_and_never_prints_the_key(
    spawn: type[EmulatorProcess], http: requests.Session
) -> None:
    receiver = Receiver(SECRET)
    try:
        emulator = spawn(
            [
                *MODULE,
                *("--port", "0", "--api-key", KEY),
                *("--webhook-url", receiver.url, "--webhook-secret", SECRET),
            ]
        )
        line = emulator.status_line()
        assert line.count("\n") == 1
        assert emulator.url.startswith("http://127.0.0.1:")
        assert "sk_t\u2026" in line and KEY not in line
        assert f"{emulator.url}/_emulator/" in line
        assert receiver.url in line

        assert token(http, emulator.url).json() == {"active": False, "error": "not_installed"}
        who = {"provider": "salesforce", "user_id": "user_1"}
        assert http.post(f"{emulator.url}/_emulator/connections", json=who).status_code == 201
        assert token(http, emulator.url).json()["active"] is True
        assert [event["event"] for event in receiver.events()] == [EVENT_CONNECTED]

        code, out, err = emulator.stop(signal.SIGTERM)
    finally:
        receiver.close()
    assert code == 0
    assert KEY not in out and KEY not in err
    assert err == ""  # quiet: no access log without --verbose


def test_ctrl_c_stops_it_cleanly(spawn: type[EmulatorProcess]) -> None:
    emulator = spawn([*MODULE, "--port", "0"])
    emulator.status_line()
    code, _, err = emulator.stop(signal.SIGINT)
    assert code == 0
    assert "Traceback" not in err


def test_verbose_logs_each_request(spawn: type[EmulatorProcess], http: requests.Session) -> None:
    emulator = spawn([*MODULE, "--port", "0", "--api-key", KEY, "--verbose"])
    emulator.status_line()
    token(http, emulator.url)
    _, _, err = emulator.stop()
    assert "POST /data-integrations/salesforce/token" in err
    assert KEY not in err


def test_the_management_command_runs_the_same_emulator(
    spawn: type[EmulatorProcess], http: requests.Session
) -> None:
    emulator = spawn([*COMMAND, "--port", "0", "--api-key", KEY])
    line = emulator.status_line()
    assert "sk_t\u2026" in line and KEY not in line
    assert token(http, emulator.url).json()["error"] == "not_installed"
    code, out, err = emulator.stop(signal.SIGINT)
    assert code == 0, err
    assert KEY not in out + err


@pytest.mark.parametrize("command", [MODULE, COMMAND], ids=["module", "command"])
def test_a_webhook_url_needs_a_secret(command: list[str]) -> None:
    finished = subprocess.run(
        [*command, "--port", "0", "--webhook-url", "http://127.0.0.1:9/hook"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode != 0
    assert "--webhook-secret" in finished.stderr


def test_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        finished = subprocess.run(
            [*MODULE, "--port", str(port)], capture_output=True, text=True, timeout=30, cwd=ROOT
        )
    assert finished.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_the_state_file_keeps_connections_across_a_restart(
    spawn: type[EmulatorProcess], http: requests.Session, tmp_path: Path
) -> None:
    state = tmp_path / "emulator-state.json"
    first = spawn([*MODULE, "--port", "0", "--api-key", KEY, "--state", str(state)])
    first.status_line()
    who = {"provider": "salesforce", "user_id": "user_1", "organization_id": "org_1"}
    created = http.post(f"{first.url}/_emulator/connections", json=who).json()
    http.post(f"{first.url}/_emulator/connections/needs_reauthorization", json=who)
    http.post(f"{first.url}/_emulator/connections", json={**who, "organization_id": None})
    assert first.stop()[0] == 0
    assert json.loads(state.read_text())["version"] == 1

    second = spawn([*MODULE, "--port", "0", "--api-key", KEY, "--state", str(state)])
    second.status_line()
    kept = {
        (c["organization_id"], c["id"], c["state"], c["access_token"])
        for c in http.get(f"{second.url}/_emulator/state").json()["connections"]
    }
    assert (
        "org_1",
        created["id"],
        "needs_reauthorization",
        created["access_token"],
    ) in kept
    assert len(kept) == 2
    assert token(http, second.url).json()["active"] is True  # the org-less one
    assert second.stop()[0] == 0


def test_the_state_file_from_python(tmp_path: Path, http: requests.Session) -> None:
    state = tmp_path / "nested" / "state.json"
    with Emulator(api_key=KEY, state_file=state) as emu:
        emu.connect("slack", "user_1", scopes=["chat:write"], missing_scopes=["users:read"])
        emu.connect("github", "user_2", organization_id="org_1")
        emu.expire("github", "user_2", "org_1")
        before = {c.key: c for c in emu.connections()}
    with Emulator(api_key=KEY, state_file=state) as again:
        assert {c.key: c for c in again.connections()} == before
        rotated = http.post(
            f"{again.url}/data-integrations/github/token",
            json={"user_id": "user_2", "organization_id": "org_1"},
            headers=AUTH,
        ).json()["access_token"]["access_token"]
        assert rotated != before[("github", "user_2", "org_1")].access_token
        again.reset()
    assert Emulator(api_key=KEY, state_file=state).connections() == []


def test_a_broken_state_file_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json")
    with pytest.raises(StateFileError, match=r"state\.json"):
        Emulator(state_file=state)
    finished = subprocess.run(
        [*MODULE, "--port", "0", "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert finished.returncode == 2
    assert "not an emulator state file" in finished.stderr
