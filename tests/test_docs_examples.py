"""The how-to guides' code (``docs/examples/``), run as the pages say it behaves.

Each example is shown on its page by ``literalinclude``, so what is tested here is what
a reader copies. WorkOS is ``pipes_fake``; providers are stubbed with ``responses``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from django.http import HttpRequest
from django.test import Client
from django.urls import include, path

from django_workos_pipes.testing.fakes import PipesFake
from docs.examples import deployment, resolvers, views

ROOT = Path(__file__).resolve().parent.parent
ANN = "user_01DOCSANN"
ACME = "org_01DOCSACME"
OBJECTS = f"{views.SALESFORCE}/sobjects/"

urlpatterns = [
    path("pipeline/", views.pipeline),
    path("tickets/", views.tickets),
    path("objects/", views.objects),
    path("objects-async/", views.objects_async),
    path("reports/", views.Reports.as_view()),
    path("pipes/", include("django_workos_pipes.urls")),
]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def ann_user_id(request: HttpRequest) -> str | None:
    return ANN if request.user.is_authenticated else None


def acme(request: HttpRequest) -> str | None:
    """Ann works for Acme; an ``?alone`` request belongs to no organization."""
    return None if "alone" in request.GET else ACME


@pytest.fixture(autouse=True)
def ann(client: Client, django_user_model: Any, settings: Any) -> None:
    settings.WORKOS_PIPES = {
        **settings.WORKOS_PIPES,
        "USER_ID_RESOLVER": ann_user_id,
        "ORGANIZATION_ID_RESOLVER": acme,
    }
    client.force_login(django_user_model.objects.create_user("ann"))


@pytest.fixture
def provider() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


# Organizations -----------------------------------------------------------------------


def test_members_use_the_organizations_token(client: Client, pipes_fake: PipesFake) -> None:
    token = pipes_fake.connect("salesforce", None, ACME, owner="organization")

    page = client.get("/pipeline/").content.decode()

    assert token.masked in page and token.access_token not in page
    assert client.get("/pipeline/?alone").status_code == 403


# Credentials ---------------------------------------------------------------------------


def test_an_api_key_provider_gives_its_config_never_its_key(
    client: Client, pipes_fake: PipesFake
) -> None:
    api_key = "zd_live_0123456789abcdef"
    pipes_fake.connect_api_key("zendesk", ANN, ACME, api_key=api_key, config={"subdomain": "acme"})

    page = client.get("/tickets/").content.decode()

    assert "api_key credential for https://acme.zendesk.com/api/v2/tickets.json" in page
    assert api_key not in page


# Sessions ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/objects/", "/objects-async/"])
def test_the_session_sends_the_token(
    url: str, client: Client, pipes_fake: PipesFake, provider: responses.RequestsMock
) -> None:
    token = pipes_fake.connect("salesforce", ANN, ACME)
    call = provider.get(OBJECTS, json={"sobjects": ["Account"]})

    response = client.get(url)

    assert response.json() == {"sobjects": ["Account"]}
    assert call.calls[0].request.headers["Authorization"] == f"Bearer {token.access_token}"


@pytest.mark.parametrize("url", ["/objects/", "/objects-async/"])
def test_a_token_the_provider_refuses_sends_the_user_to_reauthorize(
    url: str, client: Client, pipes_fake: PipesFake, provider: responses.RequestsMock
) -> None:
    pipes_fake.connect("salesforce", ANN, ACME)
    provider.get(OBJECTS, status=401)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"/pipes/reauthorize/salesforce/?next={url}"


def test_the_mixin_needs_the_scope(client: Client, pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", ANN, ACME, scopes=["id"])
    assert client.get("/reports/").url == "/pipes/reauthorize/salesforce/?next=/reports/"

    token = pipes_fake.connect("salesforce", ANN, ACME, scopes=["api"])
    assert client.get("/reports/").content.decode() == f"Reports with {token.masked}"


# Who is asking -------------------------------------------------------------------------


def test_a_resolver_of_your_own(client: Client, pipes_fake: PipesFake, settings: Any) -> None:
    settings.WORKOS_PIPES = {
        **settings.WORKOS_PIPES,
        "USER_ID_RESOLVER": "docs.examples.resolvers.session_user_id",
    }
    token = pipes_fake.connect("salesforce", "user_01FROMAUTHKIT", ACME, scopes=["api"])
    assert client.get("/reports/").url.startswith("/login/")  # nothing in the session yet

    session = client.session
    session["workos_user_id"] = "user_01FROMAUTHKIT"
    session.save()

    assert client.get("/reports/").content.decode() == f"Reports with {token.masked}"
    assert resolvers.session_user_id.__doc__


# Behind a proxy ------------------------------------------------------------------------


def test_behind_a_proxy_workos_sends_users_back_to_the_public_url(
    client: Client, pipes_fake: PipesFake, settings: Any
) -> None:
    for name in ("SECURE_PROXY_SSL_HEADER", "USE_X_FORWARDED_HOST", "ALLOWED_HOSTS"):
        setattr(settings, name, getattr(deployment, name))
    settings.CSRF_TRUSTED_ORIGINS = deployment.CSRF_TRUSTED_ORIGINS

    response = client.get(
        "/pipes/connect/salesforce/?next=/objects/",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.com"},
    )

    assert response.status_code == 302
    (call,) = pipes_fake.calls
    assert call.method == "authorize_url"
    assert call.return_to == "https://app.example.com/objects/"


# The connections page, restyled ------------------------------------------------------------


def test_the_connections_page_overridden_by_blocks(
    client: Client, pipes_fake: PipesFake, settings: Any
) -> None:
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [ROOT / "docs" / "examples" / "templates"]}
    ]
    pipes_fake.connect("salesforce", ANN, ACME, scopes=["api", "refresh_token"])

    page = client.get("/pipes/connections/").content.decode()

    assert "<h1>Integrations</h1>" in page
    assert "Salesforce" in page and "refresh_token" not in page
    assert json.loads(client.get("/pipes/connections/", HTTP_ACCEPT="application/json").content)
