"""A refusal (4xx) is shared by concurrent requests like an outage is (issue 10).

32 requests for the same connection arrive together; WorkOS answers the one that asks
with a 401 (a revoked API key) or a 422, slowly. The others wait for its answer and get
the same error, instead of asking WorkOS one after another.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.test import override_settings

from django_workos_pipes import pipes
from django_workos_pipes.caching.entries import Failure
from django_workos_pipes.exceptions import PipesAPIError, PipesUnavailable
from tests.builders import token_answer
from tests.settings import API_KEY
from tests.stubs import token_url
from tests.threads import run_at_once, wait_for_waiters

REQUESTS = 32
REFUSALS = {
    401: {"message": "Invalid API key provided: sk_test_a…", "code": "unauthorized"},
    422: {"message": "user_id is not valid", "code": "invalid_request_parameters"},
}


def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    yield request.param


@pytest.mark.parametrize("status", sorted(REFUSALS))
def test_concurrent_requests_met_by_a_refusal_make_one_upstream_call(
    cache_backend: str, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        wait_for_waiters(REQUESTS - 1)  # answer once every other request waits for it
        return status, {"X-Request-ID": "req_refused"}, json.dumps(REFUSALS[status])

    with (
        override_settings(WORKOS_PIPES={"API_KEY": API_KEY, "MAX_RETRIES": 0}),
        responses.RequestsMock() as workos,
    ):
        workos.add_callback(responses.POST, token_url("salesforce"), callback=respond)
        started = time.monotonic()
        results = run_at_once(
            REQUESTS, lambda: pipes.get_access_token("salesforce", user_id="user_1")
        )
        elapsed = time.monotonic() - started
        calls = len(workos.calls)
    with capsys.disabled():
        print(
            f"\n{REQUESTS} concurrent requests met by a {status} ({cache_backend}): "
            f"{calls} workos call(s), {elapsed:.2f} s"
        )
    assert calls == 1
    assert all(isinstance(result, PipesAPIError) for result in results), results
    assert {(r.status_code, r.code, r.request_id, r.message) for r in results} == {
        (status, REFUSALS[status]["code"], "req_refused", REFUSALS[status]["message"])
    }
    assert all(API_KEY not in repr(result) for result in results)


def test_a_refusal_is_not_remembered_past_the_concurrent_requests() -> None:
    """The next request, after the refusal, asks WorkOS again: a key fixed in WorkOS's
    dashboard works at once."""
    with (
        override_settings(WORKOS_PIPES={"API_KEY": API_KEY, "MAX_RETRIES": 0}),
        responses.RequestsMock() as workos,
    ):
        workos.post(token_url("salesforce"), status=401, json=REFUSALS[401])
        workos.post(token_url("salesforce"), json=token_answer("ya29.after-the-fix"))
        with pytest.raises(PipesAPIError):
            pipes.get_access_token("salesforce", user_id="user_1")
        time.sleep(0.01)
        result = pipes.get_access_token("salesforce", user_id="user_1")
    assert result.access_token is not None
    assert result.access_token.access_token == "ya29.after-the-fix"


def test_the_failure_marker_round_trips_and_reads_the_old_format() -> None:
    refusal = PipesAPIError("Invalid API key", status_code=401, request_id="req_1", code="unauth")
    failure = Failure.of(refusal, 1_900_000_000.5)
    again = Failure.decode(failure.encode())
    assert again == failure
    error = again.error()
    assert isinstance(error, PipesAPIError) and not isinstance(error, PipesUnavailable)
    assert repr(error) == repr(refusal)
    outage = Failure.decode(1_900_000_000.5)  # what earlier versions write
    assert outage == Failure(1_900_000_000.5)
    assert isinstance(outage.error(), PipesUnavailable)
    assert Failure.of(PipesUnavailable("down"), 1.0).encode() == 1.0


@pytest.mark.parametrize(
    "value",
    [
        (1_900_000_000.0, 503, None, "x", None),  # an outage is never a refusal
        (1_900_000_000.0, "401", None, "x", None),
        (1_900_000_000.0, 401, b"code", "x", None),
        (1_900_000_000.0, 401, None, None, None),
        (1_900_000_000.0, 401, None, "x"),
        ("now", 401, None, "x", None),
        [1_900_000_000.0, 401, None, "x", None],
        float("nan"),
        10**400,
        "1900000000",
    ],
)
def test_a_foreign_failure_marker_is_no_failure(value: Any) -> None:
    assert Failure.decode(value) is None
