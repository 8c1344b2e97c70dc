"""The README's background-job recipe (tests/jobs.py) in a worker process of its own: from
ids only, with the real HTTP client, WorkOS and Salesforce on loopback sockets."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.builders import inactive_answer, token_answer
from tests.provider import ProviderServer
from tests.servers import Answer, LoopbackServer, json_answer
from tests.system.processes import ROOT, run_python

DEAD, FRESH = "ya29.dead-at-the-provider", "ya29.fresh-from-workos"


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
            return json_answer(token_answer(DEAD if calls == 1 else FRESH))
        if calls == 1:
            return json_answer(token_answer(DEAD))
        return json_answer(inactive_answer("needs_reauthorization"))

    with LoopbackServer(workos_answer) as workos, ProviderServer(FRESH) as provider:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "WORKOS_BASE_URL": workos.url,
            "PYTHONPATH": str(ROOT),
        }
        done = run_python("-c", WORKER, provider.url, env=env)
        assert json.loads(done.stdout) == ["synced", "needs the user", "paused"]
        assert provider.seen == [DEAD, FRESH, DEAD]
        assert workos.count == 4
