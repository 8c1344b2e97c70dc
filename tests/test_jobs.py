"""The README's background-job recipe (tests/jobs.py, tests/tasks.py) run as a worker
would: from ids only, in a worker thread, as a Django task, and in another process.

A dead token is renewed; a connection that needs its user ends the run and pauses the
next ones (no retry loop) until the webhook says it is back; WorkOS down raises, for
the worker's retry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import django
import pytest
import responses
from django.test import Client

from django_workos_pipes.exceptions import PipesUnavailable
from django_workos_pipes.testing import post_webhook, webhook_event
from tests.jobs import sync_accounts
from tests.provider import API, Provider, ProviderServer, WorkOSTokens, token
from tests.servers import Answer, LoopbackServer, token_answer
from tests.stubs import inactive, token_url

ROOT = Path(__file__).resolve().parent.parent
USER = "user_01HZWORKER"
INSTANCE = API.split("/services/")[0]
DEAD, FRESH = "ya29.dead-at-the-provider", "ya29.fresh-from-workos"


def in_a_worker(*args: Any) -> Any:
    """Run ``sync_accounts`` in another thread, as a worker pool would: no request."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(sync_accounts, *args).result(timeout=30)


def test_the_readme_shows_the_recipe_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("jobs.py", "tasks.py"):
        assert f"```python\n{(ROOT / 'tests' / name).read_text()}```" in readme, name


def test_a_job_renews_a_token_that_died_early(upstream: responses.RequestsMock) -> None:
    workos = WorkOSTokens(upstream, [token(DEAD), token(FRESH)])
    provider = Provider(upstream, FRESH)
    assert in_a_worker(USER, INSTANCE) == "synced"
    assert provider.seen == [DEAD, FRESH]
    assert workos.bodies == [{"user_id": USER}] * 2


@pytest.mark.django_db
def test_a_revoked_grant_ends_the_run_and_pauses_the_next_until_the_user_is_back(
    upstream: responses.RequestsMock, client: Client
) -> None:
    workos = WorkOSTokens(upstream, [token(DEAD), inactive("needs_reauthorization")])
    provider = Provider(upstream, FRESH)

    assert in_a_worker(USER, INSTANCE) == "needs the user"
    assert (workos.count, provider.calls) == (2, 1)
    # The next runs call no one: no loop against WorkOS or Salesforce.
    assert in_a_worker(USER, INSTANCE) == "paused"
    assert in_a_worker(USER, INSTANCE) == "paused"
    assert (workos.count, provider.calls) == (2, 1)

    # The user reconnects: WorkOS's webhook invalidates the token and resumes the runs.
    workos.then(token(FRESH))
    assert post_webhook(client, webhook_event("connected", "salesforce", USER)).status_code == 200
    assert in_a_worker(USER, INSTANCE) == "synced"
    assert provider.seen[-1] == FRESH


def test_workos_down_raises_for_the_workers_retry(
    upstream: responses.RequestsMock, settings: Any
) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "MAX_RETRIES": 0}
    upstream.post(token_url("salesforce"), status=503)
    with pytest.raises(PipesUnavailable):
        in_a_worker(USER, INSTANCE)


@pytest.mark.skipif(django.VERSION < (6, 0), reason="django.tasks is new in Django 6.0")
def test_the_django_task_runs_the_job_from_ids(
    upstream: responses.RequestsMock, settings: Any
) -> None:
    from django.tasks import TaskResultStatus

    from tests.tasks import sync_accounts_task

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    WorkOSTokens(upstream, [token(DEAD), token(FRESH), inactive("needs_reauthorization")])
    provider = Provider(upstream, FRESH)

    synced = sync_accounts_task.enqueue(USER, INSTANCE)
    assert (synced.status, synced.return_value) == (TaskResultStatus.SUCCESSFUL, "synced")

    provider.live.clear()  # Revoked at the provider; WorkOS then answers inactive.
    ended = sync_accounts_task.enqueue(USER, INSTANCE)
    assert (ended.status, ended.return_value) == (TaskResultStatus.SUCCESSFUL, "needs the user")


WORKER = """
import json, sys
import django
django.setup()
from tests.jobs import sync_accounts
instance = sys.argv[1]
print(json.dumps([sync_accounts(user, instance) for user in ("user_early", "user_gone", "user_gone")]))
"""


@pytest.mark.processes
def test_a_worker_process_runs_the_job_from_ids_over_real_sockets() -> None:
    """Another Python process, the real HTTP client, WorkOS and Salesforce on loopback."""

    def workos_answer(request: dict[str, Any]) -> Answer:
        user = json.loads(request["body"])["user_id"]
        calls = sum(json.loads(r["body"])["user_id"] == user for r in workos.requests)
        if user == "user_early":
            return token_answer(DEAD if calls == 1 else FRESH)
        if calls == 1:
            return token_answer(DEAD)
        gone = json.dumps(inactive("needs_reauthorization")).encode()
        return 200, {"Content-Type": "application/json"}, gone

    with LoopbackServer(workos_answer) as workos, ProviderServer(FRESH) as provider:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "WORKOS_BASE_URL": workos.url,
            "PYTHONPATH": str(ROOT),
        }
        done = subprocess.run(
            [sys.executable, "-c", WORKER, provider.url],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == ["synced", "needs the user", "paused"]
        assert provider.seen == [DEAD, FRESH, DEAD]
        assert workos.count == 4
