"""The control API and page under ``/_emulator/``, the calls the emulator records, and
what a web page in the developer's browser must not do with them (``emulator/control.py``)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import requests

from django_workos_pipes.emulator import (
    DEFAULT_API_KEY,
    EVENT_CONNECTED,
    EVENT_DISCONNECTED,
    EVENT_REAUTHORIZATION_NEEDED,
    Emulator,
)
from django_workos_pipes.emulator.cli import status_line
from tests.emulator.calls import (
    API_KEY,
    AUTH,
    SECRET,
    token,
)
from tests.servers import Receiver

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


# What a web page in the developer's browser must not do ----------------------------


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
