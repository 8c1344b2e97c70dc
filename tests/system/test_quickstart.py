"""The README's Quick start, as a newcomer follows it: a brand-new project, to a token.

The snippets are read from README.md (``tests/readme.py``), so the README and this test
can't drift apart: each Python block of the Quick start names its file in its first line
and is appended, as it is, to that file of a project ``django-admin startproject`` has just made. Then
the emulator, ``migrate``, ``createsuperuser --noinput`` and ``runserver`` run as real
processes, and a plain HTTP client logs in as that superuser (through the admin's login
page, the Quick start's ``LOGIN_URL``), is sent to connect Salesforce, allows it on the
emulator's consent page and lands on the decorated view, which shows the token.

``QUICKSTART_PYTHON`` names the interpreter of another environment, e.g. one made by a
plain ``pip install "django-workos-pipes[redis]"``, to run (and time) the project there.
"""

from __future__ import annotations

import os
import re
import secrets
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.readme import snippets
from tests.servers import free_port
from tests.system.processes import end_process

PROJECT = "mysite"


class Steps:
    """Times each step, as a newcomer would live them."""

    def __init__(self) -> None:
        self.times: list[tuple[str, float]] = []
        self._started = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.times.append((name, now - self._started))
        self._started = now

    def report(self) -> str:
        total = sum(seconds for _, seconds in self.times)
        lines = [f"  {name:<44} {seconds:6.2f} s" for name, seconds in self.times]
        return "\n".join(["Quick start, step by step:", *lines, f"  {'total':<44} {total:6.2f} s"])


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def spawn(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A process that keeps running, its output (stderr too) on one pipe."""
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_for_line(process: subprocess.Popen[bytes], pattern: str, timeout: float = 30) -> str:
    """The first match of ``pattern`` in the process's output."""
    assert process.stdout is not None
    output = ""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (found := re.search(pattern, output)) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise AssertionError(f"no {pattern!r} in:\n{output}")
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"the process ended before {pattern!r}:\n{output}")
            output += chunk.decode(errors="replace")
    return found.group(1)


def wait_for_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        end_process(process, timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.mark.processes
@pytest.mark.redis
def test_a_new_project_gets_a_token_by_following_the_quick_start(
    tmp_path: Path,
    redis_url: str,
    redis_prefix: str,
    processes: list[subprocess.Popen[bytes]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    steps = Steps()
    site_port = free_port()
    site = f"http://127.0.0.1:{site_port}"
    password = secrets.token_urlsafe(12)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")
    }
    env.update(
        WORKOS_API_KEY="sk_test_emulator",
        WORKOS_WEBHOOK_SECRET=f"whsec_{secrets.token_hex(16)}",
        REDIS_URL=redis_url,
        DJANGO_SUPERUSER_USERNAME="admin",
        DJANGO_SUPERUSER_EMAIL="admin@example.com",
        DJANGO_SUPERUSER_PASSWORD=password,
        NO_PROXY="127.0.0.1,localhost",
        PYTHONUNBUFFERED="1",
    )
    python = os.environ.get("QUICKSTART_PYTHON") or sys.executable

    run([python, "-m", "django", "startproject", PROJECT, str(tmp_path)], tmp_path, env)
    steps.done("django-admin startproject")

    package = tmp_path / PROJECT
    for name, code in snippets():
        path = package / name
        text = path.read_text() if path.exists() else ""
        path.write_text(f"{text}\n\n{code}")
    # The one line that is not the README's: this test's own keys in the shared Redis.
    with (package / "settings.py").open("a") as settings_file:
        settings_file.write(f'\nCACHES["default"]["KEY_PREFIX"] = "{redis_prefix}"\n')
    steps.done("README snippets appended")

    emulator_options = ["--port", "0", "--webhook-url", f"{site}/pipes/webhook/"]
    emulator_options += ["--webhook-secret", env["WORKOS_WEBHOOK_SECRET"]]
    emulator = spawn(
        [python, "-m", "django_workos_pipes.emulator", *emulator_options], tmp_path, env
    )
    processes.append(emulator)
    env["WORKOS_BASE_URL"] = wait_for_line(emulator, r"listening on (http://\S+) ")
    steps.done("emulator started")

    run([python, "manage.py", "migrate", "--noinput"], tmp_path, env)
    steps.done("manage.py migrate")
    run([python, "manage.py", "createsuperuser", "--noinput"], tmp_path, env)
    steps.done("manage.py createsuperuser")

    runserver = ["manage.py", "runserver", "--noreload", f"127.0.0.1:{site_port}"]
    server = spawn([python, *runserver], tmp_path, env)
    processes.append(server)
    wait_for_http(site)
    steps.done("manage.py runserver answering")

    browser = requests.Session()
    browser.trust_env = False  # no proxy between the test and its loopback servers
    response = browser.get(f"{site}/salesforce/", allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/login/?next=/salesforce/"
    login_page = browser.get(site + response.headers["Location"])
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text)
    assert csrf, login_page.text
    response = browser.post(
        login_page.url,
        data={
            "csrfmiddlewaretoken": csrf.group(1),
            "username": "admin",
            "password": password,
            "next": "/salesforce/",
        },
        headers={"Referer": login_page.url},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == "/salesforce/"
    steps.done("logged in through the admin's login page")

    # Linked (the superuser's WorkOS user is created), then sent to connect.
    response = browser.get(f"{site}/salesforce/", allow_redirects=False)
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == "/pipes/connect/salesforce/?next=/salesforce/"
    response = browser.get(site + response.headers["Location"], allow_redirects=False)
    assert response.status_code == 302, response.text
    consent_url = response.headers["Location"]
    assert consent_url.startswith(env["WORKOS_BASE_URL"] + "/consent/")
    assert "Allow" in browser.get(consent_url).text
    response = browser.post(consent_url, data={"decision": "allow"}, allow_redirects=False)
    assert response.status_code in (302, 303), response.text
    assert response.headers["Location"] == f"{site}/salesforce/"
    page = browser.get(response.headers["Location"], allow_redirects=False)
    steps.done("connected Salesforce on the consent page")

    assert page.status_code == 200, page.text
    assert re.fullmatch(r"Connected to Salesforce \(token \S+…\)", page.text), page.text
    with capsys.disabled():
        print("\n" + steps.report())
