"""The emulator speaks the WorkOS Pipes wire format and misbehaves only when told to.

Everything runs against a real emulator on loopback (port 0) with a real webhook
receiver: no part of the emulator is mocked.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from django_workos_pipes import signatures
from django_workos_pipes.emulator import (
    DEFAULT_API_KEY,
    EVENT_CONNECTED,
    EVENT_DISCONNECTED,
    EVENT_REAUTHORIZATION_NEEDED,
    Emulator,
    UnknownConnection,
)
from django_workos_pipes.emulator.cli import status_line
from django_workos_pipes.emulator.web import Response
from django_workos_pipes.results import TokenResult
from tests.servers import LoopbackServer

API_KEY = "sk_test_emulator"
SECRET = "whsec_emulator_tests"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
EXPIRY = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Receiver:
    """A webhook endpoint on loopback that records what it gets; may fail at first."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    failing = receiver.fail_first > 0
                    receiver.fail_first -= 1
                    if not failing:
                        receiver.received.append((dict(self.headers), body))
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/workos"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def events(self) -> list[dict[str, Any]]:
        """Every received event, its signature checked against the raw body first."""
        with self._lock:
            received = list(self.received)
        events = []
        for headers, body in received:
            signatures.verify(body, headers.get(signatures.HEADER), [SECRET])
            events.append(json.loads(body))
        return events

    def clear(self) -> None:
        with self._lock:
            self.received.clear()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[Emulator, Receiver]]:
    """One emulator and receiver for the module (starting one per test costs time)."""
    receiver = Receiver()
    with Emulator(api_key=API_KEY, webhook_url=receiver.url, webhook_secret=SECRET) as emulator:
        yield emulator, receiver
    receiver.close()


@pytest.fixture
def receiver(shared: tuple[Emulator, Receiver]) -> Receiver:
    return shared[1]


@pytest.fixture
def emu(shared: tuple[Emulator, Receiver]) -> Iterator[Emulator]:
    """The shared emulator, reset after each test: no connections, faults or events."""
    emulator, receiver = shared
    yield emulator
    assert emulator.wait_for_webhooks(5)
    emulator.reset()
    receiver.clear()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    yield session
    session.close()


def token(
    http: requests.Session, emu: Emulator, provider: str = "salesforce", **body: Any
) -> requests.Response:
    body.setdefault("user_id", "user_1")
    return http.post(f"{emu.url}/data-integrations/{provider}/token", json=body, headers=AUTH)


def authorize(http: requests.Session, emu: Emulator, **body: Any) -> str:
    body.setdefault("user_id", "user_1")
    body.setdefault("return_to", "https://app.example/after?next=%2Fdash")
    answer = http.post(f"{emu.url}/data-integrations/salesforce/authorize", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.json().keys() == {"url", "state"}
    assert len(answer.json()["state"]) >= 16
    url: str = answer.json()["url"]
    return url


def raw_exchange(emu: Emulator, data: bytes) -> bytes:
    """Send raw bytes and read until the server hangs up (bounded by a timeout)."""
    with socket.create_connection(("127.0.0.1", emu.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# Token answers ---------------------------------------------------------------------


def test_token_for_an_unknown_connection_is_not_installed(
    http: requests.Session, emu: Emulator
) -> None:
    answer = token(http, emu)
    assert answer.status_code == 200
    assert answer.json() == {"active": False, "error": "not_installed"}
    assert TokenResult.from_api(answer.json()).error == "not_installed"


def test_token_for_a_connected_account_has_the_documented_shape(
    http: requests.Session, emu: Emulator
) -> None:
    emu.connect("google", "user_1", scopes=["email", "calendar"], missing_scopes=["drive"])
    before = datetime.now(timezone.utc).replace(microsecond=0)
    body = token(http, emu, "google").json()

    assert body.keys() == {"active", "access_token"}
    assert body["active"] is True
    access = body["access_token"]
    assert access.keys() == {"object", "access_token", "expires_at", "scopes", "missing_scopes"}
    assert access["object"] == "access_token"
    assert access["access_token"].startswith("ya29.emu_")
    assert len(access["access_token"]) > 30
    assert EXPIRY.match(access["expires_at"])
    assert access["scopes"] == ["email", "calendar"]
    assert access["missing_scopes"] == ["drive"]
    result = TokenResult.from_api(body)
    assert result.access_token is not None
    expires_at = result.access_token.expires_at
    assert expires_at is not None
    assert before + timedelta(seconds=3590) <= expires_at <= before + timedelta(seconds=3610)


def test_connect_without_scopes_grants_the_provider_defaults(
    http: requests.Session, emu: Emulator
) -> None:
    emu.connect("slack", "user_1")
    access = token(http, emu, "slack").json()["access_token"]
    assert access["scopes"] == list(emu.providers["slack"].scopes)
    assert access["access_token"].startswith("xoxp-")


def test_token_answers_needs_reauthorization(http: requests.Session, emu: Emulator) -> None:
    emu.connect("salesforce", "user_1")
    emu.needs_reauthorization("salesforce", "user_1")
    assert token(http, emu).json() == {"active": False, "error": "needs_reauthorization"}


def test_connections_are_kept_per_organization(http: requests.Session, emu: Emulator) -> None:
    emu.connect("hubspot", "user_1", organization_id="org_a")
    assert token(http, emu, "hubspot", organization_id="org_a").json()["active"] is True
    assert token(http, emu, "hubspot", organization_id="org_b").json()["active"] is False
    assert token(http, emu, "hubspot").json() == {"active": False, "error": "not_installed"}
    assert token(http, emu, "hubspot", organization_id=None).json()["active"] is False


def test_an_expired_token_is_rotated_when_asked(http: requests.Session, emu: Emulator) -> None:
    emu.connect("salesforce", "user_1")
    first = token(http, emu).json()["access_token"]
    assert token(http, emu).json()["access_token"] == first  # not due: the same token

    expired = emu.expire("salesforce", "user_1")
    assert expired.expires_at is not None
    assert expired.expires_at < datetime.now(timezone.utc)
    rotated = token(http, emu).json()["access_token"]
    assert rotated["access_token"] != first["access_token"]
    assert rotated["expires_at"] >= first["expires_at"]
    assert rotated["scopes"] == first["scopes"]
    assert token(http, emu).json()["access_token"] == rotated


def test_a_token_near_its_expiry_is_rotated(http: requests.Session) -> None:
    with Emulator(api_key=API_KEY, token_lifetime=2) as short:
        short.connect("salesforce", "user_1")
        first = token(http, short).json()["access_token"]["access_token"]
        time.sleep(1.1)  # within the last half of the lifetime
        assert token(http, short).json()["access_token"]["access_token"] != first


def test_tokens_can_be_made_to_never_expire(http: requests.Session) -> None:
    with Emulator(api_key=API_KEY, token_lifetime=None) as forever:
        forever.connect("salesforce", "user_1")
        body = token(http, forever).json()
    assert body["access_token"]["expires_at"] is None
    result = TokenResult.from_api(body)
    assert result.access_token is not None
    assert result.access_token.expires_at is None


# Errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sk_test_wrong"}, {"Authorization": f"Basic {API_KEY}"}],
    ids=["missing", "wrong", "not-bearer"],
)
def test_a_missing_or_wrong_api_key_is_401(
    http: requests.Session, emu: Emulator, headers: dict[str, str]
) -> None:
    emu.connect("salesforce", "user_1")
    answer = http.post(
        f"{emu.url}/data-integrations/salesforce/token", json={"user_id": "user_1"}, headers=headers
    )
    assert answer.status_code == 401
    assert answer.json() == {"message": "Unauthorized", "code": "unauthorized"}
    assert answer.headers["X-Request-ID"]


def test_an_unknown_provider_is_404_not_not_installed(
    http: requests.Session, emu: Emulator
) -> None:
    answer = token(http, emu, "myspace")
    assert answer.status_code == 404
    assert answer.json()["code"] == "entity_not_found"
    assert "myspace" in answer.json()["message"]


def test_more_providers_can_be_configured(http: requests.Session) -> None:
    with Emulator(api_key=API_KEY, providers={"custom-crm": ["records.read"]}) as custom:
        assert token(http, custom, "custom-crm").json()["error"] == "not_installed"
        custom.connect("custom-crm", "user_1")
        assert token(http, custom, "custom-crm").json()["access_token"]["scopes"] == [
            "records.read"
        ]
        assert token(http, custom, "salesforce").status_code == 200  # built-ins stay


@pytest.mark.parametrize(
    ("data", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b'["user_1"]', 400, "invalid_json"),
        (b"{}", 422, "invalid_request_parameters"),
        (b"", 422, "invalid_request_parameters"),
        (b'{"user_id": 42}', 422, "invalid_request_parameters"),
        (b'{"user_id": "user_1", "organization_id": 7}', 422, "invalid_request_parameters"),
    ],
)
def test_a_bad_body_is_a_client_error(
    http: requests.Session, emu: Emulator, data: bytes, status: int, code: str
) -> None:
    answer = http.post(
        f"{emu.url}/data-integrations/salesforce/token",
        data=data,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert answer.status_code == status
    assert answer.json()["code"] == code
    assert answer.json()["message"]


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


# The connect flow ------------------------------------------------------------------


def test_authorize_points_at_the_consent_page(http: requests.Session, emu: Emulator) -> None:
    url = authorize(http, emu, user_id="user_<b>", organization_id="org_1")
    assert url.startswith(f"{emu.url}/consent/")
    page = http.get(url)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    html = page.text
    assert "Connect your Salesforce account" in html
    assert "user_&lt;b&gt;" in html and "user_<b>" not in html
    assert "org_1" in html
    for scope in emu.providers["salesforce"].scopes:
        assert f"<code>{scope}</code>" in html
    assert 'value="allow"' in html and 'value="deny"' in html
    assert 'method="post"' in html
    assert "app.example" in html  # where the user will be sent back


def test_allow_connects_redirects_and_sends_a_signed_webhook(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    url = authorize(http, emu, organization_id="org_1")
    answer = http.post(url, data={"decision": "allow"}, allow_redirects=False)

    assert answer.status_code == 302
    assert answer.headers["Location"] == "https://app.example/after?next=%2Fdash"
    connection = emu.connection("salesforce", "user_1", "org_1")
    assert connection is not None
    assert connection.state == "connected"
    assert connection.scopes == emu.providers["salesforce"].scopes
    assert token(http, emu, organization_id="org_1").json()["active"] is True

    # Allow waits for the delivery, so the app has the webhook before the redirect lands.
    (event,) = receiver.events()
    assert event.keys() == {"object", "id", "event", "data", "created_at"}
    assert event["object"] == "event"
    assert event["event"] == EVENT_CONNECTED
    assert event["id"].startswith("event_")
    assert STAMP.match(event["created_at"])
    data = event["data"]
    assert data["object"] == "connected_account"
    assert data["id"] == connection.id and data["id"].startswith("ca_")
    assert data["provider_slug"] == "salesforce"
    assert data["user_id"] == "user_1"
    assert data["organization_id"] == "org_1"
    assert data["scopes"] == list(connection.scopes)
    assert data["state"] == "connected"
    assert data["data_integration_id"].startswith("data_integration_")
    assert STAMP.match(data["created_at"]) and STAMP.match(data["updated_at"])


def test_the_webhook_signature_is_bound_to_the_body(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    http.post(authorize(http, emu), data={"decision": "allow"}, allow_redirects=False)
    ((headers, body),) = receiver.received
    header = headers[signatures.HEADER]
    assert re.fullmatch(r"t=\d{13}, v1=[0-9a-f]{64}", header)
    signatures.verify(body, header, [SECRET])
    with pytest.raises(signatures.SignatureError):
        signatures.verify(body.replace(b"user_1", b"user_2"), header, [SECRET])
    with pytest.raises(signatures.SignatureError):
        signatures.verify(body, header, ["another-secret"])


def test_deny_connects_nothing_and_says_access_denied(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    started = http.post(
        f"{emu.url}/data-integrations/salesforce/authorize",
        json={"user_id": "user_1", "return_to": "https://app.example/after?next=%2Fdash"},
        headers=AUTH,
    ).json()
    answer = http.post(started["url"], data={"decision": "deny"}, allow_redirects=False)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "app.example", "/after")
    assert location.query.startswith("next=%2Fdash&")  # the app's own query is kept as is
    assert parse_qs(location.query) == {
        "next": ["/dash"],
        "error": ["access_denied"],
        "state": [started["state"]],
    }
    assert emu.connection("salesforce", "user_1") is None
    assert token(http, emu).json()["error"] == "not_installed"
    assert emu.wait_for_webhooks(2)
    # Nothing connected; the app hears of the failed attempt (issue 12).
    (failed,) = receiver.events()
    assert failed["event"] == "pipes.connected_account.connection_failed"
    assert failed["data"]["error_code"] == "access_denied"


def test_a_consent_link_answers_once_and_unknown_links_are_404(
    http: requests.Session, emu: Emulator
) -> None:
    url = authorize(http, emu)
    assert http.post(url, data={"decision": "allow"}, allow_redirects=False).status_code == 302
    for again in (http.get(url), http.post(url, data={"decision": "deny"})):
        assert again.status_code == 404
        assert "text/html" in again.headers["Content-Type"]
        assert "not valid" in again.text
    assert http.get(f"{emu.url}/consent/consent_nope").status_code == 404


def test_consent_without_return_to_shows_a_page(http: requests.Session, emu: Emulator) -> None:
    answer = http.post(
        f"{emu.url}/data-integrations/slack/authorize", json={"user_id": "user_1"}, headers=AUTH
    )
    page = http.post(answer.json()["url"], data={"decision": "allow"}, allow_redirects=False)
    assert page.status_code == 200
    assert "Slack connected" in page.text


def test_reauthorizing_grants_the_missing_scopes(http: requests.Session, emu: Emulator) -> None:
    connection = emu.connect("google", "user_1", scopes=["email"], missing_scopes=["drive"])
    emu.needs_reauthorization("google", "user_1")
    answer = http.post(
        f"{emu.url}/data-integrations/google/authorize",
        json={
            "user_id": "user_1",
            "return_to": "http://localhost:8000/back",
            "connection_intent": "reauthorize",
            "connected_account_id": connection.id,
        },
        headers=AUTH,
    )
    assert "<code>drive</code>" in http.get(answer.json()["url"]).text
    http.post(answer.json()["url"], data={"decision": "allow"}, allow_redirects=False)
    access = token(http, emu, "google").json()["access_token"]
    assert access["scopes"] == ["email", "drive"]
    assert access["missing_scopes"] == []
    assert emu.connection("google", "user_1").id == connection.id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [
        {"return_to": "/relative"},
        {"return_to": "javascript:alert(1)"},
        {"return_to": "https://app.example/\r\nSet-Cookie: x=1"},
        {"connection_intent": "steal"},
        {"connection_intent": "reauthorize"},
        {"code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
        {"user_id": ""},
    ],
)
def test_authorize_rejects_bad_parameters(
    http: requests.Session, emu: Emulator, body: dict[str, Any]
) -> None:
    answer = http.post(
        f"{emu.url}/data-integrations/salesforce/authorize",
        json={"user_id": "user_1", **body},
        headers=AUTH,
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request_parameters"


def test_authorize_needs_the_api_key_and_a_known_provider(
    http: requests.Session, emu: Emulator
) -> None:
    url = f"{emu.url}/data-integrations/salesforce/authorize"
    assert http.post(url, json={"user_id": "user_1"}).status_code == 401
    unknown = url.replace("salesforce", "myspace")
    assert http.post(unknown, json={"user_id": "user_1"}, headers=AUTH).status_code == 404


# Connected accounts ----------------------------------------------------------------


def test_get_a_connected_account(http: requests.Session, emu: Emulator) -> None:
    connection = emu.connect("jira", "user_1", organization_id="org_1", scopes=["read:jira-work"])
    base = f"{emu.url}/user_management/users/user_1/connected_accounts/jira"
    answer = http.get(base, params={"organization_id": "org_1"}, headers=AUTH)
    assert answer.status_code == 200
    account = answer.json()
    assert account["object"] == "connected_account"
    assert account["id"] == connection.id
    assert account["user_id"] == "user_1"
    assert account["organization_id"] == "org_1"
    assert account["scopes"] == ["read:jira-work"]
    assert account["state"] == "connected"
    assert STAMP.match(account["created_at"]) and STAMP.match(account["updated_at"])

    emu.needs_reauthorization("jira", "user_1", "org_1")
    again = http.get(base, params={"organization_id": "org_1"}, headers=AUTH).json()
    assert again["state"] == "needs_reauthorization"
    assert again["updated_at"] >= account["updated_at"]

    assert http.get(base, headers=AUTH).status_code == 404  # no org: another account
    assert http.get(base, params={"organization_id": "org_1"}).status_code == 401


def test_delete_a_connected_account_disconnects_it(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    emu.connect("github", "user_1")
    url = f"{emu.url}/user_management/users/user_1/connected_accounts/github"
    answer = http.delete(url, headers=AUTH)
    assert answer.status_code == 204
    assert answer.content == b""
    assert token(http, emu, "github").json()["error"] == "not_installed"
    assert http.get(url, headers=AUTH).status_code == 404
    assert http.delete(url, headers=AUTH).status_code == 404

    assert emu.wait_for_webhooks(5)
    events = [event["event"] for event in receiver.events()]
    assert events == [EVENT_CONNECTED, EVENT_DISCONNECTED]
    assert receiver.events()[-1]["data"]["state"] == "disconnected"


# Webhooks for state changes --------------------------------------------------------


def test_each_state_change_sends_its_signed_webhook_in_order(
    emu: Emulator, receiver: Receiver
) -> None:
    connected = emu.connect("notion", "user_1", organization_id="org_9")
    emu.needs_reauthorization("notion", "user_1", "org_9")
    emu.needs_reauthorization("notion", "user_1", "org_9")  # no transition: no event
    emu.expire("notion", "user_1", "org_9")  # not a state change
    emu.disconnect("notion", "user_1", "org_9")

    events = receiver.events()  # the state methods return once delivered
    assert [event["event"] for event in events] == [
        EVENT_CONNECTED,
        EVENT_REAUTHORIZATION_NEEDED,
        EVENT_DISCONNECTED,
    ]
    assert [event["data"]["state"] for event in events] == [
        "connected",
        "needs_reauthorization",
        "disconnected",
    ]
    assert {event["data"]["id"] for event in events} == {connected.id}
    assert len({event["id"] for event in events}) == 3
    assert emu.events == events
    assert [delivery.delivered for delivery in emu.deliveries] == [True, True, True]


def test_state_methods_refuse_unknown_things(emu: Emulator) -> None:
    with pytest.raises(UnknownConnection):
        emu.needs_reauthorization("salesforce", "user_nobody")
    with pytest.raises(UnknownConnection):
        emu.disconnect("salesforce", "user_nobody")
    with pytest.raises(UnknownConnection):
        emu.expire("salesforce", "user_nobody")
    with pytest.raises(ValueError, match="unknown provider"):
        emu.connect("myspace", "user_1")
    with pytest.raises(ValueError, match="webhook_secret"):
        Emulator(webhook_url="http://127.0.0.1:9/hook")


def test_a_failing_receiver_gets_retries() -> None:
    flaky = Receiver(fail_first=1)
    try:
        with Emulator(api_key=API_KEY, webhook_url=flaky.url, webhook_secret=SECRET) as emu:
            emu.connect("salesforce", "user_1")
            (delivery,) = emu.deliveries
            assert delivery.delivered
            assert delivery.attempts == 2
            assert [event["event"] for event in flaky.events()] == [EVENT_CONNECTED]
    finally:
        flaky.close()


def test_an_unreachable_receiver_never_breaks_the_emulator(http: requests.Session) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    with Emulator(api_key=API_KEY, webhook_url=dead, webhook_secret=SECRET) as emu:
        emu.connect("salesforce", "user_1")
        (delivery,) = emu.deliveries
        assert not delivery.delivered
        assert delivery.attempts == 3
        assert delivery.error
        assert token(http, emu).json()["active"] is True


def test_webhooks_arrive_with_the_header_spelled_as_workos_does() -> None:
    with LoopbackServer(lambda request: (200, {}, b"")) as inbox:
        with Emulator(
            api_key=API_KEY, webhook_url=f"{inbox.url}/hook?x=1", webhook_secret=SECRET
        ) as emu:
            emu.connect("salesforce", "user_1")
        ((path, headers),) = [(r["path"], r["headers"]) for r in inbox.requests]
    assert path == "/hook?x=1"
    assert signatures.HEADER in headers  # "WorkOS-Signature", not "Workos-Signature"
    assert headers["Content-Type"] == "application/json"


def test_a_redirect_is_a_failed_delivery_not_followed() -> None:
    answer = (302, {"Location": "/elsewhere"}, b"")
    with LoopbackServer(lambda request: answer) as inbox:
        with Emulator(
            api_key=API_KEY, webhook_url=f"{inbox.url}/hook", webhook_secret=SECRET
        ) as emu:
            emu.connect("salesforce", "user_1")
            (delivery,) = emu.deliveries
        assert [r["path"] for r in inbox.requests] == ["/hook"] * 3
    assert (delivery.status, delivery.delivered, delivery.error) == (302, False, "HTTP 302")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/hook", "http:///hook", "http://127.0.0.1:99999/"]
)
def test_a_webhook_url_must_be_http(url: str) -> None:
    with pytest.raises(ValueError, match="webhook URL"):
        Emulator(api_key=API_KEY, webhook_url=url, webhook_secret=SECRET)


def test_events_are_recorded_without_a_webhook_url(http: requests.Session) -> None:
    with Emulator(api_key=API_KEY) as emu:
        emu.connect("salesforce", "user_1")
        assert [event["event"] for event in emu.events] == [EVENT_CONNECTED]
        assert emu.deliveries == []
        assert emu.wait_for_webhooks(0.1)


# Faults ----------------------------------------------------------------------------


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
    request = (
        b"POST /data-integrations/salesforce/token HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer sk_test_emulator\r\nContent-Type: application/json\r\n"
        b'Content-Length: 21\r\n\r\n{"user_id": "user_1"}'
    )
    assert raw_exchange(emu, request) == b""


def test_drop_mid_answer_sends_headers_then_part_of_the_body(
    http: requests.Session, emu: Emulator
) -> None:
    emu.connect("salesforce", "user_1")
    emu.inject_fault("drop_mid_answer")
    request = (
        b"POST /data-integrations/salesforce/token HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer sk_test_emulator\r\nContent-Type: application/json\r\n"
        b'Content-Length: 21\r\n\r\n{"user_id": "user_1"}'
    )
    head, _, body = raw_exchange(emu, request).partition(b"\r\n\r\n")
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


# The control API and page ----------------------------------------------------------


def test_the_control_api_drives_connections(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    control = f"{emu.url}/_emulator"
    who = {"provider": "dropbox", "user_id": "user_1", "organization_id": "org_1"}

    created = http.post(f"{control}/connections", json={**who, "scopes": ["files.read"]})
    assert created.status_code == 201
    assert created.json()["state"] == "connected"
    assert created.json()["scopes"] == ["files.read"]
    first = token(http, emu, "dropbox", organization_id="org_1").json()["access_token"]
    assert created.json()["access_token"] == first["access_token"]

    expired = http.post(f"{control}/connections/expire", json=who)
    assert expired.status_code == 200
    rotated = token(http, emu, "dropbox", organization_id="org_1").json()["access_token"]
    assert rotated["access_token"] != first["access_token"]

    flipped = http.post(f"{control}/connections/needs_reauthorization", json=who)
    assert flipped.json()["state"] == "needs_reauthorization"
    assert token(http, emu, "dropbox", organization_id="org_1").json()["active"] is False

    state = http.get(f"{control}/state").json()
    assert [(c["provider_slug"], c["state"]) for c in state["connections"]] == [
        ("dropbox", "needs_reauthorization")
    ]
    assert state["api_key"] == "sk_t\u2026"
    assert API_KEY not in json.dumps(state)

    assert http.post(f"{control}/connections/disconnect", json=who).status_code == 200
    assert http.get(f"{control}/state").json()["connections"] == []
    # Control calls answer after their webhook is delivered.
    assert [e["event"] for e in receiver.events()] == [
        EVENT_CONNECTED,
        EVENT_REAUTHORIZATION_NEEDED,
        EVENT_DISCONNECTED,
    ]
    events = http.get(f"{control}/events").json()
    assert [e["event"] for e in events["events"]] == [e["event"] for e in receiver.events()]
    assert all(d["delivered"] for d in events["deliveries"])


def test_the_control_api_refuses_mistakes(http: requests.Session, emu: Emulator) -> None:
    control = f"{emu.url}/_emulator"
    missing = http.post(
        f"{control}/connections/disconnect", json={"provider": "slack", "user_id": "u"}
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "entity_not_found"
    assert http.post(f"{control}/connections", json={"provider": "slack"}).status_code == 422
    assert (
        http.post(f"{control}/connections", json={"provider": "x", "user_id": "u"}).status_code
        == 422
    )
    assert http.post(f"{control}/connections/explode", json={}).status_code == 404
    as_json = {"Content-Type": "application/json"}
    assert http.post(f"{control}/connections", data=b"{oops", headers=as_json).status_code == 400
    assert http.post(f"{control}/faults", json={"kind": "status", "count": "x"}).status_code == 422


def test_the_control_api_drives_faults_and_counts_calls(
    http: requests.Session, emu: Emulator
) -> None:
    control = f"{emu.url}/_emulator"
    emu.connect("salesforce", "user_1")
    added = http.post(
        f"{control}/faults", json={"kind": "status", "status": 429, "retry_after": "2", "count": 2}
    )
    assert added.status_code == 201
    assert added.json()["faults"] == [
        {"kind": "status", "status": 429, "retry_after": 2, "delay": 0.0, "remaining": 2}
    ]
    first = token(http, emu)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
    assert http.delete(f"{control}/faults").status_code == 204
    assert token(http, emu).status_code == 200

    calls = http.get(f"{control}/calls").json()
    assert calls["token_calls"] == 2
    assert [(c["method"], c["path"]) for c in calls["calls"]] == [
        ("POST", "/data-integrations/salesforce/token")
    ] * 2
    assert calls["calls"][0]["body"] == {"user_id": "user_1"}
    assert calls["calls"][0]["headers"]["authorization"] == "Bearer sk_t\u2026"

    assert http.post(f"{control}/reset", json={}).status_code == 204
    assert emu.token_calls == 0 and emu.calls == [] and emu.connections() == []
    assert token(http, emu).json()["error"] == "not_installed"


def test_the_python_api_records_calls(http: requests.Session, emu: Emulator) -> None:
    token(http, emu, organization_id="org_1")
    (call,) = emu.calls
    method, path, body, headers = call
    assert (method, path) == ("POST", "/data-integrations/salesforce/token")
    assert body == {"user_id": "user_1", "organization_id": "org_1"}
    assert headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer sk_t\u2026"

    bare = {"Authorization": API_KEY}  # no scheme: refused, and still masked in the record
    http.post(f"{emu.url}/data-integrations/salesforce/token", json={}, headers=bare)
    assert emu.calls[-1].headers["authorization"] == "sk_t\u2026"
    assert API_KEY not in repr(emu.calls)
    emu.reset()
    assert (emu.calls, emu.token_calls, emu.events) == ([], 0, [])


def test_the_control_page_lists_connections_with_their_actions(
    http: requests.Session, emu: Emulator
) -> None:
    emu.connect("salesforce", "user_<1>", organization_id="org_1")
    emu.inject_fault("status", status=503, retry_after=5)
    page = http.get(f"{emu.url}/_emulator/")
    assert page.status_code == 200
    html = page.text
    assert "user_&lt;1&gt;" in html and "user_<1>" not in html
    for action in ("needs_reauthorization", "expire", "disconnect"):
        assert f'action="/_emulator/connections/{action}"' in html
    assert 'action="/_emulator/faults"' in html
    assert "Retry-After 5" in html
    token_value = emu.connection("salesforce", "user_<1>", "org_1").access_token  # type: ignore[union-attr]
    assert token_value not in html  # shown masked only
    assert emu.url in html


def test_the_built_in_key_is_shown_in_full_with_the_settings_to_paste(
    http: requests.Session, emu: Emulator
) -> None:
    """``sk_test_emulator`` is public: hiding it only makes the first hour harder."""
    assert emu.api_key == DEFAULT_API_KEY
    assert emu.shown_api_key == DEFAULT_API_KEY
    assert f"(API key {DEFAULT_API_KEY}, webhooks to {emu.webhook_url})" in status_line(emu)
    html = http.get(f"{emu.url}/_emulator/").text
    assert f"API key <code>{DEFAULT_API_KEY}</code>" in html
    settings = html[html.index("WORKOS_PIPES = {") :].split("</code>")[0]
    assert settings.replace("&quot;", '"').splitlines() == [
        "WORKOS_PIPES = {",
        f'    "API_KEY": "{DEFAULT_API_KEY}",',
        f'    "BASE_URL": "{emu.url}",',
        '    "WEBHOOK_SECRET": os.environ["WORKOS_WEBHOOK_SECRET"],  # whse\u2026',
        "}",
    ]
    assert SECRET not in html
    # Machines still get it masked, as before.
    assert http.get(f"{emu.url}/_emulator/state").json()["api_key"] == "sk_t\u2026"


def test_a_key_or_secret_of_your_own_is_never_shown(http: requests.Session) -> None:
    key, secret = "sk_test_mine_0123456789", "whsec_mine_0123456789"
    with Emulator(api_key=key, webhook_url="http://127.0.0.1:9/h", webhook_secret=secret) as own:
        line = status_line(own)
        html = http.get(f"{own.url}/_emulator/").text.replace("&quot;", '"')
    assert "(API key sk_t\u2026," in line and key not in line
    assert key not in html and secret not in html
    assert '"API_KEY": os.environ["WORKOS_API_KEY"],  # sk_t\u2026' in html
    assert '"WEBHOOK_SECRET": os.environ["WORKOS_WEBHOOK_SECRET"],  # whse\u2026' in html
    with Emulator() as bare:
        html = http.get(f"{bare.url}/_emulator/").text
    assert "# No webhooks: start the emulator with --webhook-url" in html


def test_expire_token_sends_no_webhook_and_the_next_token_call_is_fresh(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    """As WorkOS does: a token that dies early is news to nobody; asking again works."""
    emu.connect("salesforce", "user_1")
    first = token(http, emu).json()["access_token"]
    who = {"provider": "salesforce", "user_id": "user_1", "organization_id": ""}
    answer = http.post(
        f"{emu.url}/_emulator/connections/expire", data=who, headers={"Origin": emu.url}
    )
    assert "No webhook" in answer.text  # the page says so
    assert emu.wait_for_webhooks(5)
    assert [e["event"] for e in receiver.events()] == [EVENT_CONNECTED]
    assert [e["event"] for e in emu.events] == [EVENT_CONNECTED]
    fresh = token(http, emu).json()
    assert fresh["active"] is True
    assert fresh["access_token"]["access_token"] != first["access_token"]
    expires_at = datetime.fromisoformat(fresh["access_token"]["expires_at"].replace("Z", "+00:00"))
    assert expires_at > datetime.now(timezone.utc) + timedelta(minutes=50)
    assert 'title="The token expires now, and no webhook is sent' in answer.text


def test_the_control_page_forms_act_and_come_back(http: requests.Session, emu: Emulator) -> None:
    """As a browser posts them from the page: with the page's own origin."""
    http.headers["Origin"] = emu.url
    emu.connect("salesforce", "user_1")
    form = {"provider": "salesforce", "user_id": "user_1", "organization_id": ""}
    answer = http.post(
        f"{emu.url}/_emulator/connections/needs_reauthorization", data=form, allow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/_emulator/?notice=")
    assert emu.connection("salesforce", "user_1").state == "needs_reauthorization"  # type: ignore[union-attr]

    fault = {"kind": "status", "count": "1", "status": "503", "retry_after": "", "delay": "0"}
    assert http.post(f"{emu.url}/_emulator/faults", data=fault).status_code == 200
    assert [f["status"] for f in emu.faults] == [503]

    created = {"provider": "slack", "user_id": "user_2", "scopes": "a, b c", "missing_scopes": ""}
    page = http.post(f"{emu.url}/_emulator/connections", data=created)
    assert page.status_code == 200 and "Connected." in page.text
    assert emu.connection("slack", "user_2").scopes == ("a", "b", "c")  # type: ignore[union-attr]

    bad = http.post(f"{emu.url}/_emulator/connections/expire", data={"provider": "slack"})
    assert "user_id is required" in bad.text


def test_the_control_page_lets_its_forms_say_where_they_come_from(
    http: requests.Session, emu: Emulator
) -> None:
    """With ``no-referrer`` a browser sends ``Origin: null`` on the page's own POSTs."""
    page = http.get(f"{emu.url}/_emulator/")
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "form-action 'self'" in page.headers["Content-Security-Policy"]


# What a web page in the developer's browser must not do -----------------------------


def test_control_writes_need_json_so_no_web_page_can_post_them(
    http: requests.Session, emu: Emulator
) -> None:
    """Forms and ``text/plain`` are what a cross-site page can POST without asking."""
    url = f"{emu.url}/_emulator/connections"
    who = {"provider": "slack", "user_id": "user_1"}
    as_form = http.post(url, data=who)
    assert as_form.status_code == 415
    assert "application/json" in as_form.json()["message"]
    as_text = http.post(url, data=json.dumps(who), headers={"Content-Type": "text/plain"})
    assert as_text.status_code == 415
    bare = http.post(f"{emu.url}/_emulator/reset")
    assert bare.status_code == 415
    assert http.post(f"{emu.url}/_emulator/faults/clear", data={}).status_code == 415
    assert emu.connections() == []
    with_charset = {"Content-Type": "Application/JSON; charset=utf-8"}
    assert http.post(url, data=json.dumps(who), headers=with_charset).status_code == 201


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "null", "https://127.0.0.1", "http://127.0.0.1"]
)
def test_control_requests_from_another_origin_are_refused(
    http: requests.Session, emu: Emulator, origin: str
) -> None:
    url = f"{emu.url}/_emulator/connections"
    who = {"provider": "slack", "user_id": "user_1"}
    for answer in (
        http.post(url, json=who, headers={"Origin": origin}),
        http.post(url, data=who, headers={"Origin": origin}),
        http.get(f"{emu.url}/_emulator/state", headers={"Origin": origin}),
    ):
        assert answer.status_code == 403, answer.text
        assert "Origin" in answer.json()["message"]
    assert emu.connections() == []
    same = http.post(url, json=who, headers={"Origin": emu.url})
    assert same.status_code == 201


def test_the_control_api_answers_only_to_its_own_host_names(
    http: requests.Session, emu: Emulator
) -> None:
    """DNS rebinding: a page at evil.example, its name re-pointed at 127.0.0.1, sends
    ``Host: evil.example``; the emulator must not answer it with its state."""
    port = emu.port
    state = f"{emu.url}/_emulator/state"
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.nip.io:{port}", "[::2]"):
        for answer in (
            http.get(state, headers={"Host": host}),
            http.get(f"{emu.url}/_emulator/", headers={"Host": host}),
            http.post(f"{emu.url}/_emulator/reset", json={}, headers={"Host": host}),
        ):
            assert answer.status_code == 403, (host, answer.status_code)
            assert "Host" in answer.json()["message"]
    for host in (
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        "LOCALHOST",
        f"[::1]:{port}",
        "127.0.0.2",
    ):
        assert http.get(state, headers={"Host": host}).status_code == 200, host
    # The API surface needs the API key instead: another container may call it by name.
    emu.connect("salesforce", "user_1")
    named = http.post(
        f"{emu.url}/data-integrations/salesforce/token",
        json={"user_id": "user_1"},
        headers={**AUTH, "Host": "emulator:4100"},
    )
    assert named.json()["active"] is True


def test_the_public_url_names_another_host_the_control_api_answers(
    http: requests.Session,
) -> None:
    with Emulator(api_key=API_KEY, public_url="https://emu.example.test/") as emu:
        outside = {"Host": "emu.example.test", "Origin": "https://emu.example.test"}
        assert http.get(f"{emu.url}/_emulator/state", headers=outside).status_code == 200
        who = {"provider": "slack", "user_id": "user_1"}
        created = http.post(f"{emu.url}/_emulator/connections", json=who, headers=outside)
        assert created.status_code == 201
        other = {"Host": "emu.example.test", "Origin": "https://other.example.test"}
        assert http.get(f"{emu.url}/_emulator/state", headers=other).status_code == 403
