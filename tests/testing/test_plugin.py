"""The ``pipes_fake`` fixture and :class:`PipesFake`: the seam for users' own tests.

The fake replaces only the HTTP client, so these tests go through the real service,
cache, decorator, views and template tags, and check that what the fake declares is
what they see, including after a change halfway through a test.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import User
from django.core.cache import caches
from django.test import Client

from django_workos_pipes import pipes
from django_workos_pipes.caching.keys import CacheKeys
from django_workos_pipes.exceptions import PipesUnavailable
from django_workos_pipes.owners import ConnectionRef
from django_workos_pipes.results import AccessToken, TokenResult
from django_workos_pipes.service import PipesService
from django_workos_pipes.testing.fakes import AUTHORIZE_BASE_URL, FakeCall, PipesFake
from django_workos_pipes.workos.client import PipesClient
from django_workos_pipes.workos.protocol import WorkOSClient

ROOT = Path(__file__).resolve().parents[2]
ANN = "user_ann"  # what tests.views.workos_user_id makes of the Django user "ann"
EXPIRES = datetime(2031, 5, 4, 3, 2, 1, tzinfo=timezone.utc)


def token_for(provider: str = "salesforce", organization_id: str | None = None) -> TokenResult:
    return pipes.get_access_token(provider, user_id=ANN, organization_id=organization_id)


# Declarations, read back through the real service ------------------------------------


def test_undeclared_connections_are_not_installed(pipes_fake: PipesFake) -> None:
    result = token_for()

    assert (result.active, result.error) == (False, "not_installed")
    assert pipes_fake.calls == [FakeCall("get_access_token", "salesforce", ANN, None)]


def test_connect_answers_exactly_what_was_declared(pipes_fake: PipesFake) -> None:
    declared = pipes_fake.connect(
        "salesforce",
        user_id=ANN,
        scopes=["api", "id"],
        missing_scopes=["refresh_token"],
        token="00D-declared-token-value",
        expires_at=EXPIRES,
    )

    result = token_for()

    assert result == TokenResult.connected(declared)
    assert declared == AccessToken(
        "00D-declared-token-value", EXPIRES, ("api", "id"), ("refresh_token",)
    )


def test_default_tokens_are_fresh_fake_and_live_an_hour(pipes_fake: PipesFake) -> None:
    first = pipes_fake.connect("salesforce", user_id=ANN)
    second = pipes_fake.connect("salesforce", user_id=ANN)

    assert first.access_token.startswith("fake_salesforce_")
    assert first.masked == "fake…"
    assert first.access_token != second.access_token
    assert second.expires_at is not None
    remaining = second.expires_at - datetime.now(timezone.utc)
    assert timedelta(minutes=59) < remaining <= timedelta(hours=1)
    assert token_for().access_token == second


def test_expiry_as_a_lifetime_or_never(pipes_fake: PipesFake) -> None:
    short = pipes_fake.connect("salesforce", user_id=ANN, expires_at=timedelta(minutes=5))
    forever = pipes_fake.connect("slack", user_id=ANN, expires_at=None)

    assert short.expires_at is not None
    assert short.expires_at - datetime.now(timezone.utc) <= timedelta(minutes=5)
    assert forever.expires_at is None
    assert token_for("slack").access_token == forever


def test_bad_declarations_are_refused(pipes_fake: PipesFake) -> None:
    with pytest.raises(ValueError, match="aware"):
        pipes_fake.connect("salesforce", user_id=ANN, expires_at=datetime(2031, 1, 1))
    with pytest.raises(TypeError, match="not the string"):
        pipes_fake.connect("salesforce", user_id=ANN, scopes="api")
    with pytest.raises(ValueError, match="user_id"):
        pipes_fake.connect("salesforce", user_id="")
    with pytest.raises(ValueError, match="error"):
        pipes_fake.inactive("salesforce", user_id=ANN, error="")


def test_answers_are_cached_like_real_ones(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", user_id=ANN, scopes=["api"])

    for _ in range(3):
        assert token_for().active

    assert len(pipes_fake.calls) == 1


def test_every_change_shows_on_the_next_lookup(pipes_fake: PipesFake) -> None:
    """Each declaration invalidates the cached answer, though it is still fresh."""
    token = pipes_fake.connect("salesforce", user_id=ANN, scopes=["api"])
    assert token_for().access_token == token

    pipes_fake.needs_reauthorization("salesforce", user_id=ANN)
    assert token_for().error == "needs_reauthorization"

    pipes_fake.inactive("salesforce", user_id=ANN, error="account_selection_required")
    assert token_for().error == "account_selection_required"

    pipes_fake.not_installed("salesforce", user_id=ANN)
    assert token_for().error == "not_installed"

    again = pipes_fake.connect("salesforce", user_id=ANN, scopes=["api"])
    assert token_for().access_token == again
    assert len(pipes_fake.calls) == 5


def test_organizations_are_separate_connections(pipes_fake: PipesFake) -> None:
    token = pipes_fake.connect("salesforce", user_id=ANN, organization_id="org_a")

    assert token_for(organization_id="org_a").access_token == token
    assert token_for(organization_id="org_b").error == "not_installed"
    assert token_for().error == "not_installed"


def test_unavailable_raises_and_no_cached_token_hides_it(pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", user_id=ANN)
    assert token_for().active

    pipes_fake.unavailable("salesforce", user_id=ANN)

    with pytest.raises(PipesUnavailable):
        token_for()
    with pytest.raises(PipesUnavailable):
        pipes_fake.get_connected_account(ConnectionRef("salesforce", user_id=ANN))


def test_calls_record_what_the_app_asked_and_can_be_cleared(pipes_fake: PipesFake) -> None:
    token_for("slack", organization_id="org_a")
    assert pipes_fake.calls == [FakeCall("get_access_token", "slack", ANN, "org_a")]

    pipes_fake.clear_calls()

    assert pipes_fake.calls == []


# Through the views, the decorator and the template tags -------------------------------


def test_decorated_view_gets_the_declared_token(
    client: Client, ann: User, pipes_fake: PipesFake
) -> None:
    token = pipes_fake.connect("salesforce", user_id=ANN)

    response = client.get("/sync/")

    assert response.status_code == 200
    assert response.json() == {"salesforce": token.access_token}


def test_async_stacked_view_gets_both_tokens(
    client: Client, ann: User, pipes_fake: PipesFake
) -> None:
    hubspot = pipes_fake.connect("hubspot", user_id=ANN, scopes=["crm.read"])
    slack = pipes_fake.connect("slack", user_id=ANN)

    response = client.get("/stacked-async/")

    assert response.status_code == 200
    assert response.json() == {"hubspot": hubspot.access_token, "slack": slack.access_token}


def test_unavailable_is_the_503_page(client: Client, ann: User, pipes_fake: PipesFake) -> None:
    pipes_fake.unavailable("salesforce", user_id=ANN)

    response = client.get("/sync/")

    assert response.status_code == 503


def test_connect_view_goes_to_the_fake_consent_url(
    client: Client, ann: User, pipes_fake: PipesFake
) -> None:
    response = client.get("/pipes/connect/salesforce/?next=/sync/")

    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{AUTHORIZE_BASE_URL}/salesforce/authorize"
    assert parse_qs(url.query) == {"user_id": [ANN], "return_to": ["http://testserver/sync/"]}
    assert pipes_fake.calls == [
        FakeCall("authorize_url", "salesforce", ANN, None, return_to="http://testserver/sync/")
    ]


def test_reauthorize_view_names_the_existing_account(
    client: Client, ann: User, pipes_fake: PipesFake
) -> None:
    pipes_fake.connect("salesforce", user_id=ANN)
    pipes_fake.needs_reauthorization("salesforce", user_id=ANN)
    account = pipes_fake.get_connected_account(ConnectionRef("salesforce", user_id=ANN))
    assert account is not None and account.state == "needs_reauthorization"
    pipes_fake.clear_calls()

    response = client.get("/pipes/reauthorize/salesforce/?next=/sync/")

    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["connection_intent"] == ["reauthorize"]
    assert query["connected_account_id"] == [account.id]
    assert [call.method for call in pipes_fake.calls] == ["get_connected_account", "authorize_url"]


def test_reconnecting_keeps_the_account_id(pipes_fake: PipesFake) -> None:
    assert pipes_fake.get_connected_account(ConnectionRef("salesforce", user_id=ANN)) is None
    pipes_fake.connect("salesforce", user_id=ANN)
    first = pipes_fake.get_connected_account(ConnectionRef("salesforce", user_id=ANN))
    pipes_fake.connect("salesforce", user_id=ANN, scopes=["api"])
    second = pipes_fake.get_connected_account(ConnectionRef("salesforce", user_id=ANN))

    assert first is not None and second is not None
    assert first.id == second.id
    assert (second.state, second.scopes) == ("connected", ("api",))


def test_template_tags_follow_the_fake(client: Client, ann: User, pipes_fake: PipesFake) -> None:
    pipes_fake.connect("salesforce", user_id=ANN, scopes=["api", "id"])

    page = client.get("/status/?provider=salesforce").content.decode()
    assert "active=True" in page and "scopes=api,id" in page

    pipes_fake.needs_reauthorization("salesforce", user_id=ANN)

    page = client.get("/status/?provider=salesforce").content.decode()
    assert "error=needs_reauthorization" in page
    assert 'href="/pipes/reauthorize/salesforce/?next=/status/%3Fprovider%3Dsalesforce"' in page


# Installing and cleaning up ------------------------------------------------------------


def test_installed_restores_the_client_and_cleans_the_cache() -> None:
    keys = CacheKeys.build("salesforce", ANN, None)
    cache = caches["default"]
    assert pipes._client is None

    with PipesFake().installed() as fake:
        assert pipes.client is fake
        fake.connect("salesforce", user_id=ANN)
        fake.needs_reauthorization("salesforce", user_id=ANN)
        assert token_for().error == "needs_reauthorization"
        assert cache.get(keys.token) is not None
        assert cache.get(keys.user_generation) is not None

    assert pipes._client is None
    assert cache.get_many([keys.token, keys.user_generation]) == {}


def test_a_later_fake_starts_from_a_clean_cache() -> None:
    with PipesFake().installed() as first:
        first.connect("salesforce", user_id=ANN)
        assert token_for().active

    with PipesFake().installed() as second:
        assert token_for().error == "not_installed"
        assert len(second.calls) == 1


def test_declarations_made_before_installing_replace_cached_answers() -> None:
    service = PipesService(client=PipesFake())
    assert service.client is not None
    stale_source = service.client
    assert isinstance(stale_source, PipesFake)
    stale_source.connect("salesforce", user_id=ANN)
    assert service.get_access_token("salesforce", user_id=ANN).active  # now cached

    fake = PipesFake()
    fake.needs_reauthorization("salesforce", user_id=ANN)
    with fake.installed(service):
        result = service.get_access_token("salesforce", user_id=ANN)

    assert result.error == "needs_reauthorization"
    assert service.client is stale_source


def test_the_fake_and_the_client_implement_the_whole_protocol() -> None:
    """A protocol method the fake lacked would fail at the service's first call."""
    members = {
        name
        for name, member in inspect.getmembers(WorkOSClient, inspect.isfunction)
        if not name.startswith("_")
    }
    assert members == {
        "get_access_token",
        "get_credentials",
        "authorize_url",
        "get_connected_account",
        "get_user_by_external_id",
        "create_user",
        "get_organization_by_external_id",
        "list_data_providers",
        "list_organization_data_providers",
        "delete_connected_account",
    }
    for name in members:
        wanted = inspect.signature(getattr(WorkOSClient, name))
        assert inspect.signature(getattr(PipesFake, name)) == wanted, name
        assert inspect.signature(getattr(PipesClient, name)) == wanted, name
    assert not hasattr(PipesFake(), "_request")


def test_fakes_are_distinct_and_say_what_they_hold(pipes_fake: PipesFake) -> None:
    other = PipesFake()
    pipes_fake.connect("salesforce", user_id=ANN, token="00D-never-in-a-repr-0123")
    token_for()

    assert pipes_fake != other
    assert len({pipes_fake, other}) == 2
    assert repr(pipes_fake) == "PipesFake(connections=1, calls=1)"
    assert "00D-never" not in repr(pipes_fake.calls)


@pytest.mark.redis
def test_flipping_works_on_a_shared_redis_cache(redis_cache: str) -> None:
    keys = CacheKeys.build("salesforce", ANN, None)
    with PipesFake().installed() as fake:
        fake.connect("salesforce", user_id=ANN)
        assert token_for().active
        fake.needs_reauthorization("salesforce", user_id=ANN)
        assert token_for().error == "needs_reauthorization"
        assert caches["default"].get(keys.token) is not None

    assert caches["default"].get_many([keys.token, keys.user_generation]) == {}


def test_the_docs_show_the_example_test_file_as_it_is() -> None:
    """The testing guide's example is this suite's tests/testing/test_plugin_example.py."""
    page = (ROOT / "docs" / "howto" / "testing.md").read_text()
    assert "```{literalinclude} ../../tests/testing/test_plugin_example.py\n```" in page


# The plugin in a project that has no Django settings at all ---------------------------
# (tests/system/test_plugin_without_django.py runs a whole pytest session there).


def test_plugin_module_imports_no_django_settings() -> None:
    code = (
        "import json, sys; import django_workos_pipes.testing.plugin as p; "
        "from django.conf import settings; "
        "print(json.dumps({'configured': settings.configured, "
        "'fakes': 'django_workos_pipes.testing.fakes' in sys.modules}))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"configured": False, "fakes": False}
