"""The emulator's stand-in provider API (``/_provider/{slug}/me``), "Expire token" and
"Revoke at provider" (issue 14).

A real emulator on loopback, webhooks to a real receiver that checks each signature.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from django_workos_pipes import wire
from django_workos_pipes.emulator import Emulator
from django_workos_pipes.masking import mask
from tests.emulator.calls import call, running, token
from tests.servers import Receiver

PROFILE_KEYS = {
    "provider",
    "connected_account_id",
    "user_id",
    "organization_id",
    "scopes",
    "token",
    "token_fingerprint",
}


def me(
    http: requests.Session, emu: Emulator, provider: str, bearer: str | None
) -> requests.Response:
    headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
    return http.get(f"{emu.url}/_provider/{provider}/me", headers=headers, timeout=10)


def refused_because(answer: requests.Response) -> str:
    assert answer.status_code == 401, answer.text
    body: dict[str, Any] = answer.json()
    assert body.keys() == {"error", "error_description"} and body["error"] == "invalid_token"
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
    reason: str = body["error_description"]
    assert f'error_description="{reason}"' in answer.headers["WWW-Authenticate"]
    return reason


def current_token(http: requests.Session, emu: Emulator, provider: str, **body: Any) -> str:
    answer = token(http, emu, provider, **body).json()
    assert answer["active"] is True, answer
    value: str = answer["access_token"]["access_token"]
    return value


def test_a_live_token_gets_the_account_behind_it_never_the_token(
    http: requests.Session, emu: Emulator
) -> None:
    made = emu.connect("hubspot", "user_1", organization_id="org_1", scopes=["oauth"])
    answer = me(http, emu, "hubspot", made.access_token)
    assert answer.status_code == 200
    profile = answer.json()
    assert profile.keys() == PROFILE_KEYS
    assert profile["provider"] == "hubspot"
    assert profile["connected_account_id"] == made.id
    assert (profile["user_id"], profile["organization_id"]) == ("user_1", "org_1")
    assert profile["scopes"] == ["oauth"]
    assert profile["token"] == mask(made.access_token)
    assert len(profile["token_fingerprint"]) == 8
    assert made.access_token not in answer.text
    assert (emu.provider_calls, emu.token_calls) == (1, 0)
    assert emu.calls == []  # not a WorkOS API call: counted apart, not recorded


def test_unknown_tokens_and_providers_are_refused(http: requests.Session, emu: Emulator) -> None:
    slack = emu.connect("slack", "user_1")
    assert refused_because(me(http, emu, "slack", None)) == "unknown"
    assert refused_because(me(http, emu, "slack", "xoxp-emu_made-up")) == "unknown"
    assert refused_because(me(http, emu, "github", slack.access_token)) == "unknown"
    basic = http.get(
        f"{emu.url}/_provider/slack/me", headers={"Authorization": f"Basic {slack.access_token}"}
    )
    assert refused_because(basic) == "unknown"
    missing = me(http, emu, "myspace", slack.access_token)
    assert missing.status_code == 404
    assert slack.access_token not in missing.text
    assert emu.provider_calls == 5 and emu.token_calls == 0


def test_an_expired_token_is_refused_until_workos_hands_out_a_fresh_one(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    emu.connect("salesforce", "user_1")
    old = current_token(http, emu, "salesforce")
    assert me(http, emu, "salesforce", old).status_code == 200
    emu.expire("salesforce", "user_1")
    assert refused_because(me(http, emu, "salesforce", old)) == "expired"

    fresh = current_token(http, emu, "salesforce")
    assert fresh != old
    assert me(http, emu, "salesforce", fresh).status_code == 200
    assert refused_because(me(http, emu, "salesforce", old)) == "unknown"  # replaced
    assert emu.wait_for_webhooks(5)
    assert receiver.event_types() == [wire.EVENT_CONNECTED]  # expiring sends none


def test_a_grant_revoked_at_the_provider_needs_reauthorization(
    http: requests.Session, emu: Emulator, receiver: Receiver
) -> None:
    made = emu.connect("jira", "user_1")
    revoked = emu.revoke_at_provider("jira", "user_1")
    assert revoked.revoked_at_provider and revoked.state == "connected"
    assert refused_because(me(http, emu, "jira", made.access_token)) == "revoked"
    assert emu.wait_for_webhooks(5)
    assert receiver.event_types() == [wire.EVENT_CONNECTED]  # WorkOS doesn't know yet

    answer = token(http, emu, "jira").json()
    assert answer == {"active": False, "error": "needs_reauthorization"}
    connection = emu.connection("jira", "user_1")
    assert connection is not None and connection.state == "needs_reauthorization"
    assert token(http, emu, "jira").json()["error"] == "needs_reauthorization"
    assert emu.wait_for_webhooks(5)
    events = receiver.events()
    assert [e["event"] for e in events] == [
        wire.EVENT_CONNECTED,
        wire.EVENT_REAUTHORIZATION_NEEDED,  # once, on the call that found out
    ]
    assert events[-1]["data"]["state"] == "needs_reauthorization"

    # Reauthorizing clears it: a new token, which the provider accepts.
    url = call(
        http, emu, "POST", "/data-integrations/jira/authorize",
        json={"user_id": "user_1", "connection_intent": "reauthorize", "connected_account_id": made.id},
    ).json()["url"]  # fmt: skip
    assert http.post(url, data={"decision": "allow"}).status_code == 200
    again = emu.connection("jira", "user_1")
    assert again is not None and not again.revoked_at_provider and again.id == made.id
    fresh = current_token(http, emu, "jira")
    assert fresh != made.access_token
    assert me(http, emu, "jira", fresh).status_code == 200


def test_a_connection_that_needs_reauthorization_is_refused_by_the_provider(
    http: requests.Session, emu: Emulator
) -> None:
    made = emu.connect("asana", "user_1")
    emu.needs_reauthorization("asana", "user_1")
    assert refused_because(me(http, emu, "asana", made.access_token)) == "revoked"


def test_the_control_api_and_page_revoke_at_the_provider(
    http: requests.Session, emu: Emulator
) -> None:
    made = emu.connect("notion", "user_1", organization_id="org_1")
    page = http.get(f"{emu.url}/_emulator/").text
    assert 'action="/_emulator/connections/revoke_at_provider"' in page
    assert "Revoke at provider" in page
    answer = http.post(
        f"{emu.url}/_emulator/connections/revoke_at_provider",
        json={"provider": "notion", "user_id": "user_1", "organization_id": "org_1"},
    )
    assert answer.status_code == 200
    assert answer.json()["revoked_at_provider"] is True
    assert refused_because(me(http, emu, "notion", made.access_token)) == "revoked"
    state = http.get(f"{emu.url}/_emulator/state").json()
    assert state["connections"][0]["revoked_at_provider"] is True
    assert state["provider_calls"] == 1
    assert "revoked at the provider" in http.get(f"{emu.url}/_emulator/").text
    unknown = http.post(
        f"{emu.url}/_emulator/connections/revoke_at_provider",
        json={"provider": "notion", "user_id": "user_2"},
    )
    assert unknown.status_code == 404


def test_faults_aimed_at_the_provider_reach_it_alone(http: requests.Session, emu: Emulator) -> None:
    made = emu.connect("github", "user_1")
    emu.inject_fault("status", status=503, on="provider")
    emu.inject_fault("status", status=500, on="any")  # WorkOS calls only
    assert me(http, emu, "github", made.access_token).status_code == 503
    assert me(http, emu, "github", made.access_token).status_code == 200
    assert token(http, emu, "github").status_code == 500


def test_the_revocation_survives_a_restart(tmp_path: Path, http: requests.Session) -> None:
    state = tmp_path / "state.json"
    with running(state_file=state) as first:
        made = first.connect("dropbox", "user_1")
        first.revoke_at_provider("dropbox", "user_1")
    with running(state_file=state) as second:
        assert refused_because(me(http, second, "dropbox", made.access_token)) == "revoked"
        assert token(http, second, "dropbox").json()["error"] == "needs_reauthorization"
