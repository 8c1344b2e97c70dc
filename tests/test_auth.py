"""``PipesAuth`` and ``pipes.session``: a token that dies early at the provider is renewed
once and the request sent again; a connection only the user can fix is an exception.

The provider's API and WorkOS are stood in for at the HTTP layer (``responses``); the
service, its cache and its single flight are real, threads included.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
import responses
from asgiref.sync import async_to_sync
from django.dispatch import Signal
from django.test import override_settings

from django_workos_pipes import pipes
from django_workos_pipes.auth import PipesAuth
from django_workos_pipes.exceptions import (
    PROVIDER_REJECTED_TOKEN,
    PipesReauthorizationRequired,
    PipesUnavailable,
)
from django_workos_pipes.service import PipesService
from django_workos_pipes.signals import reauthorization_required
from tests.builders import inactive_answer, token_answer
from tests.provider import API, Provider
from tests.servers import Answer, LoopbackServer, json_answer, scripted
from tests.stubs import WorkOSTokens, token_url

USER = "user_01HZANNEXAMPLE"
DEAD, FRESH = "ya29.dead-at-the-provider", "ya29.fresh-from-workos"


@pytest.fixture
def signalled(record_signal: Callable[[Signal], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """What ``reauthorization_required`` was sent with, call by call."""
    return record_signal(reauthorization_required)


def session() -> requests.Session:
    return pipes.session("salesforce", user_id=USER)


# The token is sent, from the cache.


def test_the_session_sends_the_token_workos_hands_out(workos_stub: responses.RequestsMock) -> None:
    workos = WorkOSTokens(workos_stub, [token_answer(FRESH)])
    provider = Provider(workos_stub, FRESH)
    for _ in range(3):
        assert session().get(API).json() == {"token": FRESH}
    assert provider.seen == [FRESH] * 3
    assert workos.count == 1, "the cache answers after the first call"
    assert workos.bodies == [{"user_id": USER}]


def test_the_auth_works_on_its_own_with_an_organization(
    workos_stub: responses.RequestsMock,
) -> None:
    workos = WorkOSTokens(workos_stub, [token_answer(FRESH)])
    Provider(workos_stub, FRESH)
    auth = PipesAuth("salesforce", user_id=USER, organization_id="org_01HZ", service=pipes)
    assert requests.get(API, auth=auth, timeout=5).status_code == 200
    assert workos.bodies == [{"user_id": USER, "organization_id": "org_01HZ"}]


def test_the_auth_uses_the_default_service_unless_given_one() -> None:
    assert PipesAuth("salesforce", user_id=USER).service is pipes
    other = PipesService()
    assert PipesAuth("salesforce", user_id=USER, service=other).service is other


# A token that died early at the provider.


def test_a_token_that_died_early_is_renewed_and_the_request_sent_once_more(
    workos_stub: responses.RequestsMock, signalled: list[dict[str, Any]]
) -> None:
    workos = WorkOSTokens(workos_stub, [token_answer(DEAD), token_answer(FRESH)])
    provider = Provider(workos_stub, FRESH)

    response = session().get(API, params={"q": "1"})

    assert response.status_code == 200
    assert response.json() == {"token": FRESH}
    assert provider.seen == [DEAD, FRESH], "one resend, with the fresh token"
    assert workos.count == 2, "the first token, then one renewal"
    assert [r.status_code for r in response.history] == [401]
    assert response.request.url == f"{API}?q=1"
    assert signalled == []
    # The renewed token is the cached one from now on.
    assert session().get(API).status_code == 200
    assert workos.count == 2


def test_a_body_of_bytes_is_sent_again_unchanged(workos_stub: responses.RequestsMock) -> None:
    WorkOSTokens(workos_stub, [token_answer(DEAD), token_answer(FRESH)])
    provider = Provider(workos_stub, FRESH, methods=("POST",))
    response = session().post(API, json={"Name": "Acme"})
    assert response.status_code == 200
    assert provider.bodies == [b'{"Name": "Acme"}'] * 2


def test_a_streamed_body_is_not_sent_twice(workos_stub: responses.RequestsMock) -> None:
    """A generator was consumed by the first attempt: resending would send nothing."""
    workos = WorkOSTokens(workos_stub, [token_answer(DEAD), token_answer(FRESH)])
    provider = Provider(workos_stub, FRESH, methods=("POST",))
    chunks = (chunk for chunk in [b'{"Name": ', b'"Acme"}'])

    response = session().post(API, data=chunks)

    assert response.status_code == 401, "the refusal is the answer"
    assert provider.seen == [DEAD]
    assert workos.count == 2, "the token was renewed all the same"
    # So the caller's own retry, with a new body, goes out with the fresh token.
    assert session().post(API, data=iter([b"{}"])).status_code == 200
    assert provider.seen == [DEAD, FRESH]


def test_a_file_body_is_not_sent_twice(settings: Any, tmp_path: Any) -> None:
    """Over real sockets: ``responses`` reads a file body into bytes before answering."""
    path = tmp_path / "upload.csv"
    path.write_bytes(b"Name\nAcme\n")
    refusal: Answer = (401, {}, b"")
    tokens = scripted([json_answer(token_answer(DEAD)), json_answer(token_answer(FRESH))])
    with LoopbackServer(tokens) as workos, LoopbackServer(lambda request: refusal) as provider:
        settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "BASE_URL": workos.url}
        with path.open("rb") as upload:
            response = session().post(f"{provider.url}/upload", data=upload)
        assert response.status_code == 401
        assert [r["body"] for r in provider.requests] == [b"Name\nAcme\n"]
        assert workos.count == 2, "the token was renewed all the same"


def test_a_401_after_a_redirect_to_another_host_is_left_alone(
    workos_stub: responses.RequestsMock,
) -> None:
    """requests drops the token on a redirect to another host: that 401 is not about it."""
    workos = WorkOSTokens(workos_stub, [token_answer(FRESH)])
    workos_stub.get(API, status=302, headers={"Location": "https://files.example.com/x"})
    workos_stub.get("https://files.example.com/x", status=401)
    assert session().get(API).status_code == 401
    assert workos.count == 1


# Only the user can fix it.


def test_an_inactive_connection_raises_before_calling_the_provider(
    workos_stub: responses.RequestsMock, signalled: list[dict[str, Any]]
) -> None:
    WorkOSTokens(workos_stub, [inactive_answer("needs_reauthorization")])
    with pytest.raises(PipesReauthorizationRequired) as caught:
        session().get(API)
    assert caught.value.provider == "salesforce"
    assert caught.value.error == "needs_reauthorization"
    assert signalled == [
        {
            "sender": PipesService,
            "signal": reauthorization_required,
            "provider": "salesforce",
            "user_id": USER,
            "organization_id": None,
            "error": "needs_reauthorization",
            "owner": "user",
            "connected_account_id": None,
        }
    ]


def test_a_grant_revoked_at_the_provider_raises_once_workos_knows(
    workos_stub: responses.RequestsMock, signalled: list[dict[str, Any]]
) -> None:
    workos = WorkOSTokens(
        workos_stub, [token_answer(DEAD), inactive_answer("needs_reauthorization")]
    )
    provider = Provider(workos_stub)
    with pytest.raises(PipesReauthorizationRequired) as caught:
        session().get(API)
    assert caught.value.error == "needs_reauthorization"
    assert provider.seen == [DEAD], "nothing to resend with"
    assert [s["error"] for s in signalled] == ["needs_reauthorization"]
    # The inactive answer is cached: the next attempt costs neither WorkOS nor the provider.
    with pytest.raises(PipesReauthorizationRequired):
        session().get(API)
    assert (workos.count, provider.calls) == (2, 1)


def test_workos_handing_back_the_refused_token_raises(
    workos_stub: responses.RequestsMock, signalled: list[dict[str, Any]]
) -> None:
    WorkOSTokens(workos_stub, [token_answer(DEAD)])
    provider = Provider(workos_stub)
    with pytest.raises(PipesReauthorizationRequired) as caught:
        session().get(API)
    assert caught.value.error == PROVIDER_REJECTED_TOKEN
    assert provider.seen == [DEAD], "the same token is not sent twice"
    assert [s["error"] for s in signalled] == [PROVIDER_REJECTED_TOKEN]


def test_a_refused_retry_raises(
    workos_stub: responses.RequestsMock, signalled: list[dict[str, Any]]
) -> None:
    workos = WorkOSTokens(workos_stub, [token_answer(DEAD), token_answer(FRESH)])
    provider = Provider(workos_stub)
    with pytest.raises(PipesReauthorizationRequired) as caught:
        session().get(API)
    assert caught.value.error == PROVIDER_REJECTED_TOKEN
    assert provider.seen == [DEAD, FRESH], "one resend, no more"
    assert workos.count == 2, "WorkOS is asked again once"
    assert len(signalled) == 1


def test_a_failing_receiver_does_not_hide_the_exception(
    workos_stub: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("mail server down")

    WorkOSTokens(workos_stub, [inactive_answer("not_installed")])
    reauthorization_required.connect(broken)
    try:
        with pytest.raises(PipesReauthorizationRequired) as caught:
            session().get(API)
    finally:
        reauthorization_required.disconnect(broken)
    assert caught.value.error == "not_installed"
    assert "receiver" in caplog.text and "failed" in caplog.text


def test_workos_down_during_a_renewal_never_serves_the_dead_token(
    workos_stub: responses.RequestsMock, settings: Any
) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "MAX_RETRIES": 0}
    workos = WorkOSTokens(workos_stub, [token_answer(DEAD)])
    provider = Provider(workos_stub)
    assert pipes.get_access_token("salesforce", user_id=USER).access_token is not None
    workos_stub.replace(responses.POST, token_url("salesforce"), status=503)
    with pytest.raises(PipesUnavailable):
        session().get(API)
    assert provider.seen == [DEAD]
    assert workos.count == 1


def test_the_exception_survives_pickling_as_task_queues_do() -> None:
    exc = PipesReauthorizationRequired(
        "salesforce", user_id=USER, organization_id="org_1", error=PROVIDER_REJECTED_TOKEN
    )
    copy = pickle.loads(pickle.dumps(exc))
    assert (copy.provider, copy.user_id, copy.organization_id, copy.error) == (
        "salesforce",
        USER,
        "org_1",
        PROVIDER_REJECTED_TOKEN,
    )


def test_the_exception_and_the_auth_show_no_token_and_a_masked_user() -> None:
    exc = PipesReauthorizationRequired("salesforce", user_id=USER, error="needs_reauthorization")
    for text in (str(exc), repr(exc), repr(PipesAuth("salesforce", user_id=USER))):
        assert USER not in text
        assert "user_01HZ" in text
    assert "salesforce" in str(exc) and "needs_reauthorization" in str(exc)


# Many threads, one dead token.


def meet_one_dead_token(threads: int) -> tuple[int, list[int | str]]:
    """``threads`` sessions send the dead token at once (the provider holds every refusal
    until all of them have arrived); returns the WorkOS token calls during the burst and
    the final status codes."""
    with responses.RequestsMock() as mock:
        workos = WorkOSTokens(mock, [token_answer(DEAD)])
        provider = Provider(mock, FRESH)
        assert pipes.get_access_token("salesforce", user_id=USER).active
        workos.then(token_answer(FRESH))
        workos.count = 0
        everyone_refused = threading.Barrier(threads, timeout=10)
        provider.before_refusing = everyone_refused.wait
        statuses: list[int | str] = []

        def user() -> None:
            try:
                statuses.append(session().get(API, timeout=10).status_code)
            except Exception as exc:
                statuses.append(repr(exc))

        workers = [threading.Thread(target=user) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=30)
        assert provider.seen.count(DEAD) == threads
        return workos.count, statuses


def test_sixteen_threads_meeting_one_dead_token_cost_one_workos_call() -> None:
    calls, statuses = meet_one_dead_token(16)
    assert statuses == [200] * 16
    assert calls == 1


@pytest.mark.redis
@pytest.mark.usefixtures("redis_cache")
def test_sixteen_threads_meeting_one_dead_token_cost_one_workos_call_on_redis() -> None:
    calls, statuses = meet_one_dead_token(16)
    assert statuses == [200] * 16
    assert calls == 1


# Async callers and the package's imports.


def test_async_callers_get_and_renew_tokens_without_blocking(
    workos_stub: responses.RequestsMock,
) -> None:
    WorkOSTokens(workos_stub, [token_answer(DEAD), token_answer(FRESH)])

    async def job() -> tuple[str, str]:
        first = await pipes.arequire_access_token("salesforce", user_id=USER)
        renewed = await pipes.arenew_access_token(
            "salesforce", user_id=USER, rejected=first.access_token
        )
        return first.access_token, renewed.access_token

    assert async_to_sync(job)() == (DEAD, FRESH)


@override_settings()
def test_importing_the_package_and_the_service_leaves_requests_alone() -> None:
    code = (
        "import sys, django_workos_pipes, django_workos_pipes.service, "
        "django_workos_pipes.decorators; print('requests' in sys.modules)"
    )
    env_settings = {"DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        capture_output=True,
        text=True,
        check=True,
        env={**env_settings, "PATH": ""},
    )
    assert done.stdout.strip() == "False"
