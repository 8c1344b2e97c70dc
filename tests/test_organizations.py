"""An organization given as ``""`` is no organization, everywhere (issue 10).

The webhook turns an empty ``organization_id`` into None; a resolver that returns ``""``
must land on the same cache keys, or a disconnect's invalidation misses the token the
views keep serving.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from django.contrib.auth.models import User
from django.test import Client

from django_workos_pipes import pipes
from django_workos_pipes.testing import post_webhook, webhook_event
from tests.builders import token_answer
from tests.stubs import USER_RESOLVER, WORKOS, token_url

pytestmark = pytest.mark.django_db

OLD = "ya29.token-before-the-disconnect"


def no_organization(request: Any) -> str:
    return ""


@pytest.fixture
def empty_organization(settings: Any) -> None:
    settings.WORKOS_PIPES = {
        **settings.WORKOS_PIPES,
        "USER_ID_RESOLVER": USER_RESOLVER,
        "ORGANIZATION_ID_RESOLVER": no_organization,
    }


def answers(workos: responses.RequestsMock, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
    """WorkOS answers ``bodies`` in turn (the last one from then on); returns the
    request bodies it received."""
    received: list[dict[str, Any]] = []

    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        received.append(json.loads(request.body))
        return 200, {}, json.dumps(bodies[min(len(received), len(bodies)) - 1])

    workos.add_callback(responses.POST, token_url("salesforce"), callback=respond)
    return received


@pytest.mark.usefixtures("empty_organization")
@pytest.mark.parametrize("page", ["/sync/", "/mixin/", "/status/?provider=salesforce"])
def test_a_disconnect_webhook_reaches_a_resolver_that_returns_an_empty_organization(
    client: Client, ann: User, page: str
) -> None:
    with responses.RequestsMock() as workos:
        received = answers(workos, token_answer(OLD), {"active": False, "error": "not_installed"})
        first = client.get(page).content.decode()
        assert OLD in first or "active=True" in first
        event = webhook_event("disconnected", user_id="user_ann", organization_id=None)
        assert post_webhook(client, event).status_code == 200
        after = client.get(page).content.decode()
    assert OLD not in after and "active=True" not in after
    assert len(received) == 2, "the view asked WorkOS again after the disconnect"
    assert all("organization_id" not in body for body in received), received


def test_the_service_treats_an_empty_organization_as_none() -> None:
    with responses.RequestsMock() as workos:
        received = answers(
            workos, token_answer("ya29.one"), token_answer("ya29.two"), token_answer("ya29.three")
        )
        first = pipes.get_access_token("salesforce", user_id="u", organization_id="")
        again = pipes.get_access_token("salesforce", user_id="u", organization_id=None)
        assert first == again and len(received) == 1
        assert pipes.invalidate("salesforce", user_id="u", organization_id="")
        second = pipes.get_access_token("salesforce", user_id="u")
        assert second.access_token is not None and second.access_token.access_token == "ya29.two"
        assert pipes.invalidate_organization("salesforce", "")
        third = pipes.get_access_token("salesforce", user_id="u", organization_id="")
        assert third.access_token is not None and third.access_token.access_token == "ya29.three"
    assert received == [{"user_id": "u"}] * 3


def test_connect_and_reauthorize_send_no_empty_organization() -> None:
    with responses.RequestsMock() as workos:
        workos.get(
            f"{WORKOS}/user_management/users/u/connected_accounts/salesforce",
            json={"id": "ca_1"},
            match=[responses.matchers.query_param_matcher({})],
        )
        workos.post(
            f"{WORKOS}/data-integrations/salesforce/authorize",
            json={"url": "https://id.workos.example/consent"},
            match=[
                responses.matchers.json_params_matcher(
                    {
                        "user_id": "u",
                        "return_to": "https://site.example/",
                        "connection_intent": "reauthorize",
                        "connected_account_id": "ca_1",
                    }
                )
            ],
        )
        url = pipes.authorize_url(
            "salesforce",
            user_id="u",
            organization_id="",
            return_to="https://site.example/",
            reauthorize=True,
        )
    assert url == "https://id.workos.example/consent"
