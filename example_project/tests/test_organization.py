"""The example's organization: Acme's administrator connects Acme's Salesforce, its member
uses it. Run with the example's own settings (``tests/test_example_organization.py``
starts this file in a pytest of its own), with WorkOS answered by ``pipes_fake``."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from django_workos_pipes.testing.fakes import FakeCall, PipesFake
from example_project.demo import accounts

pytestmark = pytest.mark.django_db

SHARED = {"organization_id": accounts.ORGANIZATION_ID, "owner": "organization"}
TEAM_PAGE = "/team/salesforce/"
CONNECT = "/pipes/connect/salesforce/?owner=organization&next=/team/salesforce/"


@pytest.fixture(autouse=True)
def users(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast
    call_command("demo_setup", verbosity=0)


def browser(username: str) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    return client


def test_demo_setup_creates_the_organization_s_users_once() -> None:
    call_command("demo_setup", verbosity=0)
    users = {
        user.username: (user.workos_organization_id, user.organization_admin)
        for user in get_user_model().objects.all()
    }
    assert users == {
        accounts.USERNAME: ("", False),
        accounts.ADMIN_USERNAME: (accounts.ORGANIZATION_ID, True),
        accounts.MEMBER_USERNAME: (accounts.ORGANIZATION_ID, False),
    }


def test_the_member_is_asked_to_wait_for_an_administrator(pipes_fake: PipesFake) -> None:
    member = browser(accounts.MEMBER_USERNAME)

    dashboard = member.get("/").content.decode()
    page = member.get(TEAM_PAGE)
    connect = member.get(CONNECT)

    assert "Ask an administrator of Acme to connect it" in dashboard
    assert "owner=organization" not in dashboard
    assert page["Location"] == CONNECT
    assert connect.status_code == 403 and "Ask an administrator" in connect.content.decode()
    assert all(call.method == "get_access_token" for call in pipes_fake.calls)


def test_the_administrator_connects_and_the_member_uses_it(pipes_fake: PipesFake) -> None:
    admin, member = browser(accounts.ADMIN_USERNAME), browser(accounts.MEMBER_USERNAME)
    assert "Connect for Acme" in admin.get("/").content.decode()

    consent = admin.get(CONNECT)
    assert consent.status_code == 302
    assert "connection_owner=organization" in consent["Location"]
    # The administrator consents at Salesforce; WorkOS now holds Acme's connection.
    token = pipes_fake.connect(
        "salesforce", accounts.ADMIN_WORKOS_USER_ID, owner="organization", **_org()
    )
    pipes_fake.clear_calls()

    pages = [client.get(TEAM_PAGE) for client in (member, admin) * 100]

    assert {page.status_code for page in pages} == {200}
    assert token.masked in pages[0].content.decode()
    assert token.access_token not in pages[0].content.decode()
    assert pipes_fake.calls == [
        FakeCall(
            "get_access_token",
            "salesforce",
            accounts.MEMBER_WORKOS_USER_ID,
            accounts.ORGANIZATION_ID,
            owner="organization",
        )
    ]
    assert "Every member of Acme uses this connection" in member.get("/").content.decode()


def test_a_user_outside_the_organization_is_refused_clearly(pipes_fake: PipesFake) -> None:
    response = browser(accounts.USERNAME).get(TEAM_PAGE)

    assert response.status_code == 403
    assert "shared by an organization" in response.content.decode()
    assert pipes_fake.calls == []


def test_the_demo_user_s_own_connections_are_unchanged(pipes_fake: PipesFake) -> None:
    token = pipes_fake.connect("salesforce", accounts.WORKOS_USER_ID, scopes=["api"])
    response = browser(accounts.USERNAME).get("/salesforce/")
    assert response.status_code == 200 and token.masked in response.content.decode()


def test_only_the_administrator_may_disconnect(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", owner="organization", **_org())
    disconnect = {"owner": "organization", "next": "/"}

    refused = browser(accounts.MEMBER_USERNAME).post("/pipes/disconnect/salesforce/", disconnect)
    done = browser(accounts.ADMIN_USERNAME).post("/pipes/disconnect/salesforce/", disconnect)

    assert refused.status_code == 403 and done.status_code == 302
    assert browser(accounts.MEMBER_USERNAME).get(TEAM_PAGE)["Location"] == CONNECT


def _org() -> dict[str, Any]:
    return {"organization_id": accounts.ORGANIZATION_ID}
