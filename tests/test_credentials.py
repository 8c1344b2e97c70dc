"""Credentials: ``POST /data-integrations/{slug}/credentials`` from the answer's parsing to
``require_pipe(..., credentials=True)``, and the secret nowhere it could be seen.

WorkOS is stubbed at the HTTP layer (``responses``), or by a loopback server where a test
needs a real socket; the service, its cache and the decorator are real.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import pickle
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import responses
import time_machine
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.core.cache import caches
from django.http import HttpRequest, JsonResponse
from django.template import Context, Template
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django.urls import path
from django.views import View
from responses import matchers

from django_workos_pipes import pipes
from django_workos_pipes.caching.entries import Entry, valid_entry
from django_workos_pipes.caching.keys import CREDENTIALS, CacheKeys
from django_workos_pipes.decorators import require_pipe
from django_workos_pipes.exceptions import InvalidProvider, PipesAPIError, PipesMalformedResponse
from django_workos_pipes.mixins import PipeRequiredMixin
from django_workos_pipes.owners import ConnectionRef
from django_workos_pipes.redirects import connect_url, reauthorize_url
from django_workos_pipes.results import Credential, CredentialResult, TokenResult
from django_workos_pipes.service import PipesService
from django_workos_pipes.testing import post_webhook, webhook_event
from django_workos_pipes.testing.fakes import FakeCall, PipesFake
from django_workos_pipes.workos.client import PipesClient
from tests.builders import token_answer
from tests.freshness import LIFETIMES, NOW, Lifetime, check_refusal_kept_for_inactive_ttl
from tests.settings import API_KEY
from tests.stubs import WORKOS, stub_token
from tests.threads import run_at_once, wait_for_waiters
from tests.urls import with_pipes

API_KEY_VALUE = "zd_live_0123456789abcdef0123456789"
OAUTH_VALUE = "ya29.credential-oauth-token-value"


# WorkOS answers, shaped as workos-python 10.6.0 reads them.


def credentials_url(provider: str = "zendesk") -> str:
    return f"{WORKOS}/data-integrations/{provider}/credentials"


def credential_answer(auth_method: str, value: str, **fields: Any) -> dict[str, Any]:
    """An active credentials answer; ``fields`` are the credential's other keys."""
    credential = {"object": "credential", "auth_method": auth_method, "value": value}
    return {"active": True, "credential": {**credential, **fields}}


def api_key_answer(
    value: str = API_KEY_VALUE, config: dict[str, str] | None = None
) -> dict[str, Any]:
    """An API key: no ``expires_at``, ``scopes`` or ``missing_scopes`` (the docs say so)."""
    return credential_answer(
        "api_key", value, config={"subdomain": "acme"} if config is None else config
    )


def oauth_answer(
    value: str = OAUTH_VALUE,
    expires_at: datetime | None = datetime(2031, 5, 4, 3, 2, 1, tzinfo=timezone.utc),
    scopes: tuple[str, ...] = ("api",),
    missing: tuple[str, ...] = (),
) -> dict[str, Any]:
    return credential_answer(
        "oauth",
        value,
        expires_at=expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if expires_at else None,
        scopes=list(scopes),
        missing_scopes=list(missing),
        config={},
    )


def stub_credentials(
    workos_stub: responses.RequestsMock,
    body: dict[str, Any] | None,
    *,
    provider: str = "zendesk",
    sent: dict[str, Any] | None = None,
    status: int = 200,
) -> None:
    """Answer ``body`` to the credentials request whose JSON body is exactly ``sent``."""
    workos_stub.post(
        credentials_url(provider),
        json=body,
        status=status,
        match=[matchers.json_params_matcher(sent or {"user_id": "user_ann"})],
    )


def answers_in_order(
    workos_stub: responses.RequestsMock,
    expires_in: timedelta | None = None,
    provider: str = "zendesk",
) -> None:
    """Each call answers a new credential: ``key-1``, ``key-2``... (an API key when
    ``expires_in`` is None, else an OAuth token living that long)."""
    counter = iter(range(1, 10_000))

    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        value = f"key-{next(counter)}-{'x' * 16}"
        if expires_in is None:
            return 200, {}, json.dumps(api_key_answer(value))
        return 200, {}, json.dumps(oauth_answer(value, datetime.now(timezone.utc) + expires_in))

    workos_stub.add_callback(responses.POST, credentials_url(provider), callback=respond)


def value_of(
    provider: str = "zendesk",
    user_id: str = "user_1",
    organization_id: str | None = None,
    connected_account_id: str | None = None,
) -> str:
    result = pipes.get_credentials(
        provider,
        user_id=user_id,
        organization_id=organization_id,
        connected_account_id=connected_account_id,
    )
    assert result.credential is not None, result
    return result.credential.value.split("-x")[0]


def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    yield request.param


def lenient_workos_stub() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


# The answer, read leniently.


def test_an_api_key_credential_has_its_config_and_no_expiry_or_scopes() -> None:
    result = CredentialResult.from_api(api_key_answer())
    assert result.active and result.error is None
    credential = result.credential
    assert credential is not None and result.granted is credential
    assert credential.auth_method == "api_key" and credential.value == API_KEY_VALUE
    assert credential.expires_at is None
    assert credential.scopes == credential.missing_scopes == ()
    assert credential.config == {"subdomain": "acme"} and credential.metadata == {}


def test_an_oauth_credential_is_read_with_every_field() -> None:
    body = oauth_answer(scopes=("api", "id"), missing=("id",))
    body["credential"]["config"] = {"instance": "eu1"}
    credential = CredentialResult.from_api(body).credential
    assert credential == Credential(
        auth_method="oauth",
        value=OAUTH_VALUE,
        expires_at=datetime(2031, 5, 4, 3, 2, 1, tzinfo=timezone.utc),
        scopes=("api", "id"),
        missing_scopes=("id",),
        config={"instance": "eu1"},
    )
    assert credential.has_scopes(["api"]) and not credential.has_scopes(["api", "id"])


def test_client_credentials_keep_their_metadata_and_an_unknown_method_is_kept() -> None:
    body = oauth_answer()
    body["credential"].update(
        auth_method="client_credentials", metadata={"instance_url": "https://acme.my"}
    )
    credential = CredentialResult.from_api(body).credential
    assert credential is not None and credential.auth_method == "client_credentials"
    assert credential.metadata == {"instance_url": "https://acme.my"}
    body["credential"]["auth_method"] = "mutual_tls"
    assert CredentialResult.from_api(body).credential.auth_method == "mutual_tls"  # type: ignore[union-attr]


def test_every_field_but_the_value_may_be_left_out_as_in_the_python_sdk() -> None:
    result = CredentialResult.from_api({"credential": {"value": API_KEY_VALUE}})
    assert result == CredentialResult.connected(Credential("oauth", API_KEY_VALUE))
    nulls = {key: None for key in ("expires_at", "scopes", "missing_scopes", "config", "metadata")}
    result = CredentialResult.from_api({"active": True, "credential": {"value": "v", **nulls}})
    assert result.credential == Credential("oauth", "v")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"active": False, "error": "not_installed"}, "not_installed"),
        ({"active": False, "error": "needs_reauthorization"}, "needs_reauthorization"),
        ({"active": False, "error": "a_code_added_later"}, "a_code_added_later"),
        ({"active": False}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_inactive_answers_keep_their_code(body: dict[str, Any], error: str) -> None:
    result = CredentialResult.from_api(body)
    assert not result.active and result.error == error
    assert result.credential is None and result.granted is None


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"active": "yes"},
        {"active": False, "error": 7},
        {"active": True},
        {"active": True, "credential": "a string"},
        {"active": True, "credential": {"value": ""}},
        {"active": True, "credential": {"value": 12}},
        {"active": True, "credential": {"value": API_KEY_VALUE, "expires_at": "soon"}},
        {"active": True, "credential": {"value": API_KEY_VALUE, "scopes": "api"}},
        {"active": True, "credential": {"value": API_KEY_VALUE, "config": {"port": 443}}},
        {"active": True, "credential": {"value": API_KEY_VALUE, "config": ["a"]}},
        {"active": True, "credential": {"value": API_KEY_VALUE, "metadata": []}},
        {"active": True, "credential": {"value": API_KEY_VALUE, "auth_method": 1}},
    ],
)
def test_what_the_api_never_sends_is_refused_without_quoting_it(body: Any) -> None:
    with pytest.raises(ValueError) as caught:
        CredentialResult.from_api(body)
    assert API_KEY_VALUE not in str(caught.value)


def test_the_secret_is_masked_in_repr_and_str_and_the_rest_is_read_only() -> None:
    credential = CredentialResult.from_api(api_key_answer()).credential
    assert credential is not None
    for text in (repr(credential), str(credential), repr(CredentialResult.connected(credential))):
        assert API_KEY_VALUE not in text
        assert "zd_l\u2026" in text and "'subdomain': 'acme'" in text
    assert credential.masked == "zd_l\u2026"
    assert hash(credential) == hash(Credential("api_key", API_KEY_VALUE))


def test_a_credential_is_read_only_yet_copies_pickles_and_serialises() -> None:
    """Cached answers are shared by every request of a process: nobody may change one.
    Task queues pickle what they are given; views serialise the config."""
    body = api_key_answer()
    body["credential"]["metadata"] = {"region": "eu"}
    result = CredentialResult.from_api(body)
    credential = result.credential
    assert credential is not None
    for change in (
        lambda: credential.config.__setitem__("subdomain", "evil"),
        lambda: credential.config.update(subdomain="evil"),
        lambda: credential.metadata.pop("region"),  # type: ignore[attr-defined]
        lambda: credential.config.clear(),  # type: ignore[attr-defined]
    ):
        with pytest.raises(TypeError, match="read-only"):
            change()
    assert credential.config == {"subdomain": "acme"}
    assert pickle.loads(pickle.dumps(result)) == result
    assert copy.deepcopy(result) == result
    assert dataclasses.astuple(credential)[5] == {"subdomain": "acme"}
    assert json.loads(json.dumps(credential.config)) == {"subdomain": "acme"}


# The client.


def test_the_client_sends_only_the_fields_given(workos_stub: responses.RequestsMock) -> None:
    client = PipesClient(api_key=API_KEY, base_url=WORKOS, max_retries=0)
    stub_credentials(workos_stub, api_key_answer(), sent={"user_id": "user_1"})
    full = {"user_id": "user_1", "organization_id": "org_1", "connected_account_id": "ca_1"}
    stub_credentials(workos_stub, oauth_answer(), sent=full)
    assert (
        client.get_credentials(ConnectionRef("zendesk", user_id="user_1")).credential.value
        == API_KEY_VALUE
    )  # type: ignore[union-attr]
    result = client.get_credentials(
        ConnectionRef(
            "zendesk", user_id="user_1", organization_id="org_1", connected_account_id="ca_1"
        )
    )
    assert result.credential is not None and result.credential.value == OAUTH_VALUE
    request = workos_stub.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Idempotency-Key"]


def test_the_provider_slug_is_one_encoded_path_segment(workos_stub: responses.RequestsMock) -> None:
    workos_stub.post(
        f"{WORKOS}/data-integrations/a%2Fb/credentials",
        json={"active": False, "error": "not_installed"},
    )
    client = PipesClient(api_key=API_KEY, base_url=WORKOS, max_retries=0)
    assert client.get_credentials(ConnectionRef("a/b", user_id="user_1")).error == "not_installed"


def test_a_malformed_answer_is_an_error_that_quotes_no_secret(
    workos_stub: responses.RequestsMock,
) -> None:
    body = api_key_answer()
    body["credential"]["expires_at"] = f"not a date {API_KEY_VALUE}"
    workos_stub.post(credentials_url(), json=body, headers={"X-Request-ID": "req_1"})
    client = PipesClient(api_key=API_KEY, base_url=WORKOS, max_retries=0)
    with pytest.raises(PipesMalformedResponse) as caught:
        client.get_credentials(ConnectionRef("zendesk", user_id="user_1"))
    assert caught.value.request_id == "req_1"
    assert "unexpected credentials answer" in str(caught.value)
    assert API_KEY_VALUE not in f"{caught.value} {caught.value!r}"
    assert caught.value.__context__ is None and caught.value.__cause__ is None


def test_an_unknown_integration_is_an_api_error(workos_stub: responses.RequestsMock) -> None:
    workos_stub.post(credentials_url(), status=404, json={"message": "Not found", "code": "nope"})
    client = PipesClient(api_key=API_KEY, base_url=WORKOS, max_retries=0)
    with pytest.raises(PipesAPIError) as caught:
        client.get_credentials(ConnectionRef("zendesk", user_id="user_1"))
    assert caught.value.status_code == 404 and caught.value.code == "nope"


# The service: cached and invalidated like tokens.


def test_one_upstream_call_for_many_reads(
    cache_backend: str, lenient_workos_stub: responses.RequestsMock
) -> None:
    answers_in_order(lenient_workos_stub)
    assert {value_of() for _ in range(200)} == {"key-1"}
    assert len(lenient_workos_stub.calls) == 1


def test_credentials_and_tokens_are_cached_apart(
    cache_backend: str, lenient_workos_stub: responses.RequestsMock
) -> None:
    answers_in_order(lenient_workos_stub, provider="salesforce")
    lenient_workos_stub.post(
        f"{WORKOS}/data-integrations/salesforce/token", json=token_answer("ya29.the-token-itself")
    )
    for _ in range(3):
        token = pipes.get_access_token("salesforce", user_id="user_1").access_token
        assert token is not None and token.access_token == "ya29.the-token-itself"
        assert value_of("salesforce") == "key-1"
    assert len(lenient_workos_stub.calls) == 2


def test_each_connected_account_is_cached_apart(
    cache_backend: str, lenient_workos_stub: responses.RequestsMock
) -> None:
    answers_in_order(lenient_workos_stub)
    assert value_of(connected_account_id="ca_1") == "key-1"
    assert value_of(connected_account_id="ca_2") == "key-2"
    assert value_of() == "key-3"
    assert value_of(connected_account_id="ca_1") == "key-1"
    bodies = [json.loads(call.request.body) for call in lenient_workos_stub.calls]
    assert [body.get("connected_account_id") for body in bodies] == ["ca_1", "ca_2", None]
    pipes.invalidate("zendesk", user_id="user_1")  # the user's connection: every account
    assert [value_of(connected_account_id=a) for a in ("ca_1", "ca_2", None)] == [
        "key-4",
        "key-5",
        "key-6",
    ]


@pytest.mark.parametrize("lifetime", LIFETIMES.values(), ids=LIFETIMES.keys())
def test_a_credential_is_refetched_at_the_end_of_its_lifetime(
    cache_backend: str, lenient_workos_stub: responses.RequestsMock, lifetime: Lifetime
) -> None:
    """Without an expiry (an API key) it lives for TOKEN_TTL."""
    answers_in_order(lenient_workos_stub, expires_in=lifetime.expires_in)
    lifetime.check(value_of, ("key-1", "key-2"))


def test_inactive_answers_are_cached_briefly(workos_stub: responses.RequestsMock) -> None:
    stub_credentials(
        workos_stub, {"active": False, "error": "not_installed"}, sent={"user_id": "u"}
    )
    check_refusal_kept_for_inactive_ttl(
        lambda: pipes.get_credentials("zendesk", user_id="u").error,
        lambda: len(workos_stub.calls),
    )


def test_whatever_invalidates_the_token_invalidates_the_credential(
    cache_backend: str, lenient_workos_stub: responses.RequestsMock, client: Client
) -> None:
    answers_in_order(lenient_workos_stub)
    assert value_of(organization_id="org_1") == "key-1"
    pipes.invalidate("zendesk", user_id="user_1", organization_id="org_1")
    assert value_of(organization_id="org_1") == "key-2"
    pipes.invalidate_organization("zendesk", "org_1")
    assert value_of(organization_id="org_1") == "key-3"
    event = webhook_event("disconnected", "zendesk", "user_1", "org_1")
    assert post_webhook(client, event).status_code == 200
    assert value_of(organization_id="org_1") == "key-4"
    assert value_of(organization_id="org_1") == "key-4"


def test_single_flight_across_threads(
    cache_backend: str, lenient_workos_stub: responses.RequestsMock
) -> None:
    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        wait_for_waiters(15)
        return 200, {}, json.dumps(api_key_answer("key-only-one-xxxxxxxxxxxxxxxx"))

    lenient_workos_stub.add_callback(responses.POST, credentials_url(), callback=respond)
    results = run_at_once(16, value_of)
    assert results == ["key-only-one"] * 16
    assert len(lenient_workos_stub.calls) == 1


def test_a_cached_credential_is_served_while_workos_is_down(
    cache_backend: str,
    lenient_workos_stub: responses.RequestsMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    stub_credentials(lenient_workos_stub, api_key_answer(), sent={"user_id": "user_1"})
    lenient_workos_stub.post(credentials_url(), status=503)
    settings = {"API_KEY": API_KEY, "MAX_RETRIES": 0, "TOKEN_TTL": 300}
    with override_settings(WORKOS_PIPES=settings), caplog.at_level(logging.WARNING):
        with time_machine.travel(NOW, tick=False) as traveller:
            assert value_of() == API_KEY_VALUE
            traveller.shift(timedelta(seconds=301))  # due for a refresh, which fails
            assert value_of() == API_KEY_VALUE
    assert "serving the cached credential for provider=zendesk user=user_1" in caplog.text
    assert API_KEY_VALUE not in caplog.text


def test_with_the_cache_down_the_service_asks_workos(
    lenient_workos_stub: responses.RequestsMock,
) -> None:
    answers_in_order(lenient_workos_stub)
    dead = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    with override_settings(CACHES=dead):
        assert [value_of(), value_of()] == ["key-1", "key-2"]


def test_the_async_twin(lenient_workos_stub: responses.RequestsMock) -> None:
    answers_in_order(lenient_workos_stub)

    async def fetch() -> CredentialResult:
        return await pipes.aget_credentials("zendesk", user_id="user_1", organization_id="o")

    result = async_to_sync(fetch)()
    assert result.credential is not None and result.credential.value.startswith("key-1")


def test_the_cached_entry_reads_back_whole_and_only_as_a_credential() -> None:
    body = oauth_answer(scopes=("api", "id"), missing=("id",))
    body["credential"].update(config={"a": "1"}, metadata={"nested": {"n": [1, 2]}})
    result = CredentialResult.from_api(body)
    entry = Entry((11, 22), 2.0, result, 33)
    decoded = Entry.decode(entry.encode())
    assert decoded == entry
    inactive = Entry((11, 22), 2.0, CredentialResult.inactive("needs_reauthorization"), 33)
    assert Entry.decode(inactive.encode()) == inactive
    keys = CacheKeys.build("zendesk", "user_1", None, CREDENTIALS)
    found = {keys.token: entry.encode(), keys.user_generation: 11, keys.org_generation: 22}
    assert valid_entry(found, keys, CredentialResult) == entry
    assert valid_entry(found, keys, TokenResult) is None
    assert Entry.decode((11, 22, 2.0, 33, "c0", *([None] * 8))) is None


def test_the_fake_leaves_no_credential_in_the_cache(cache_backend: str) -> None:
    with PipesFake().installed() as fake:
        fake.connect_api_key("zendesk", "user_1", api_key=API_KEY_VALUE, config={"s": "a"})
        pipes.get_credentials("zendesk", user_id="user_1")
    keys = CacheKeys.build("zendesk", "user_1", None, CREDENTIALS)
    assert caches["default"].get(keys.token) is None, "the fake cleans up after itself"


# request.pipes and templates.


def credential_view(request: HttpRequest) -> JsonResponse:
    credential = request.pipes["zendesk"]  # type: ignore[attr-defined]
    assert isinstance(credential, Credential)
    return JsonResponse(
        {
            "auth_method": credential.auth_method,
            "config": dict(credential.config),
            "masked": credential.masked,
        }
    )


@require_pipe("zendesk", credentials=True)
def zendesk(request: HttpRequest) -> JsonResponse:
    return credential_view(request)


@require_pipe("salesforce", scopes=["api", "id"], credentials=True)
def scoped(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


@require_pipe("zendesk", credentials=True)
async def zendesk_async(request: HttpRequest) -> JsonResponse:
    return credential_view(request)


class ZendeskView(PipeRequiredMixin, View):
    pipe_provider = "zendesk"
    pipe_credentials = True

    def get(self, request: HttpRequest) -> JsonResponse:
        return credential_view(request)


urlpatterns = with_pipes(
    path("zendesk/", zendesk),
    path("scoped/", scoped),
    path("zendesk-async/", zendesk_async),
    path("zendesk-mixin/", ZendeskView.as_view()),
)

GRANTED = {"auth_method": "api_key", "config": {"subdomain": "acme"}, "masked": "zd_l\u2026"}


@pytest.mark.urls(__name__)
@pytest.mark.django_db
@pytest.mark.usefixtures("stub_resolver")
class TestViews:
    @pytest.mark.parametrize("path_", ["/zendesk/", "/zendesk-mixin/"])
    def test_the_credential_with_its_config_is_in_request_pipes(
        self, client: Client, ann: User, workos_stub: responses.RequestsMock, path_: str
    ) -> None:
        stub_credentials(workos_stub, api_key_answer())
        for _ in range(2):
            response = client.get(path_)
            assert response.status_code == 200
            assert response.json() == GRANTED
        assert len(workos_stub.calls) == 1

    def test_an_async_view_too(
        self, async_client: AsyncClient, ann: User, workos_stub: responses.RequestsMock
    ) -> None:
        stub_credentials(workos_stub, api_key_answer())
        async_client.force_login(ann)

        async def get() -> Any:
            return await async_client.get("/zendesk-async/")

        assert async_to_sync(get)().json() == GRANTED

    @pytest.mark.parametrize(
        ("error", "flow"),
        [("not_installed", connect_url), ("needs_reauthorization", reauthorize_url)],
    )
    def test_an_inactive_connection_sends_the_user_to_fix_it(
        self, client: Client, ann: User, workos_stub: responses.RequestsMock, error: str, flow: Any
    ) -> None:
        stub_credentials(workos_stub, {"active": False, "error": error})
        response = client.get("/zendesk/")
        assert response.status_code == 302
        assert response["Location"] == flow("zendesk", "/zendesk/")

    def test_missing_scopes_send_the_user_to_reauthorize(
        self, client: Client, ann: User, workos_stub: responses.RequestsMock
    ) -> None:
        stub_credentials(workos_stub, oauth_answer(scopes=("api",)), provider="salesforce")
        response = client.get("/scoped/", HTTP_ACCEPT="application/json")
        assert response.status_code == 403
        assert response.json()["missing_scopes"] == ["id"]

    def test_workos_down_is_the_unavailable_page(
        self, client: Client, ann: User, workos_stub: responses.RequestsMock, settings: Any
    ) -> None:
        settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "MAX_RETRIES": 0}
        stub_credentials(workos_stub, None, status=503)
        response = client.get("/zendesk/")
        assert response.status_code == 503
        assert API_KEY_VALUE not in response.content.decode()

    def test_pipe_status_shows_the_method_and_config_never_the_secret(
        self, ann: User, workos_stub: responses.RequestsMock, rf: RequestFactory
    ) -> None:
        stub_credentials(workos_stub, api_key_answer())
        stub_token(workos_stub, "zendesk", token_answer(API_KEY_VALUE))
        request = rf.get("/page/")
        request.user = ann
        source = (
            '{% load workos_pipes %}{% pipe_status "zendesk" credentials=True as zd %}'
            "{{ zd.active }} {{ zd.auth_method }} {{ zd.config.subdomain }} {{ zd.config }} "
            "{{ zd }} {{ zd.value }} {{ zd.credential }} {{ zd.access_token }} | "
            '{% pipe_status "zendesk" as token %}{{ token }} {{ token.config }}'
        )
        html = Template(source).render(Context({"request": request}))
        assert html.startswith("True api_key acme ")
        assert API_KEY_VALUE not in html
        assert "zd_l" not in html

    def test_a_credential_rendered_in_a_template_is_masked(self) -> None:
        credential = CredentialResult.from_api(api_key_answer()).credential
        html = Template("{{ c }} {{ r }}").render(
            Context({"c": credential, "r": CredentialResult.connected(credential)})  # type: ignore[arg-type]
        )
        assert API_KEY_VALUE not in html and "zd_l\u2026" in html


# PipesFake.


def test_the_fake_declares_api_keys_and_oauth_credentials_with_config() -> None:
    with PipesFake().installed() as fake:
        declared = fake.connect_api_key(
            "zendesk", "user_1", "org_1", api_key=API_KEY_VALUE, config={"subdomain": "acme"}
        )
        token = fake.connect("salesforce", "user_1", scopes=["api"], config={"instance": "eu1"})

        zendesk = pipes.get_credentials("zendesk", user_id="user_1", organization_id="org_1")
        assert zendesk.credential == declared
        assert declared == Credential("api_key", API_KEY_VALUE, config={"subdomain": "acme"})
        salesforce = pipes.get_credentials("salesforce", user_id="user_1").credential
        assert salesforce == Credential(
            "oauth",
            token.access_token,
            expires_at=token.expires_at,
            scopes=("api",),
            config={"instance": "eu1"},
        )
        assert pipes.get_credentials("hubspot", user_id="user_1").error == "not_installed"

        account = pipes.get_connected_account("zendesk", user_id="user_1", organization_id="org_1")
        assert account is not None and account.auth_method == "api_key"
        wrong = pipes.get_credentials(
            "zendesk", user_id="user_1", organization_id="org_1", connected_account_id="ca_other"
        )
        assert wrong.error == "not_installed"
        right = pipes.get_credentials(
            "zendesk", user_id="user_1", organization_id="org_1", connected_account_id=account.id
        )
        assert right.credential == declared

        fake.needs_reauthorization("zendesk", "user_1", "org_1")  # invalidates, keeps the method
        again = pipes.get_credentials("zendesk", user_id="user_1", organization_id="org_1")
        assert again.error == "needs_reauthorization"
        account = pipes.get_connected_account("zendesk", user_id="user_1", organization_id="org_1")
        assert account is not None and account.auth_method == "api_key"
        assert FakeCall("get_credentials", "zendesk", "user_1", "org_1") in fake.calls
        assert (
            FakeCall(
                "get_credentials", "zendesk", "user_1", "org_1", connected_account_id="ca_other"
            )
            in fake.calls
        )


def test_the_fake_refuses_a_config_that_is_not_strings() -> None:
    fake = PipesFake()
    with pytest.raises(TypeError, match="config"):
        fake.connect_api_key("zendesk", "user_1", config={"port": 443})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="api_key"):
        fake.connect_api_key("zendesk", "user_1", api_key="")


# The secret in logs.


def test_no_log_line_holds_the_secret(
    lenient_workos_stub: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    stub_credentials(lenient_workos_stub, api_key_answer(), sent={"user_id": "user_1"})
    lenient_workos_stub.post(credentials_url(), status=503)
    with caplog.at_level(logging.DEBUG):
        service = PipesService(max_retries=0, token_ttl=0.05)
        first = service.get_credentials("zendesk", user_id="user_1")
        logging.getLogger("django_workos_pipes").info("got %s / %r", first, first.credential)
        time.sleep(0.1)
        assert service.get_credentials("zendesk", user_id="user_1") == first
    assert "WorkOS credentials provider=zendesk" in caplog.text
    assert API_KEY_VALUE not in caplog.text


@pytest.mark.parametrize(
    "value",
    [
        (1.0, 2.0, "c1", None, "api_key", "k" * 20, None, (), (), (("a", 1),), None),
        (1.0, 2.0, "c1", None, "api_key", "k" * 20, None, (), (), [("a", "b")], None),
        (1.0, 2.0, "c1", None, "api_key", "k" * 20, None, ("a",), (), (), "[1]"),
        (1.0, 2.0, "c1", None, "api_key", "k" * 20, None, (), (), (), "{not json"),
        (1.0, 2.0, "c1", None, "api_key", "", None, (), (), (), None),
        (1.0, 2.0, "c1", None, None, "k" * 20, None, (), (), (), None),
        (1.0, 2.0, "c1", None, "api_key", "k" * 20, float("nan"), (), (), (), None),
        (1.0, 2.0, "c1", "not_installed", "api_key", "k" * 20, None, (), (), (), None),
        (1.0, 2.0, "c1", "not_installed", None, None, None, (), (), (("a", "b"),), None),
        (1.0, 2.0, "c1", None, None, None, None, (), (), (), None),
        (1.0, 2.0, "c2", None, "api_key", "k" * 20, None, (), (), (), None),
        (1.0, 2.0, "c1", None, "api_key", "k" * 20, None, ["api"], (), (), None),
    ],
)
def test_a_foreign_cache_value_under_a_credential_key_is_a_miss(value: tuple[Any, ...]) -> None:
    """The cache is shared with other versions and people: what this version did not
    write decodes to nothing, never to an error or a credential."""
    assert Entry.decode(value) is None


def test_a_refusal_is_shared_by_the_requests_waiting_on_it(
    cache_backend: str, lenient_workos_stub: responses.RequestsMock
) -> None:
    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        wait_for_waiters(7)
        return 422, {}, json.dumps({"message": "No such integration", "code": "nope"})

    lenient_workos_stub.add_callback(responses.POST, credentials_url(), callback=respond)

    def outcome() -> str:
        try:
            value_of()
        except PipesAPIError as exc:
            return f"{exc.status_code} {exc.code}"
        return "ok"

    assert run_at_once(8, outcome) == ["422 nope"] * 8
    assert len(lenient_workos_stub.calls) == 1


def test_a_provider_that_is_not_a_slug_never_reaches_workos(
    workos_stub: responses.RequestsMock,
) -> None:
    for provider in ("", "..", "zen desk", "a/b"):
        with pytest.raises(InvalidProvider):
            pipes.get_credentials(provider, user_id="user_1")
