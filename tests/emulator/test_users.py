"""The emulator's user-management users: what a site links its own users to (issue 13).

A real emulator on loopback; every answer is read as JSON off the wire.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests

from django_workos_pipes.emulator import Emulator
from django_workos_pipes.emulator.directory import Taken
from tests.emulator.calls import call, running

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
USER_KEYS = {
    "object",
    "id",
    "email",
    "email_verified",
    "first_name",
    "last_name",
    "name",
    "profile_picture_url",
    "external_id",
    "metadata",
    "locale",
    "last_sign_in_at",
    "created_at",
    "updated_at",
}
EMAIL_TAKEN = {
    "message": "Could not create user.",
    "code": "user_creation_error",
    "errors": [{"code": "email_not_available", "message": "This email is not available."}],
}


def create(http: requests.Session, emu: Emulator, **body: Any) -> requests.Response:
    return call(http, emu, "POST", "/user_management/users", json=body)


def listing(http: requests.Session, emu: Emulator, **params: Any) -> dict[str, Any]:
    answer = call(http, emu, "GET", "/user_management/users", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["object"] == "list" and body.keys() == {"object", "data", "list_metadata"}
    return body


def emails(body: dict[str, Any]) -> list[str]:
    return [user["email"] for user in body["data"]]


def test_create_stores_the_email_trimmed_and_lower_cased(
    http: requests.Session, emu: Emulator
) -> None:
    answer = create(
        http, emu, email="  Ann.Example@Acme.COM ", first_name="Ann", last_name="Example",
        external_id="42", email_verified=True, metadata={"plan": "pro"}, password="hunter2-ok",
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    user = answer.json()
    assert user.keys() == USER_KEYS
    assert user["object"] == "user"
    assert user["id"].startswith("user_")
    assert user["email"] == "ann.example@acme.com"
    assert (user["first_name"], user["last_name"], user["name"]) == (
        "Ann",
        "Example",
        "Ann Example",
    )
    assert user["external_id"] == "42" and user["email_verified"] is True
    assert user["metadata"] == {"plan": "pro"}
    assert user["profile_picture_url"] is None and user["last_sign_in_at"] is None
    assert STAMP.match(user["created_at"]) and STAMP.match(user["updated_at"])
    assert emu.user(user["id"]) is not None


def test_a_taken_email_is_the_400_workos_was_seen_to_send(
    http: requests.Session, emu: Emulator
) -> None:
    assert create(http, emu, email="ann@acme.com").status_code == 201
    again = create(http, emu, email=" ANN@acme.com")
    assert again.status_code == 400
    assert again.json() == EMAIL_TAKEN
    assert again.headers["X-Request-ID"]
    create(http, emu, email="bob@acme.com", external_id="7")
    clash = create(http, emu, email="carol@acme.com", external_id="7")
    assert clash.status_code == 400
    assert clash.json()["code"] == "user_creation_error"
    assert clash.json()["errors"][0]["code"] == "external_id_not_available"
    assert len(emu.users()) == 2


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "not-an-email"},
        {"email": 7},
        {"email": "a@b.co", "first_name": 3},
        {"email": "a@b.co", "email_verified": "yes"},
        {"email": "a@b.co", "metadata": {"n": 1}},
        {"email": "a@b.co", "password_hash": "$2b$...", "password_hash_type": "md5"},
    ],
)
def test_create_refuses_bad_fields(
    http: requests.Session, emu: Emulator, body: dict[str, Any]
) -> None:
    answer = create(http, emu, **body)
    assert answer.status_code == 422
    assert answer.json()["code"] == "invalid_request_parameters"
    assert emu.users() == []


def test_get_by_id_and_by_external_id(http: requests.Session, emu: Emulator) -> None:
    made = create(http, emu, email="ann@acme.com", external_id="django-17").json()
    assert call(http, emu, "GET", f"/user_management/users/{made['id']}").json() == made
    by_external = call(http, emu, "GET", "/user_management/users/external_id/django-17")
    assert by_external.status_code == 200 and by_external.json() == made
    missing = call(http, emu, "GET", "/user_management/users/external_id/django-18")
    assert missing.status_code == 404 and missing.json()["code"] == "entity_not_found"
    assert call(http, emu, "GET", "/user_management/users/user_nobody").status_code == 404
    unauthorized = http.get(f"{emu.url}/user_management/users/{made['id']}")
    assert unauthorized.status_code == 401
    odd = call(http, emu, "GET", "/user_management/users/external_id/a%2Fb%20c")
    assert odd.status_code == 404  # a percent-encoded id is read as one segment


def test_update_sets_what_it_is_given_and_keeps_the_rest(
    http: requests.Session, emu: Emulator
) -> None:
    made = create(http, emu, email="ann@acme.com", first_name="Ann").json()
    url = f"/user_management/users/{made['id']}"
    linked = call(http, emu, "PUT", url, json={"external_id": "17"})
    assert linked.status_code == 200
    user = linked.json()
    assert user["external_id"] == "17" and user["first_name"] == "Ann"
    assert user["updated_at"] >= made["updated_at"] and user["created_at"] == made["created_at"]
    assert (
        call(http, emu, "GET", "/user_management/users/external_id/17").json()["id"] == made["id"]
    )

    renamed = call(http, emu, "PUT", url, json={"email": " Ann@New.example ", "locale": "fr-FR"})
    assert renamed.json()["email"] == "ann@new.example"
    assert renamed.json()["locale"] == "fr-FR" and renamed.json()["external_id"] == "17"
    cleared = call(http, emu, "PUT", url, json={"external_id": None, "metadata": None}).json()
    assert cleared["external_id"] is None and cleared["metadata"] == {}

    create(http, emu, email="bob@acme.com", external_id="18")
    taken = call(http, emu, "PUT", url, json={"email": "BOB@acme.com"})
    assert taken.status_code == 400
    assert taken.json()["code"] == "user_update_error"
    assert taken.json()["errors"][0]["code"] == "email_not_available"
    assert call(http, emu, "PUT", url, json={"external_id": "18"}).status_code == 400
    assert call(http, emu, "PUT", "/user_management/users/user_x", json={}).status_code == 404
    assert call(http, emu, "PUT", url, json={"email": None}).status_code == 422


def test_list_filters_by_email_and_organization(http: requests.Session, emu: Emulator) -> None:
    emu.create_user("ann@acme.com", organization_ids=["org_acme"])
    emu.create_user("bob@acme.com", organization_ids=["org_acme", "org_beta"])
    emu.create_user("carol@beta.example", organization_ids=["org_beta"])
    assert emails(listing(http, emu, email=" ANN@acme.com ")) == ["ann@acme.com"]
    assert emails(listing(http, emu, email="nobody@acme.com")) == []
    assert emails(listing(http, emu, organization_id="org_acme")) == [
        "bob@acme.com",
        "ann@acme.com",
    ]  # newest first by default
    assert emails(listing(http, emu, organization="org_beta")) == [
        "carol@beta.example",
        "bob@acme.com",
    ]
    everyone = listing(http, emu)
    assert everyone["list_metadata"] == {"before": None, "after": None}


def test_list_pages_through_users_in_each_order(http: requests.Session, emu: Emulator) -> None:
    made = [emu.create_user(f"user{n}@acme.com").id for n in range(5)]  # oldest first
    newest = list(reversed(made))

    first = listing(http, emu, limit=2)
    assert [u["id"] for u in first["data"]] == newest[:2]
    assert first["list_metadata"] == {"before": None, "after": newest[1]}
    second = listing(http, emu, limit=2, after=newest[1])
    assert [u["id"] for u in second["data"]] == newest[2:4]
    assert second["list_metadata"] == {"before": newest[2], "after": newest[3]}
    last = listing(http, emu, limit=2, after=newest[3])
    assert [u["id"] for u in last["data"]] == newest[4:]
    assert last["list_metadata"] == {"before": newest[4], "after": None}
    back = listing(http, emu, limit=2, before=newest[4])
    assert [u["id"] for u in back["data"]] == newest[2:4]

    ascending = listing(http, emu, order="asc", limit=3)
    assert [u["id"] for u in ascending["data"]] == made[:3]
    assert ascending["list_metadata"]["after"] == made[2]
    assert [u["id"] for u in listing(http, emu, order="asc", after=made[2])["data"]] == made[3:]

    normal = listing(http, emu, order="normal", limit=2)
    assert [u["id"] for u in normal["data"]] == newest[:2]
    assert normal["list_metadata"] == {"before": newest[1], "after": None}
    older = listing(http, emu, order="normal", limit=2, before=newest[1])
    assert [u["id"] for u in older["data"]] == newest[2:4]
    newer = listing(http, emu, order="normal", limit=2, after=newest[2])
    assert [u["id"] for u in newer["data"]] == newest[:2]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
        {"order": "random"},
        {"before": "user_a", "after": "user_b"},
    ],
)
def test_list_refuses_bad_parameters(
    http: requests.Session, emu: Emulator, params: dict[str, str]
) -> None:
    answer = call(http, emu, "GET", "/user_management/users", params=params)
    assert answer.status_code == 422


def test_users_survive_a_restart_and_passwords_are_never_kept(
    tmp_path: Path, http: requests.Session
) -> None:
    state = tmp_path / "state.json"
    with running(state_file=state) as first:
        first.connect("slack", "user_1")
        made = create(http, first, email="ann@acme.com", external_id="17", password="s3cret-pw")
        made_id = made.json()["id"]
    assert "s3cret-pw" not in state.read_text()
    with running(state_file=state) as second:
        again = call(http, second, "GET", "/user_management/users/external_id/17").json()
        assert again["id"] == made_id
        assert second.connection("slack", "user_1") is not None
        second.reset()
    with running(state_file=state) as third:
        assert third.users() == [] and third.connections() == []


def test_faults_aimed_at_users_reach_every_user_endpoint(
    http: requests.Session, emu: Emulator
) -> None:
    emu.inject_fault("status", status=503, on="users", count=2)
    assert call(http, emu, "GET", "/user_management/users/external_id/1").status_code == 503
    assert create(http, emu, email="ann@acme.com").status_code == 503
    assert create(http, emu, email="ann@acme.com").status_code == 201
    assert emu.call_count("create_user") == 2
    assert emu.call_count("user_by_external_id") == 1
    counts = http.get(f"{emu.url}/_emulator/calls").json()["counts"]
    assert counts == {"user_by_external_id": 1, "create_user": 2}


def test_the_control_api_and_page_add_users(http: requests.Session, emu: Emulator) -> None:
    added = http.post(
        f"{emu.url}/_emulator/users",
        json={"email": "Ann@Acme.com", "external_id": "17", "organization_ids": ["org_acme"]},
    )
    assert added.status_code == 201
    assert added.json()["email"] == "ann@acme.com"
    assert added.json()["organization_ids"] == ["org_acme"]
    again = http.post(f"{emu.url}/_emulator/users", json={"email": "ann@acme.com"})
    assert again.status_code == 409
    state = http.get(f"{emu.url}/_emulator/state").json()
    assert [user["external_id"] for user in state["users"]] == ["17"]
    page = http.get(f"{emu.url}/_emulator/").text
    assert "ann@acme.com" in page and 'action="/_emulator/users"' in page
    with pytest.raises(Taken):
        emu.create_user("ANN@acme.com")
    assert http.post(f"{emu.url}/_emulator/reset", json={}).status_code == 204
    assert emu.users() == []


def test_organizations_are_found_by_external_id(http: requests.Session, emu: Emulator) -> None:
    made = call(http, emu, "POST", "/organizations", json={"name": "Acme", "external_id": "acme-1"})
    assert made.status_code == 201
    organization = made.json()
    assert organization["object"] == "organization" and organization["id"].startswith("org_")
    assert (organization["name"], organization["external_id"]) == ("Acme", "acme-1")
    assert organization["domains"] == [] and organization["metadata"] == {}
    found = call(http, emu, "GET", "/organizations/external_id/acme-1")
    assert found.status_code == 200 and found.json() == organization
    assert call(http, emu, "GET", f"/organizations/{organization['id']}").json() == organization
    assert call(http, emu, "GET", "/organizations/external_id/acme-2").status_code == 404
    assert call(http, emu, "GET", "/organizations/org_nobody").status_code == 404
    again = call(
        http, emu, "POST", "/organizations", json={"name": "Acme", "external_id": "acme-1"}
    )
    assert again.status_code == 409
    assert call(http, emu, "POST", "/organizations", json={}).status_code == 422

    by_control = http.post(
        f"{emu.url}/_emulator/organizations", json={"name": "Beta", "external_id": "beta-1"}
    )
    assert by_control.status_code == 201
    assert [o.name for o in emu.organizations()] == ["Acme", "Beta"]
    assert "Beta" in http.get(f"{emu.url}/_emulator/").text
    state = http.get(f"{emu.url}/_emulator/state").json()
    assert [o["external_id"] for o in state["organizations"]] == ["acme-1", "beta-1"]
    emu.inject_fault("status", status=503, on="organizations")
    assert call(http, emu, "GET", "/organizations/external_id/acme-1").status_code == 503
    assert create(http, emu, email="ann@acme.com").status_code == 201  # users: untouched


def test_organizations_survive_a_restart(tmp_path: Path, http: requests.Session) -> None:
    state = tmp_path / "state.json"
    with running(state_file=state) as first:
        made = first.create_organization("Acme", external_id="acme-1")
    with running(state_file=state) as second:
        found = call(http, second, "GET", "/organizations/external_id/acme-1").json()
    assert found["id"] == made.id and found["created_at"] == made.to_api()["created_at"]
