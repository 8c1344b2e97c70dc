"""Faults the emulator injects into token calls when told to: errors, slowness, broken
connections and malformed bodies (``emulator/faults.py``)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from django_workos_pipes.emulator import (
    Emulator,
)
from django_workos_pipes.emulator.web import Response
from django_workos_pipes.results import TokenResult
from tests.emulator.calls import (
    AUTH,
    authorize,
    raw_exchange,
    token,
)

# A token request as raw bytes, for faults that break the answer on the wire.
TOKEN_REQUEST = (
    b"POST /data-integrations/salesforce/token HTTP/1.1\r\nHost: x\r\n"
    b"Authorization: Bearer sk_test_emulator\r\nContent-Type: application/json\r\n"
    b'Content-Length: 21\r\n\r\n{"user_id": "user_1"}'
)


def test_status_faults_answer_like_workos_then_stop_after_count(
    http: requests.Session, emu: Emulator
) -> None:
    emu.connect("salesforce", "user_1")
    emu.inject_fault("status", count=2, status=503, retry_after=3)
    for _ in range(2):
        answer = token(http, emu)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "3"
        assert answer.json() == {"message": "Service Unavailable", "code": "service_unavailable"}
        assert answer.headers["X-Request-ID"]
    assert token(http, emu).status_code == 200
    assert emu.token_calls == 3
    assert emu.faults == []


def test_a_rate_limit_fault_is_429_with_retry_after(http: requests.Session, emu: Emulator) -> None:
    emu.inject_fault("status", status=429, retry_after=1)
    answer = token(http, emu)
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "1"
    assert answer.json()["code"] == "rate_limit_exceeded"
    emu.inject_fault("status", status=500)
    plain = token(http, emu)
    assert plain.status_code == 500
    assert "Retry-After" not in plain.headers


def test_latency_delays_a_normal_answer(http: requests.Session, emu: Emulator) -> None:
    emu.connect("salesforce", "user_1")
    emu.inject_fault("latency", delay=0.2)
    started = time.monotonic()
    slow = token(http, emu)
    assert time.monotonic() - started >= 0.2
    assert slow.json()["active"] is True
    started = time.monotonic()
    token(http, emu)
    assert time.monotonic() - started < 0.2


def test_a_client_timeout_fires_on_a_slow_fault(http: requests.Session, emu: Emulator) -> None:
    emu.inject_fault("status", status=503, delay=0.5)
    url = f"{emu.url}/data-integrations/salesforce/token"
    with pytest.raises(requests.Timeout):
        http.post(url, json={"user_id": "user_1"}, headers=AUTH, timeout=0.2)


def test_drop_hangs_up_without_an_answer(http: requests.Session, emu: Emulator) -> None:
    emu.connect("salesforce", "user_1")
    emu.inject_fault("drop")
    with pytest.raises(requests.ConnectionError):
        token(http, emu)
    assert token(http, emu).json()["active"] is True
    assert emu.token_calls == 2


def test_drop_without_any_bytes_on_the_wire(emu: Emulator) -> None:
    emu.inject_fault("drop")
    assert raw_exchange(emu, TOKEN_REQUEST) == b""


def test_drop_mid_answer_sends_headers_then_part_of_the_body(
    http: requests.Session, emu: Emulator
) -> None:
    emu.connect("salesforce", "user_1")
    emu.inject_fault("drop_mid_answer")
    head, _, body = raw_exchange(emu, TOKEN_REQUEST).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"X-Request-ID: " in head
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    assert 0 < len(body) < length
    assert body.startswith(b'{"active":true')

    emu.inject_fault("drop_mid_answer")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        token(http, emu)
    assert token(http, emu).json()["active"] is True


def test_malformed_is_a_200_the_apps_parser_rejects(http: requests.Session, emu: Emulator) -> None:
    emu.connect("salesforce", "user_1")
    emu.inject_fault("malformed")
    answer = token(http, emu)
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        TokenResult.from_api(answer.json())
    assert TokenResult.from_api(token(http, emu).json()).active is True


def test_faults_queue_in_order_and_touch_only_token_calls(
    http: requests.Session, emu: Emulator
) -> None:
    emu.connect("salesforce", "user_1")
    emu.inject_fault("status", status=502)
    emu.inject_fault("status", status=429, count=2)
    authorize(http, emu)  # not a token call: no fault spent
    assert [f["remaining"] for f in emu.faults] == [1, 2]
    assert [token(http, emu).status_code for _ in range(4)] == [502, 429, 429, 200]

    emu.inject_fault("drop", count=5)
    emu.clear_faults()
    assert token(http, emu).status_code == 200


def test_faults_apply_before_the_api_key_check(http: requests.Session, emu: Emulator) -> None:
    emu.inject_fault("status", status=503)
    answer = http.post(f"{emu.url}/data-integrations/salesforce/token", json={"user_id": "u"})
    assert answer.status_code == 503
    assert emu.token_calls == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "explode"},
        {"kind": "status", "status": 200},
        {"kind": "status", "count": 0},
        {"kind": "latency", "delay": -1},
        {"kind": "latency", "delay": float("nan")},
    ],
)
def test_bad_faults_are_refused_when_injected(emu: Emulator, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        emu.inject_fault(**kwargs)
    assert emu.faults == []


@pytest.mark.parametrize(
    "retry_after",
    ["1\u20282", "1\u2029", "1\r\nX-Injected: yes", "1\n", "1\x00", "1\x85", "1\t2", "\u0663"],
)
def test_a_retry_after_that_cannot_be_a_header_is_refused(
    http: requests.Session, emu: Emulator, retry_after: str
) -> None:
    with pytest.raises(ValueError, match="retry_after"):
        emu.inject_fault("status", retry_after=retry_after)
    fault = {"kind": "status", "status": 429, "retry_after": retry_after}
    answer = http.post(f"{emu.url}/_emulator/faults", json=fault)
    assert answer.status_code == 400
    assert "retry_after" in answer.json()["message"]
    assert emu.faults == []
    assert token(http, emu).status_code == 200


def test_an_http_date_retry_after_is_sent_as_given(http: requests.Session, emu: Emulator) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    http.post(f"{emu.url}/_emulator/faults", json={"kind": "status", "retry_after": date})
    assert token(http, emu).headers["Retry-After"] == date


def test_no_answer_can_carry_a_header_that_breaks_the_response() -> None:
    for value in ("1\u2028", "1\r\nX: y", "1\x7f"):
        with pytest.raises(ValueError, match="header"):
            Response(200, headers=(("Retry-After", value),))
    with pytest.raises(ValueError, match="header"):
        Response(200, headers=(("Bad Name", "1"),))
