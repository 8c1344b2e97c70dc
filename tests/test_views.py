"""The built-in connect and reauthorize views, with WorkOS stubbed at the HTTP layer.

Each stub matches the exact JSON body WorkOS must receive; a request with another body
finds no stub and the view answers 503, so the status assertions also check the bodies.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests
import responses
from django.contrib.auth.models import User
from django.test import Client
from responses import matchers

from django_workos_pipes import views, webhooks
from tests.builders import inactive_answer, token_answer
from tests.settings import API_KEY
from tests.stubs import WORKOS, stub_token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stub_resolver")]

CONSENT = "https://id.workos.example/oauth/consent?session=abc123"
ACCOUNTS = f"{WORKOS}/user_management/users/user_ann/connected_accounts"


def stub_authorize(
    workos_stub: responses.RequestsMock,
    provider: str = "salesforce",
    status: int = 200,
    **body: Any,
) -> None:
    """Answer the consent URL to an authorize request with exactly ``body``."""
    workos_stub.post(
        f"{WORKOS}/data-integrations/{provider}/authorize",
        json={"url": CONSENT} if status == 200 else {"message": "Not found"},
        status=status,
        match=[matchers.json_params_matcher(body)],
    )


@pytest.fixture
def ann_in_acme(settings: Any) -> None:
    """Ann's organization is ``org_acme`` (``ORGANIZATION_ID_RESOLVER``)."""
    settings.WORKOS_PIPES = {
        **settings.WORKOS_PIPES,
        "ORGANIZATION_ID_RESOLVER": lambda request: "org_acme",
    }


def consent_redirect(
    client: Client,
    workos_stub: responses.RequestsMock,
    return_to: str,
    path: str = "/pipes/connect/salesforce/",
    *,
    method: str = "get",
    data: dict[str, str] | None = None,
    secure: bool = False,
    **body: str,
) -> str:
    """Where ``path`` sends Ann when WorkOS expects exactly her ``return_to`` (and ``body``):
    the consent URL if the view sent that, else the stub did not match and the view
    answered 503."""
    stub_authorize(workos_stub, user_id="user_ann", return_to=return_to, **body)
    response = getattr(client, method)(path, data, secure=secure)
    return str(response.get("Location"))


def test_connect_sends_the_user_to_the_consent_url(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_authorize(workos_stub, user_id="user_ann", return_to="http://testserver/reports/?tab=2")
    response = client.get("/pipes/connect/salesforce/", {"next": "/reports/?tab=2"})
    assert response.status_code == 302
    assert response["Location"] == CONSENT


@pytest.mark.usefixtures("ann_in_acme")
def test_connect_sends_the_organization(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    path = "/pipes/connect/salesforce/?next=/reports/"
    location = consent_redirect(
        client, workos_stub, "http://testserver/reports/", path, organization_id="org_acme"
    )
    assert location == CONSENT


def test_connect_accepts_a_post_with_next_in_the_form(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    path = "/pipes/connect/salesforce/?next=/from-query/"
    form = {"next": "/from-form/"}
    location = consent_redirect(
        client, workos_stub, "http://testserver/from-form/", path, method="post", data=form
    )
    assert location == CONSENT


@pytest.mark.usefixtures("ann_in_acme")
def test_reauthorize_sends_the_reauthorize_intent_for_the_connected_account(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(
        f"{ACCOUNTS}/salesforce",
        json={"object": "connected_account", "id": "ca_01XYZ", "state": "needs_reauthorization"},
        match=[matchers.query_param_matcher({"organization_id": "org_acme"})],
    )
    location = consent_redirect(
        client,
        workos_stub,
        "http://testserver/reports/",
        "/pipes/reauthorize/salesforce/?next=/reports/",
        organization_id="org_acme",
        connection_intent="reauthorize",
        connected_account_id="ca_01XYZ",
    )
    assert location == CONSENT


def test_reauthorize_without_an_account_is_a_plain_connect(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(f"{ACCOUNTS}/salesforce", status=404, json={"message": "Not found"})
    path = "/pipes/reauthorize/salesforce/?next=/reports/"
    assert consent_redirect(client, workos_stub, "http://testserver/reports/", path) == CONSENT


@pytest.mark.parametrize(
    "next_url",
    [
        "",
        "//evil.com",
        "//evil.com/path",
        "https:evil.com",
        "javascript:alert(1)",
        "http://evil.com",
        "https://evil.com/steal",
        "\\\\evil.com",
        "/\\evil.com",
        "http://testserver.evil.com/",
        " //evil.com",
        "///evil.com",
        "ftp://testserver/",
    ],
)
def test_a_foreign_or_missing_next_falls_back_to_login_redirect_url(
    client: Client, ann: User, workos_stub: responses.RequestsMock, next_url: str
) -> None:
    location = consent_redirect(client, workos_stub, "http://testserver/", data={"next": next_url})
    assert location == CONSENT


def test_login_redirect_url_may_be_a_url_name(
    client: Client, ann: User, workos_stub: responses.RequestsMock, settings: Any
) -> None:
    settings.LOGIN_REDIRECT_URL = "connections"
    path = "/pipes/connect/salesforce/?next=//evil.com"
    assert consent_redirect(client, workos_stub, "http://testserver/connections/", path) == CONSENT


def test_a_next_on_this_host_is_kept_whole(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    next_url = "http://testserver/a/b?c=1#d"
    location = consent_redirect(client, workos_stub, next_url, data={"next": next_url})
    assert location == CONSENT


def test_an_http_next_is_refused_on_an_https_request(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    location = consent_redirect(
        client,
        workos_stub,
        "https://testserver/",
        data={"next": "http://testserver/page/"},
        secure=True,
    )
    assert location == CONSENT


@pytest.mark.parametrize(
    ("next_url", "return_to"),
    [
        ("/café/?q=é", "http://testserver/caf%C3%A9/?q=%C3%A9"),
        ("/ok\r\nSet-Cookie: x=1", "http://testserver/ok%0D%0ASet-Cookie:%20x=1"),
        ("/a b/%zz", "http://testserver/a%20b/%zz"),
    ],
)
def test_odd_local_next_values_become_an_encoded_return_to(
    client: Client, ann: User, workos_stub: responses.RequestsMock, next_url: str, return_to: str
) -> None:
    location = consent_redirect(client, workos_stub, return_to, data={"next": next_url})
    assert location == CONSENT


def test_anonymous_users_log_in_first(client: Client, workos_stub: responses.RequestsMock) -> None:
    response = client.get("/pipes/connect/salesforce/?next=/reports/")
    assert response.status_code == 302
    assert response["Location"] == ("/login/?next=/pipes/connect/salesforce/%3Fnext%3D/reports/")
    assert len(workos_stub.calls) == 0


@pytest.mark.parametrize("method", ["put", "patch", "delete", "options", "head"])
def test_only_get_and_post_are_allowed(client: Client, ann: User, method: str) -> None:
    for path in ("/pipes/connect/salesforce/", "/pipes/reauthorize/salesforce/"):
        response = getattr(client, method)(path)
        assert response.status_code == 405
        assert response["Allow"] == "GET, POST"


def test_connecting_invalidates_the_cached_answer(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", inactive_answer("not_installed"))
    assert client.get("/sync/").status_code == 302
    assert client.get("/sync/").status_code == 302  # the cached not_installed
    stub_authorize(workos_stub, user_id="user_ann", return_to="http://testserver/sync/")
    assert client.get("/pipes/connect/salesforce/?next=/sync/")["Location"] == CONSENT
    token_calls = [c for c in workos_stub.calls if c.request.url.endswith("/token")]
    assert len(token_calls) == 1

    workos_stub.replace(
        responses.POST,
        f"{WORKOS}/data-integrations/salesforce/token",
        json=token_answer("ya29.after-consent"),
    )
    assert client.get("/sync/").json() == {"salesforce": "ya29.after-consent"}


def test_the_cache_is_kept_when_the_flow_does_not_start(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer("ya29.still-cached"))
    assert client.get("/sync/").status_code == 200
    workos_stub.post(f"{WORKOS}/data-integrations/salesforce/authorize", status=503)
    assert client.get("/pipes/connect/salesforce/").status_code == 503
    assert client.get("/sync/").json() == {"salesforce": "ya29.still-cached"}


def test_an_unknown_provider_is_a_404(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_authorize(workos_stub, "no-such", 404, user_id="user_ann", return_to="http://testserver/")
    assert client.get("/pipes/connect/no-such/").status_code == 404


def test_reauthorizing_an_unknown_provider_is_a_404(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(f"{ACCOUNTS}/no-such", status=404, json={"message": "Not found"})
    stub_authorize(workos_stub, "no-such", 404, user_id="user_ann", return_to="http://testserver/")
    assert client.get("/pipes/reauthorize/no-such/").status_code == 404


def test_odd_provider_names_are_a_404_without_a_call_to_workos(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    assert client.get("/pipes/connect/café%20%3F/").status_code == 404
    assert len(workos_stub.calls) == 0


@pytest.mark.parametrize(
    "failure",
    [{"status": 503}, {"body": requests.ConnectionError("refused")}, {"body": "<html>"}],
)
def test_workos_unavailable_renders_the_503_page(
    client: Client, ann: User, workos_stub: responses.RequestsMock, failure: dict[str, Any]
) -> None:
    workos_stub.post(f"{WORKOS}/data-integrations/salesforce/authorize", **failure)
    response = client.get("/pipes/connect/salesforce/")
    assert response.status_code == 503
    assert [t.name for t in response.templates if t.name] == [
        "workos_pipes/unavailable.html",
        "workos_pipes/base.html",
    ]


def test_workos_down_while_looking_up_the_account_renders_the_503_page(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(f"{ACCOUNTS}/salesforce", status=500)
    assert client.get("/pipes/reauthorize/salesforce/").status_code == 503


def test_a_workos_refusal_is_a_503_and_an_error_in_the_log(
    client: Client, ann: User, workos_stub: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    workos_stub.post(
        f"{WORKOS}/data-integrations/salesforce/authorize",
        status=401,
        json={"message": "Invalid API key", "code": "unauthorized"},
    )
    with caplog.at_level(logging.WARNING, logger="django_workos_pipes"):
        response = client.get("/pipes/connect/salesforce/")
    assert response.status_code == 503
    [record] = [r for r in caplog.records if "answering 503" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert "Invalid API key" in record.getMessage()
    assert API_KEY not in caplog.text


def test_the_module_exposes_the_webhook_view() -> None:
    assert views.webhook is webhooks.webhook
