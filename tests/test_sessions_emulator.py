"""Provider sessions against the emulator over loopback: the real package (service,
cache, ``PipesAuth``, decorator) meets the emulator's WorkOS API and its stand-in
provider API, ``/_provider/{slug}/me`` (issue 14).

- A token that died early ("Expire token"): the provider refuses it, the session asks
  WorkOS once, which hands out a fresh one, and the request is resent once.
- A grant revoked at the provider: WorkOS then answers ``needs_reauthorization``, and
  the decorated view sends the user to reauthorize.
- 16 threads meeting one dead token at once: one token call upstream.
- Three members of an organization sharing its connection: one token call, and one more
  when the shared token dies early.

Each test prints its figures (``pytest -s``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from django.http import JsonResponse
from django.test import Client
from django.urls import path

from django_workos_pipes import pipes
from django_workos_pipes.conf import app_settings
from django_workos_pipes.decorators import PipesHttpRequest, require_pipe
from django_workos_pipes.emulator import Emulator
from django_workos_pipes.redirects import reauthorize_url
from tests.emulator.calls import API_KEY, running
from tests.urls import with_pipes

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("stub_resolver"),
    pytest.mark.urls(__name__),
]

ANN = "user_ann"  # what tests.stubs' resolver makes of the user named ann
THREADS = 16


def me_url(provider: str) -> str:
    """The emulator's stand-in provider API, beside its WorkOS API."""
    return f"{app_settings.BASE_URL}/_provider/{provider}/me"


def provider_answer(response: requests.Response) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "resent": len(response.history),
        "first_status": response.history[0].status_code if response.history else None,
        "provider_said": response.json(),
    }


@require_pipe("salesforce")
def salesforce(request: PipesHttpRequest) -> JsonResponse:
    with request.pipes.session("salesforce") as session:
        response = session.get(me_url("salesforce"), timeout=5)
    return JsonResponse(provider_answer(response))


urlpatterns = with_pipes(
    path("salesforce/", salesforce),
)


@pytest.fixture
def site_emulator(settings: Any) -> Iterator[Emulator]:
    """The emulator, and the package pointed at it (no retries: every call shows)."""
    with running() as emulator:
        settings.WORKOS_PIPES = {
            **settings.WORKOS_PIPES,
            "API_KEY": API_KEY,
            "BASE_URL": emulator.url,
            "MAX_RETRIES": 0,
        }
        yield emulator


def figures(site_emulator: Emulator, since: tuple[int, int]) -> tuple[int, int]:
    """(provider calls, token calls) since ``since``."""
    return site_emulator.provider_calls - since[0], site_emulator.token_calls - since[1]


def test_a_token_that_died_early_is_renewed_once_and_the_request_resent(
    site_emulator: Emulator,
) -> None:
    site_emulator.connect("salesforce", ANN)
    session = pipes.session("salesforce", user_id=ANN)
    first = session.get(me_url("salesforce"), timeout=5)
    assert first.status_code == 200 and first.history == []
    old = first.json()["token_fingerprint"]

    site_emulator.expire("salesforce", ANN)  # dies early; the cache still holds it (no webhook)
    before = (site_emulator.provider_calls, site_emulator.token_calls)
    answer = session.get(me_url("salesforce"), timeout=5)
    provider_calls, token_calls = figures(site_emulator, before)
    print(f"expired token: provider calls {provider_calls}, token calls {token_calls}")

    assert answer.status_code == 200
    assert [r.status_code for r in answer.history] == [401]
    assert answer.history[0].json()["error_description"] == "expired"
    assert answer.json()["token_fingerprint"] != old  # the fresh token WorkOS handed out
    assert (provider_calls, token_calls) == (2, 1)
    connection = site_emulator.connection("salesforce", ANN)
    assert connection is not None
    assert answer.json()["token"] == connection.access_token[:4] + "…"

    again = session.get(me_url("salesforce"), timeout=5)  # the new token is cached
    assert again.status_code == 200 and again.history == []
    assert figures(site_emulator, before) == (3, 1)


def test_the_decorated_view_resends_with_the_fresh_token(
    site_emulator: Emulator, client: Client
) -> None:
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("ann"))
    site_emulator.connect("salesforce", ANN)
    assert client.get("/salesforce/").json()["resent"] == 0
    site_emulator.expire("salesforce", ANN)
    page = client.get("/salesforce/").json()
    assert (page["status"], page["resent"], page["first_status"]) == (200, 1, 401)
    assert page["provider_said"]["user_id"] == ANN


def test_a_grant_revoked_at_the_provider_sends_the_user_to_reauthorize(
    site_emulator: Emulator, client: Client
) -> None:
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("ann"))
    site_emulator.connect("salesforce", ANN)
    assert client.get("/salesforce/").status_code == 200

    site_emulator.revoke_at_provider("salesforce", ANN)  # no webhook: the cached token looks fine
    before = (site_emulator.provider_calls, site_emulator.token_calls)
    page = client.get("/salesforce/")
    provider_calls, token_calls = figures(site_emulator, before)
    print(f"revoked grant: provider calls {provider_calls}, token calls {token_calls}")

    assert page.status_code == 302
    assert page.headers["Location"] == reauthorize_url("salesforce", "/salesforce/")
    assert (provider_calls, token_calls) == (1, 1)
    connection = site_emulator.connection("salesforce", ANN)
    assert connection is not None and connection.state == "needs_reauthorization"
    assert [event["event"] for event in site_emulator.events][-1].endswith(
        ".reauthorization_needed"
    )

    # Reauthorized (a new consent): the grant is back, the page works again.
    site_emulator.connect("salesforce", ANN)
    pipes.invalidate("salesforce", user_id=ANN)  # what the connected webhook would do
    assert client.get("/salesforce/").json()["status"] == 200


def test_sixteen_threads_meeting_one_dead_token_cost_one_token_call(
    site_emulator: Emulator,
) -> None:
    site_emulator.connect("salesforce", ANN)
    assert pipes.session("salesforce", user_id=ANN).get(me_url("salesforce")).status_code == 200
    site_emulator.expire("salesforce", ANN)
    before = (site_emulator.provider_calls, site_emulator.token_calls)
    start = threading.Barrier(THREADS)

    def call(_: int) -> tuple[int, int, str]:
        session = pipes.session("salesforce", user_id=ANN)
        start.wait()
        answer = session.get(me_url("salesforce"), timeout=10)
        return answer.status_code, len(answer.history), answer.json()["token_fingerprint"]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(call, range(THREADS)))
    provider_calls, token_calls = figures(site_emulator, before)
    print(
        f"{THREADS} threads, one dead token: provider calls {provider_calls}, token calls {token_calls}"
    )

    assert {status for status, _, _ in results} == {200}
    assert len({fingerprint for _, _, fingerprint in results}) == 1  # all on the fresh one
    assert token_calls == 1
    assert sum(resent for _, resent, _ in results) == provider_calls - THREADS


def test_members_share_the_organizations_token_and_its_renewal(site_emulator: Emulator) -> None:
    """Three members, the organization's one connection: one token call for all of
    them, and one more when the shared token dies early."""
    org, members = "org_acme", ("user_ann", "user_bob", "user_cy")
    site_emulator.connect("salesforce", "user_admin", org, owner="organization")
    sessions = [
        pipes.session("salesforce", user_id=m, organization_id=org, owner="organization")
        for m in members
    ]
    seen = {s.get(me_url("salesforce"), timeout=5).json()["connected_account_id"] for s in sessions}
    assert len(seen) == 1 and site_emulator.token_calls == 1

    site_emulator.expire("salesforce", None, org, owner="organization")
    before = (site_emulator.provider_calls, site_emulator.token_calls)
    answers = [s.get(me_url("salesforce"), timeout=5) for s in sessions]
    provider_calls, token_calls = figures(site_emulator, before)
    print(
        f"organization token expired, 3 members: provider calls {provider_calls}, token calls {token_calls}"
    )
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [len(a.history) for a in answers] == [1, 0, 0]  # the first renews it for all
    assert answers[0].json()["user_id"] is None and answers[0].json()["organization_id"] == org
    assert token_calls == 1
