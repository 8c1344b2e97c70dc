"""The HTTP layer against ``responses``: exact requests, every answer shape, retries."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import pytest
import requests
import responses
from responses import matchers
from urllib3.util import retry as urllib3_retry

from django_workos_pipes import __version__
from django_workos_pipes.exceptions import (
    PipesAPIError,
    PipesError,
    PipesMalformedResponse,
    PipesUnavailable,
)
from django_workos_pipes.owners import ConnectionRef
from django_workos_pipes.workos.client import PipesClient
from tests.builders import inactive_answer, token_answer
from tests.servers import LoopbackServer, json_answer, scripted
from tests.settings import API_KEY
from tests.stubs import WORKOS

TOKEN_URL = f"{WORKOS}/data-integrations/salesforce/token"
SECRET_TOKEN = "ya29.a0AfH6SMBx-very-secret-token-value"


ACTIVE = token_answer(
    SECRET_TOKEN,
    expires_at=datetime(2030, 3, 2, 16, 30, tzinfo=timezone.utc),
    scopes=("api", "refresh_token"),
    missing=("chatter_api",),
)


@pytest.fixture
def pipes_client() -> PipesClient:
    """The HTTP client against ``responses``: three retries, no waits between them."""
    return PipesClient(api_key=API_KEY, base_url=WORKOS, timeout=1, max_retries=3, backoff_factor=0)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record urllib3's waits between retries instead of sleeping through them."""
    recorded: list[float] = []
    monkeypatch.setattr(urllib3_retry.time, "sleep", recorded.append)
    return recorded


@responses.activate
def test_active_token_request_and_result(pipes_client: PipesClient) -> None:
    responses.post(
        TOKEN_URL,
        json=ACTIVE,
        headers={"X-Request-ID": "req_1"},
        match=[
            matchers.json_params_matcher({"user_id": "user_1", "organization_id": "org_1"}),
            matchers.header_matcher(
                {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
            ),
        ],
    )
    result = pipes_client.get_access_token(
        ConnectionRef("salesforce", user_id="user_1", organization_id="org_1")
    )

    assert result.active is True
    assert result.error is None
    assert result.access_token is not None
    assert result.access_token.access_token == SECRET_TOKEN
    assert result.access_token.expires_at == datetime(2030, 3, 2, 16, 30, tzinfo=timezone.utc)
    assert result.access_token.scopes == ("api", "refresh_token")
    assert result.access_token.missing_scopes == ("chatter_api",)
    sent = responses.calls[0].request
    assert sent.method == "POST"
    assert sent.headers["User-Agent"].startswith(f"django-workos-pipes/{__version__}")
    assert len(sent.headers["Idempotency-Key"]) == 36


@responses.activate
def test_organization_is_left_out_when_not_given(pipes_client: PipesClient) -> None:
    responses.post(TOKEN_URL, json=inactive_answer("not_installed"))
    pipes_client.get_access_token(ConnectionRef("salesforce", user_id="user_1"))
    assert json.loads(responses.calls[0].request.body or b"") == {"user_id": "user_1"}


@responses.activate
def test_provider_slug_is_url_encoded(pipes_client: PipesClient) -> None:
    responses.post(f"{WORKOS}/data-integrations/a%2Fb%20c/token", json=inactive_answer("x"))
    assert pipes_client.get_access_token(ConnectionRef("a/b c", user_id="u")).error == "x"


@responses.activate
def test_null_expiry_means_no_expiry(pipes_client: PipesClient) -> None:
    responses.post(
        TOKEN_URL, json=token_answer(SECRET_TOKEN, expires_at=None, scopes=("api", "refresh_token"))
    )
    token = pipes_client.get_access_token(ConnectionRef("salesforce", user_id="u")).access_token
    assert token is not None
    assert token.expires_at is None
    assert token.missing_scopes == ()


@pytest.mark.parametrize(
    "error", ["not_installed", "needs_reauthorization", "account_selection_required"]
)
@responses.activate
def test_inactive_answers_pass_their_code_through(pipes_client: PipesClient, error: str) -> None:
    responses.post(TOKEN_URL, json=inactive_answer(error))
    result = pipes_client.get_access_token(ConnectionRef("salesforce", user_id="u"))
    assert (result.active, result.error, result.access_token) == (False, error, None)


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        json.dumps([1, 2]),
        json.dumps({"active": "yes"}),
        json.dumps({"active": True}),
        json.dumps({"active": True, "access_token": {"access_token": 5}}),
        json.dumps({"active": True, "access_token": {"access_token": "t", "expires_at": "soon"}}),
        json.dumps({"active": True, "access_token": {"access_token": "t", "scopes": "api"}}),
        json.dumps({"active": False}),
    ],
)
@responses.activate
def test_malformed_200_is_an_api_error(pipes_client: PipesClient, body: str) -> None:
    responses.post(TOKEN_URL, body=body, headers={"X-Request-ID": "req_bad"})
    with pytest.raises(PipesMalformedResponse) as caught:
        pipes_client.get_access_token(ConnectionRef("salesforce", user_id="u"))
    assert isinstance(caught.value, PipesAPIError)
    assert caught.value.status_code == 200
    assert caught.value.request_id == "req_bad"


@pytest.mark.parametrize(
    ("status", "body", "code", "message"),
    [
        (401, {"message": "Unauthorized", "code": "unauthorized"}, "unauthorized", "Unauthorized"),
        (
            404,
            {"message": "Integration not found", "code": "entity_not_found"},
            "entity_not_found",
            "Integration not found",
        ),
        (
            422,
            {"error": "invalid_request", "error_description": "user_id is required"},
            "invalid_request",
            "user_id is required",
        ),
        (400, None, None, "Bad Request"),
    ],
)
@responses.activate
def test_client_errors_raise_api_error(
    pipes_client: PipesClient, status: int, body: object, code: str | None, message: str
) -> None:
    responses.post(TOKEN_URL, json=body, status=status, headers={"X-Request-ID": "req_4xx"})
    with pytest.raises(PipesAPIError) as caught:
        pipes_client.get_access_token(ConnectionRef("salesforce", user_id="u"))
    error = caught.value
    assert not isinstance(error, PipesUnavailable)
    assert (error.status_code, error.code, error.message, error.request_id) == (
        status,
        code,
        message,
        "req_4xx",
    )
    assert "req_4xx" in str(error)
    assert len(responses.calls) == 1, "4xx answers are not retried"


@responses.activate
def test_retries_on_503_then_succeeds_with_one_idempotency_key(
    pipes_client: PipesClient, sleeps: list[float]
) -> None:
    responses.post(TOKEN_URL, status=503)
    responses.post(TOKEN_URL, status=503)
    responses.post(TOKEN_URL, json=ACTIVE)
    result = pipes_client.get_access_token(ConnectionRef("salesforce", user_id="u"))
    assert result.active
    assert len(responses.calls) == 3
    keys = {call.request.headers["Idempotency-Key"] for call in responses.calls}
    assert len(keys) == 1, "retries of one logical call share its Idempotency-Key"


OK = json_answer(ACTIVE)


def test_retry_after_is_honoured_on_429(sleeps: list[float]) -> None:
    with LoopbackServer(scripted([(429, {"Retry-After": "2"}, b"{}"), OK])) as server:
        client = PipesClient(api_key=API_KEY, base_url=server.url, max_retries=3, backoff_factor=0)
        assert client.get_access_token(ConnectionRef("salesforce", user_id="u")).active
    assert sleeps == [2]
    assert len(server.requests) == 2
    assert (
        server.requests[0]["headers"]["Idempotency-Key"]
        == server.requests[1]["headers"]["Idempotency-Key"]
    )


def test_retry_after_is_capped_at_backoff_max(sleeps: list[float]) -> None:
    with LoopbackServer(scripted([(503, {"Retry-After": "3600"}, b""), OK])) as server:
        client = PipesClient(api_key=API_KEY, base_url=server.url, max_retries=1, backoff_max=3)
        assert client.get_access_token(ConnectionRef("salesforce", user_id="u")).active
    assert sleeps == [3]


def test_backoff_grows_between_retries_without_retry_after(sleeps: list[float]) -> None:
    with LoopbackServer(scripted([(500, {}, b""), (500, {}, b""), (500, {}, b""), OK])) as server:
        client = PipesClient(
            api_key=API_KEY, base_url=server.url, max_retries=3, backoff_factor=0.5
        )
        assert client.get_access_token(ConnectionRef("salesforce", user_id="u")).active
    assert len(server.requests) == 4
    # urllib3 skips the wait before the first retry, then doubles (plus jitter up to 0.5 s).
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] < 1.5 and 2.0 <= sleeps[1] < 2.5


@responses.activate
def test_retries_exhausted_raise_unavailable(
    pipes_client: PipesClient, sleeps: list[float]
) -> None:
    responses.post(TOKEN_URL, status=502, headers={"X-Request-ID": "req_last"})
    with pytest.raises(PipesUnavailable) as caught:
        pipes_client.get_access_token(ConnectionRef("salesforce", user_id="u"))
    assert len(responses.calls) == 4, "one call and MAX_RETRIES=3 retries"
    assert caught.value.status_code == 502
    assert caught.value.request_id == "req_last"


@responses.activate
def test_connection_errors_are_retried_then_unavailable(
    pipes_client: PipesClient, sleeps: list[float]
) -> None:
    responses.post(TOKEN_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(PipesUnavailable, match="could not be reached"):
        pipes_client.get_access_token(ConnectionRef("salesforce", user_id="u"))


@responses.activate
def test_timeout_is_unavailable(pipes_client: PipesClient) -> None:
    responses.post(TOKEN_URL, body=requests.Timeout("slow"))
    with pytest.raises(PipesUnavailable):
        pipes_client.get_access_token(ConnectionRef("salesforce", user_id="u"))


def test_real_timeout_against_a_silent_socket() -> None:
    """A server that accepts and never answers: the configured timeout bounds the wait."""
    import socket
    import time

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        client = PipesClient(
            api_key=API_KEY,
            base_url=f"http://127.0.0.1:{port}",
            timeout=0.2,
            max_retries=1,
            backoff_factor=0,
        )
        started = time.monotonic()
        with pytest.raises(PipesUnavailable):
            client.get_access_token(ConnectionRef("salesforce", user_id="u"))
        assert time.monotonic() - started < 2


@responses.activate
def test_secrets_never_in_errors_reprs_or_logs(
    pipes_client: PipesClient, caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    caplog.set_level(logging.DEBUG)
    responses.post(TOKEN_URL, json=ACTIVE, headers={"X-Request-ID": "req_ok"})
    responses.post(TOKEN_URL, status=401, json={"message": "Unauthorized"})
    responses.post(TOKEN_URL, status=500)
    result = pipes_client.get_access_token(
        ConnectionRef("salesforce", user_id="user_01HSECRETUSERID")
    )
    texts = [repr(result), str(result), repr(result.access_token), repr(pipes_client)]
    for _ in range(2):
        with pytest.raises(PipesError) as caught:
            pipes_client.get_access_token(
                ConnectionRef("salesforce", user_id="user_01HSECRETUSERID")
            )
        texts += [str(caught.value), repr(caught.value)]
    texts += [record.getMessage() for record in caplog.records]
    joined = "\n".join(texts)
    assert SECRET_TOKEN not in joined
    assert API_KEY not in joined
    assert "ya29\u2026" in repr(result)
    upstream = [r.getMessage() for r in caplog.records if r.getMessage().startswith("WorkOS token")]
    assert (
        upstream[0]
        == "WorkOS token provider=salesforce user=user_01HS\u2026 status=200 request_id=req_ok elapsed_ms="
        + upstream[0].rsplit("=", 1)[1]
    )
    assert "user_01HSECRETUSERID" not in joined
