"""The example's API-key page: Zendesk's credential reaches the view with its config, and
only its masked form reaches the page. Run with the example's own settings
(``tests/system/test_example_organization.py`` runs this folder), WorkOS answered by
``pipes_fake``."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from django_workos_pipes.testing.fakes import PipesFake
from example_project.demo import accounts

pytestmark = pytest.mark.django_db

KEY = "zd_live_4f9a8c7b6e5d4c3b2a19"


@pytest.fixture
def demo(settings: Any) -> Client:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast
    call_command("demo_setup", verbosity=0)
    client = Client()
    client.force_login(get_user_model().objects.get(username=accounts.USERNAME))
    return client


def test_the_page_shows_the_config_and_never_the_key(demo: Client, pipes_fake: PipesFake) -> None:
    pipes_fake.connect_api_key(
        "zendesk", accounts.WORKOS_USER_ID, api_key=KEY, config={"subdomain": "acme"}
    )
    response = demo.get("/zendesk/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "subdomain = acme" in page
    assert "api_key" in page
    assert KEY not in page
    assert KEY[:4] + "\u2026" in page


def test_without_an_installation_the_user_is_sent_to_connect(
    demo: Client, pipes_fake: PipesFake
) -> None:
    response = demo.get("/zendesk/")
    assert response.status_code == 302
    assert response["Location"].startswith("/pipes/connect/zendesk/")
