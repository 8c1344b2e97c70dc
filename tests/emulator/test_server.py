"""The emulator's HTTP server: routing, request ids, garbled, oversized and concurrent
requests, and stopping (``emulator/server.py``, ``emulator/web.py``)."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from django_workos_pipes.emulator import (
    Emulator,
)
from tests.emulator.calls import (
    API_KEY,
    AUTH,
    authorize,
    raw_exchange,
    token,
)


def test_unknown_routes_and_methods_answer_json(http: requests.Session, emu: Emulator) -> None:
    missing = http.get(f"{emu.url}/nothing/here", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong_method = http.get(f"{emu.url}/data-integrations/salesforce/token", headers=AUTH)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"] == "POST"


def test_every_answer_carries_a_request_id(http: requests.Session, emu: Emulator) -> None:
    emu.connect("salesforce", "user_1")
    consent_url = authorize(http, emu)
    account = f"{emu.url}/user_management/users/user_1/connected_accounts/salesforce"
    answers = [
        token(http, emu),
        token(http, emu, "myspace"),
        http.post(f"{emu.url}/data-integrations/salesforce/token", json={}),
        http.post(f"{emu.url}/data-integrations/salesforce/token", data=b"{", headers=AUTH),
        http.post(f"{emu.url}/data-integrations/salesforce/token", json={}, headers=AUTH),
        http.get(f"{emu.url}/data-integrations/salesforce/token"),
        http.get(f"{emu.url}/nowhere"),
        http.get(consent_url),
        http.get(f"{emu.url}/consent/unknown"),
        http.get(account, headers=AUTH),
        http.get(account.replace("user_1", "user_2"), headers=AUTH),
        http.get(f"{emu.url}/_emulator/"),
        http.get(f"{emu.url}/_emulator/state"),
        http.get(f"{emu.url}/_emulator/calls"),
        http.post(f"{emu.url}/_emulator/faults", json={"kind": "nope"}),
        http.delete(account, headers=AUTH),
    ]
    emu.inject_fault("status", status=503)
    answers.append(token(http, emu))
    emu.inject_fault("malformed")
    answers.append(token(http, emu))
    ids = [answer.headers.get("X-Request-ID", "") for answer in answers]
    assert all(ids), [(a.request.url, a.status_code) for a, i in zip(answers, ids) if not i]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(request_id) for request_id in ids)


def test_a_garbled_request_gets_a_json_error_and_the_server_keeps_serving(
    http: requests.Session, emu: Emulator
) -> None:
    answer = raw_exchange(emu, b"NONSENSE\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"X-Request-ID: " in head
    assert json.loads(body)["message"]
    oversized = raw_exchange(
        emu,
        b"POST /data-integrations/salesforce/token HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 999999999\r\n\r\n",
    )
    assert oversized.startswith(b"HTTP/1.1 413")
    assert token(http, emu).status_code == 200


@pytest.mark.parametrize(
    "length",
    [
        b"\xb3",  # Latin-1 superscript three: str.isdigit() says yes, int() says no
        b"\xb9\xb2",
        "\u0663".encode(),  # Arabic-Indic three, which int() would read as 3
        "\uff13".encode(),  # fullwidth three
        b"+3",
        b"0x3",
    ],
)
def test_a_content_length_of_anything_but_ascii_digits_is_a_400(
    http: requests.Session, emu: Emulator, length: bytes
) -> None:
    answer = raw_exchange(
        emu,
        b"POST /data-integrations/salesforce/token HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: " + length + b"\r\n\r\nabc",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer
    assert b"X-Request-ID: " in head
    assert json.loads(body)["code"] == "bad_request"
    assert token(http, emu).status_code == 200


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_json_is_a_400_like_workos_not_a_500(
    http: requests.Session, emu: Emulator, depth: int
) -> None:
    nested = b'{"user_id": "user_1", "config": ' + b"[" * depth + b"]" * depth + b"}"
    headers = {**AUTH, "Content-Type": "application/json"}
    for path in ("/data-integrations/salesforce/token", "/_emulator/connections"):
        answer = http.post(f"{emu.url}{path}", data=nested, headers=headers)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json() == {
            "message": "The request body is nested too deeply.",
            "code": "invalid_json",
        }
        assert answer.headers["X-Request-ID"]
    assert emu.calls[-1].body is None  # recorded, without the body it refused
    assert http.get(f"{emu.url}/_emulator/calls").status_code == 200


def test_many_concurrent_clients_are_served(emu: Emulator) -> None:
    emu.connect("salesforce", "user_1")

    def call(_: int) -> int:
        with requests.Session() as session:
            session.trust_env = False
            return token(session, emu).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(call, range(64)))
    assert statuses == [200] * 64
    assert emu.token_calls == 64


def test_stop_closes_pooled_connections(http: requests.Session) -> None:
    emulator = Emulator(api_key=API_KEY).start()
    url = f"{emulator.url}/data-integrations/salesforce/token"
    assert http.post(url, json={"user_id": "user_1"}, headers=AUTH).status_code == 200
    emulator.stop()  # the session still holds a kept-alive connection to it
    with pytest.raises(requests.ConnectionError):
        http.post(url, json={"user_id": "user_1"}, headers=AUTH, timeout=5)
