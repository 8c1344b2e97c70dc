"""The README's background-job recipe (tests/jobs.py, tests/tasks.py) run as a worker
would: from ids only, in a worker thread and as a Django task
(tests/system/test_job_worker.py runs it in another process).

A dead token is renewed; a connection that needs its user ends the run and pauses the
next ones (no retry loop) until the webhook says it is back; WorkOS down raises, for
the worker's retry.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import django
import pytest
import responses
from django.test import Client

from django_workos_pipes.exceptions import PipesUnavailable
from django_workos_pipes.testing import post_webhook, webhook_event
from tests.builders import inactive_answer, token_answer
from tests.jobs import sync_accounts
from tests.provider import API, Provider
from tests.stubs import WorkOSTokens, token_url

ROOT = Path(__file__).resolve().parent.parent
USER = "user_01HZWORKER"
INSTANCE = API.split("/services/")[0]
DEAD, FRESH = "ya29.dead-at-the-provider", "ya29.fresh-from-workos"


def in_a_worker(*args: Any) -> Any:
    """Run ``sync_accounts`` in another thread, as a worker pool would: no request."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(sync_accounts, *args).result(timeout=30)


def test_the_docs_show_the_recipe_as_it_is() -> None:
    """The background-jobs guide includes these very files."""
    page = (ROOT / "docs" / "howto" / "jobs.md").read_text()
    for name in ("jobs.py", "tasks.py"):
        assert f"```{{literalinclude}} ../../tests/{name}\n```" in page, name


def test_a_job_renews_a_token_that_died_early(workos_stub: responses.RequestsMock) -> None:
    workos = WorkOSTokens(workos_stub, [token_answer(DEAD), token_answer(FRESH)])
    provider = Provider(workos_stub, FRESH)
    assert in_a_worker(USER, INSTANCE) == "synced"
    assert provider.seen == [DEAD, FRESH]
    assert workos.bodies == [{"user_id": USER}] * 2


@pytest.mark.django_db
def test_a_revoked_grant_ends_the_run_and_pauses_the_next_until_the_user_is_back(
    workos_stub: responses.RequestsMock, client: Client
) -> None:
    workos = WorkOSTokens(
        workos_stub, [token_answer(DEAD), inactive_answer("needs_reauthorization")]
    )
    provider = Provider(workos_stub, FRESH)

    assert in_a_worker(USER, INSTANCE) == "needs the user"
    assert (workos.count, provider.calls) == (2, 1)
    # The next runs call no one: no loop against WorkOS or Salesforce.
    assert in_a_worker(USER, INSTANCE) == "paused"
    assert in_a_worker(USER, INSTANCE) == "paused"
    assert (workos.count, provider.calls) == (2, 1)

    # The user reconnects: WorkOS's webhook invalidates the token and resumes the runs.
    workos.then(token_answer(FRESH))
    assert post_webhook(client, webhook_event("connected", "salesforce", USER)).status_code == 200
    assert in_a_worker(USER, INSTANCE) == "synced"
    assert provider.seen[-1] == FRESH


def test_workos_down_raises_for_the_workers_retry(
    workos_stub: responses.RequestsMock, settings: Any
) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "MAX_RETRIES": 0}
    workos_stub.post(token_url("salesforce"), status=503)
    with pytest.raises(PipesUnavailable):
        in_a_worker(USER, INSTANCE)


@pytest.mark.skipif(django.VERSION < (6, 0), reason="django.tasks is new in Django 6.0")
def test_the_django_task_runs_the_job_from_ids(
    workos_stub: responses.RequestsMock, settings: Any
) -> None:
    from django.tasks import TaskResultStatus

    from tests.tasks import sync_accounts_task

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    WorkOSTokens(
        workos_stub,
        [token_answer(DEAD), token_answer(FRESH), inactive_answer("needs_reauthorization")],
    )
    provider = Provider(workos_stub, FRESH)

    synced = sync_accounts_task.enqueue(USER, INSTANCE)
    assert (synced.status, synced.return_value) == (TaskResultStatus.SUCCESSFUL, "synced")

    provider.live.clear()  # Revoked at the provider; WorkOS then answers inactive.
    ended = sync_accounts_task.enqueue(USER, INSTANCE)
    assert (ended.status, ended.return_value) == (TaskResultStatus.SUCCESSFUL, "needs the user")
