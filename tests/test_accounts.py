"""Several accounts of one provider in the service and the client: ``connected_account_id``,
the ``SUPPORTS_MULTIPLE_CONNECTIONS`` flag on every call that takes it, and both forms
of the ``account_selection_required`` answer. WorkOS is stubbed with ``responses``."""

from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from responses import matchers

from django_workos_pipes import pipes
from django_workos_pipes.exceptions import PipesAPIError
from django_workos_pipes.results import ACCOUNT_SELECTION_REQUIRED
from django_workos_pipes.service import PipesService
from tests import builders, stubs
from tests.builders import inactive_answer, token_answer
from tests.stubs import WORKOS

TOKEN_URL = f"{WORKOS}/data-integrations/salesforce/token"
ANN = "user_ann"


def token_for(workos_stub: responses.RequestsMock, expected: dict[str, Any], body: Any) -> None:
    workos_stub.post(TOKEN_URL, json=body, match=[matchers.json_params_matcher(expected)])


def test_the_setting_defaults_to_off_and_sends_nothing(workos_stub: responses.RequestsMock) -> None:
    token_for(workos_stub, {"user_id": ANN}, token_answer())
    assert pipes.get_access_token("salesforce", user_id=ANN).active
    assert PipesService().supports_multiple_connections is False
    assert PipesService(supports_multiple_connections=True).supports_multiple_connections


@pytest.mark.usefixtures("supports_multiple_connections")
def test_the_token_call_sends_the_flag_and_the_account(workos_stub: responses.RequestsMock) -> None:
    token_for(
        workos_stub,
        {"user_id": ANN, "supports_multiple_connections": True, "connected_account_id": "ca_2"},
        token_answer("ya29.second-account"),
    )

    result = pipes.get_access_token("salesforce", user_id=ANN, connected_account_id="ca_2")

    assert result.access_token is not None
    assert result.access_token.access_token == "ya29.second-account"


def test_each_account_has_its_own_entry_and_the_user_s_invalidation_ends_them_all(
    lenient_workos_stub: responses.RequestsMock,
) -> None:
    sent: list[dict[str, Any]] = []

    def respond(request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        sent.append(body)
        account = body.get("connected_account_id", "compat")
        return 200, {}, json.dumps(token_answer(f"ya29.token-of-{account}"))

    lenient_workos_stub.add_callback(responses.POST, TOKEN_URL, callback=respond)

    def token(account: str | None) -> str:
        found = pipes.get_access_token("salesforce", user_id=ANN, connected_account_id=account)
        assert found.access_token is not None
        return found.access_token.access_token

    for _ in range(3):
        assert [token(None), token("ca_1"), token("ca_2")] == [
            "ya29.token-of-compat",
            "ya29.token-of-ca_1",
            "ya29.token-of-ca_2",
        ]
    assert len(sent) == 3

    pipes.invalidate("salesforce", user_id=ANN)
    token("ca_1")
    assert len(sent) == 4


@pytest.mark.usefixtures("supports_multiple_connections")
def test_account_selection_required_in_a_200_answer(workos_stub: responses.RequestsMock) -> None:
    token_for(
        workos_stub,
        {"user_id": ANN, "supports_multiple_connections": True},
        inactive_answer(ACCOUNT_SELECTION_REQUIRED),
    )

    first = pipes.get_access_token("salesforce", user_id=ANN)
    again = pipes.get_access_token("salesforce", user_id=ANN)  # cached like any inactive answer

    assert (first.active, first.error) == (False, "account_selection_required")
    assert again == first
    assert len(workos_stub.calls) == 1


@pytest.mark.usefixtures("supports_multiple_connections")
@pytest.mark.parametrize("status", [400, 409, 422])
def test_account_selection_required_as_an_error_status(
    workos_stub: responses.RequestsMock, status: int
) -> None:
    workos_stub.post(
        TOKEN_URL,
        status=status,
        json={"message": "Several accounts match; pick one.", "code": ACCOUNT_SELECTION_REQUIRED},
    )

    result = pipes.get_access_token("salesforce", user_id=ANN)

    assert (result.active, result.error) == (False, ACCOUNT_SELECTION_REQUIRED)


def test_other_error_codes_stay_errors(workos_stub: responses.RequestsMock) -> None:
    workos_stub.post(TOKEN_URL, status=409, json={"message": "no", "code": "conflict"})
    with pytest.raises(PipesAPIError) as caught:
        pipes.get_access_token("salesforce", user_id=ANN)
    assert caught.value.code == "conflict"


@pytest.mark.usefixtures("supports_multiple_connections")
def test_listings_and_accounts_send_the_flag(workos_stub: responses.RequestsMock) -> None:
    flag = {"supports_multiple_connections": "true"}
    first = builders.account()
    second = builders.account(account_id="ca_02", connection_role="standard")
    workos_stub.get(
        stubs.listing_url(),
        json=builders.listing(
            builders.data_provider(
                "salesforce", "Salesforce", first, connected_accounts=[first, second]
            )
        ),
        match=[matchers.query_param_matcher(flag)],
    )
    workos_stub.get(
        f"{WORKOS}/organizations/org_1/data_providers",
        json=builders.listing(),
        match=[matchers.query_param_matcher(flag)],
    )
    workos_stub.get(
        stubs.account_url("salesforce"),
        json=second,
        match=[matchers.query_param_matcher({**flag, "connected_account_id": "ca_02"})],
    )
    workos_stub.delete(
        stubs.account_url("salesforce"),
        status=204,
        match=[matchers.query_param_matcher({**flag, "connected_account_id": "ca_02"})],
    )

    (salesforce,) = pipes.list_connections(ANN)
    assert [account.id for account in salesforce.accounts] == ["ca_01SALESFORCE", "ca_02"]
    assert pipes.list_organization_connections("org_1") == ()
    found = pipes.get_connected_account("salesforce", user_id=ANN, connected_account_id="ca_02")
    assert found is not None and found.connection_role == "standard"
    assert pipes.disconnect("salesforce", user_id=ANN, connected_account_id="ca_02")


def test_reauthorizing_a_named_account_asks_for_no_lookup(
    workos_stub: responses.RequestsMock,
) -> None:
    workos_stub.post(
        f"{WORKOS}/data-integrations/salesforce/authorize",
        json={"url": "https://workos.example/consent"},
        match=[
            matchers.json_params_matcher(
                {
                    "user_id": ANN,
                    "return_to": "https://app.example.com/",
                    "connection_intent": "reauthorize",
                    "connected_account_id": "ca_02",
                }
            )
        ],
    )

    url = pipes.authorize_url(
        "salesforce",
        user_id=ANN,
        return_to="https://app.example.com/",
        reauthorize=True,
        connected_account_id="ca_02",
    )

    assert url == "https://workos.example/consent"


@pytest.mark.usefixtures("supports_multiple_connections")
def test_reauthorizing_with_several_accounts_and_none_named_reauthorizes_the_default(
    workos_stub: responses.RequestsMock,
) -> None:
    workos_stub.get(
        stubs.account_url("salesforce"),
        status=409,
        json={"message": "Pick one.", "code": ACCOUNT_SELECTION_REQUIRED},
    )
    workos_stub.post(
        f"{WORKOS}/data-integrations/salesforce/authorize",
        json={"url": "https://workos.example/consent"},
        match=[
            matchers.json_params_matcher({"user_id": ANN, "return_to": "https://app.example.com/"})
        ],
    )

    url = pipes.authorize_url(
        "salesforce", user_id=ANN, return_to="https://app.example.com/", reauthorize=True
    )

    assert url == "https://workos.example/consent"
