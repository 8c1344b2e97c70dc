"""The client's user and organization calls against ``responses``: exact requests, answers.

The answer bodies come from ``django_workos_pipes.wire``, and the official SDK's models
parse each of them: what the client reads is what WorkOS (and the emulator) send.
"""

from __future__ import annotations

import json
import logging

import pytest
import responses
from responses import matchers
from workos.common.models.user import User as SdkUser
from workos.organizations.models.organization import Organization as SdkOrganization
from workos.user_management.models.user_create_response import UserCreateResponse

from django_workos_pipes import wire
from django_workos_pipes.exceptions import PipesAPIError, PipesMalformedResponse, PipesUnavailable
from django_workos_pipes.results import WorkOSOrganization, WorkOSUser
from django_workos_pipes.workos.client import PipesClient
from tests.settings import API_KEY
from tests.stubs import WORKOS

USERS = f"{WORKOS}/user_management/users"
ANN = wire.user_object(
    "user_01ANN", email="ann@example.com", external_id="42", first_name="Ann", last_name="Lee"
)


@pytest.fixture
def client_without_retries() -> PipesClient:
    """The HTTP client against ``responses``, each call made once."""
    return PipesClient(api_key=API_KEY, base_url=WORKOS, timeout=1, max_retries=0)


def test_wire_shapes_parse_with_the_official_sdk() -> None:
    assert SdkUser.from_dict(ANN).external_id == "42"
    assert UserCreateResponse.from_dict(ANN).id == "user_01ANN"
    organization = wire.organization_object("org_01ACME", name="Acme", external_id="acme")
    assert SdkOrganization.from_dict(organization).external_id == "acme"


@responses.activate
def test_user_by_external_id(client_without_retries: PipesClient) -> None:
    responses.get(
        f"{USERS}/external_id/42",
        json=ANN,
        match=[matchers.header_matcher({"Authorization": f"Bearer {API_KEY}"})],
    )
    assert client_without_retries.get_user_by_external_id("42") == WorkOSUser(
        "user_01ANN", "ann@example.com", external_id="42", first_name="Ann", last_name="Lee"
    )


@responses.activate
def test_external_ids_are_one_encoded_path_segment(client_without_retries: PipesClient) -> None:
    responses.get(f"{USERS}/external_id/crm%3A42%2F7%20x", json=ANN)
    assert client_without_retries.get_user_by_external_id("crm:42/7 x") is not None
    for unsafe in ("", ".", ".."):
        with pytest.raises(ValueError, match="path segment"):
            client_without_retries.get_user_by_external_id(unsafe)


@responses.activate
def test_no_user_with_that_external_id_is_none(client_without_retries: PipesClient) -> None:
    body = wire.error_body("User not found.", "entity_not_found")
    responses.get(f"{USERS}/external_id/42", json=body, status=404)
    assert client_without_retries.get_user_by_external_id("42") is None


@responses.activate
def test_create_user_sends_email_names_and_external_id(client_without_retries: PipesClient) -> None:
    responses.post(
        USERS,
        json=ANN,
        status=201,
        match=[
            matchers.json_params_matcher(
                {
                    "email": "ann@example.com",
                    "external_id": "42",
                    "first_name": "Ann",
                    "last_name": "Lee",
                }
            )
        ],
    )
    user = client_without_retries.create_user(
        email="ann@example.com", external_id="42", first_name="Ann", last_name="Lee"
    )
    assert user.id == "user_01ANN"
    assert responses.calls[0].request.headers["Idempotency-Key"]


@responses.activate
def test_create_user_leaves_out_empty_names(client_without_retries: PipesClient) -> None:
    responses.post(
        USERS,
        json=ANN,
        match=[matchers.json_params_matcher({"email": "ann@example.com", "external_id": "42"})],
    )
    client_without_retries.create_user(
        email="ann@example.com", external_id="42", first_name="", last_name=None
    )


@responses.activate
def test_email_taken_keeps_the_codes_of_the_errors_list(
    client_without_retries: PipesClient,
) -> None:
    responses.post(USERS, json=wire.email_not_available_error(), status=400)
    with pytest.raises(PipesAPIError) as caught:
        client_without_retries.create_user(email="ann@example.com", external_id="42")
    assert caught.value.status_code == 400
    assert caught.value.code == "user_creation_error"
    assert caught.value.error_codes == (wire.EMAIL_NOT_AVAILABLE,)
    assert "errors=email_not_available" in str(caught.value)


@responses.activate
def test_a_body_that_is_not_a_user_is_malformed(client_without_retries: PipesClient) -> None:
    responses.get(f"{USERS}/external_id/42", json={"object": "user", "email": "a@b.c"})
    with pytest.raises(PipesMalformedResponse, match="'id'"):
        client_without_retries.get_user_by_external_id("42")


@responses.activate
def test_outages_are_unavailable(client_without_retries: PipesClient) -> None:
    responses.get(f"{USERS}/external_id/42", status=503)
    with pytest.raises(PipesUnavailable):
        client_without_retries.get_user_by_external_id("42")


@responses.activate
def test_organization_by_external_id(client_without_retries: PipesClient) -> None:
    organization = wire.organization_object("org_01ACME", name="Acme", external_id="acme")
    responses.get(f"{WORKOS}/organizations/external_id/acme", json=organization)
    responses.get(f"{WORKOS}/organizations/external_id/none", status=404, json={})
    assert client_without_retries.get_organization_by_external_id("acme") == WorkOSOrganization(
        "org_01ACME", "Acme", external_id="acme"
    )
    assert client_without_retries.get_organization_by_external_id("none") is None


@responses.activate
def test_the_log_line_names_the_call_not_the_email(
    client_without_retries: PipesClient, caplog: pytest.LogCaptureFixture
) -> None:
    responses.post(USERS, json=ANN, headers={"X-Request-ID": "req_7"})
    with caplog.at_level(logging.INFO, "django_workos_pipes"):
        client_without_retries.create_user(email="ann@example.com", external_id="user_4242")
    (record,) = caplog.records
    assert record.getMessage().startswith("WorkOS create_user external_id=user_4242")
    assert "request_id=req_7" in record.getMessage()
    assert "ann@example.com" not in record.getMessage()
    assert json.loads(responses.calls[0].request.body)["email"] == "ann@example.com"
