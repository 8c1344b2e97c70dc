"""Django's own users, linked to WorkOS users through ``external_id``.

``linked_user_id`` is the resolver; WorkOS is stubbed at the HTTP layer with
``responses`` (every stub registered must be called, and a call no stub matches fails
like a network error), and the decorator, views, template tags, service and cache are
the real ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.test import AsyncClient, Client, RequestFactory
from responses import matchers

from django_workos_pipes import identity, wire
from django_workos_pipes.breaker import CLOSED, OPEN
from django_workos_pipes.exceptions import LinkRefused, PipesConfigurationError
from django_workos_pipes.service import PipesService, pipes
from django_workos_pipes.testing.fakes import PipesFake
from tests.builders import token_answer
from tests.settings import API_KEY, WEBHOOK_SECRET
from tests.stubs import WORKOS, stub_token

pytestmark = pytest.mark.django_db

USERS = f"{WORKOS}/user_management/users"
WORKOS_ANN = "user_01ANNWORKOS"
TOKEN = "ya29.salesforce-secret-token"
LINKED = {
    "API_KEY": API_KEY,
    "WEBHOOK_SECRET": WEBHOOK_SECRET,
    "BACKOFF_FACTOR": 0,
    "MAX_RETRIES": 0,
    "USER_ID_RESOLVER": "django_workos_pipes.identity.linked_user_id",
}
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def linked(settings: Any) -> None:
    settings.WORKOS_PIPES = dict(LINKED)


@pytest.fixture(autouse=True)
def _forget_warnings() -> Iterator[None]:
    identity._warned.clear()
    yield
    identity._warned.clear()


@pytest.fixture
def provisioning(settings: Any) -> None:
    settings.WORKOS_PIPES = {**LINKED, "PROVISION_USERS": True}


@pytest.fixture
def ann_lee(client: Client) -> User:
    """Ann Lee, with her e-mail, logged in on ``client``; no resolver is set here (unlike
    the conftest's ``ann``): each test chooses."""
    user = User.objects.create_user(
        "ann", email="Ann@Example.com", first_name="Ann", last_name="Lee"
    )
    client.force_login(user)
    return user


def user_url(external_id: str | int) -> str:
    return f"{USERS}/external_id/{external_id}"


def workos_user(external_id: str | int, user_id: str = WORKOS_ANN) -> dict[str, Any]:
    return wire.user_object(user_id, email="ann@example.com", external_id=str(external_id))


def not_found() -> dict[str, Any]:
    return wire.error_body("User not found.", "entity_not_found")


@pytest.fixture
def warned(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The package's warnings and errors, captured from the start of the test."""
    caplog.set_level(logging.WARNING, "django_workos_pipes")
    return caplog


def stub_unknown(workos_stub: responses.RequestsMock, user: User) -> None:
    """WorkOS has no user whose external id is ``user``'s pk (yet)."""
    workos_stub.get(user_url(user.pk), json=not_found(), status=404)


@pytest.fixture
def unknown_ann(ann_lee: User, workos_stub: responses.RequestsMock) -> User:
    """Ann, logged in, whom WorkOS does not know by her pk yet: her lookup is a 404."""
    stub_unknown(workos_stub, ann_lee)
    return ann_lee


def urls(workos_stub: responses.RequestsMock) -> list[str]:
    return [f"{call.request.method} {call.request.url}" for call in workos_stub.calls]


# Linking an existing WorkOS user.


def test_a_django_user_gets_the_workos_user_with_its_pk_as_external_id(
    client: Client, ann_lee: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(user_url(ann_lee.pk), json=workos_user(ann_lee.pk))
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id=WORKOS_ANN)

    response = client.get("/sync/")

    assert response.status_code == 200
    assert response.json() == {"salesforce": TOKEN}


def test_the_link_is_resolved_once_per_request_and_cached_across_requests(
    client: Client, ann_lee: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(user_url(ann_lee.pk), json=workos_user(ann_lee.pk))
    for provider in ("salesforce", "slack", "jira"):
        stub_token(workos_stub, provider, token_answer(TOKEN), user_id=WORKOS_ANN)

    page = client.get("/status/?provider=salesforce&provider=slack&provider=jira")
    again = client.get("/status/?provider=salesforce&provider=slack&provider=jira")

    assert page.content == again.content
    assert page.content.decode().count("Connected</p>") == 3
    assert urls(workos_stub).count(f"GET {user_url(ann_lee.pk)}") == 1


@pytest.mark.redis
@pytest.mark.usefixtures("redis_cache")
def test_the_link_survives_a_restart_in_a_shared_cache(
    rf: RequestFactory, ann_lee: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(user_url(ann_lee.pk), json=workos_user(ann_lee.pk))
    request = rf.get("/")
    request.user = ann_lee
    with_a_service = PipesService()
    assert with_a_service.link_user(str(ann_lee.pk)) == WORKOS_ANN

    restarted = PipesService()  # a new process: nothing but Redis in common

    assert restarted.link_user(str(ann_lee.pk)) == WORKOS_ANN
    assert len(workos_stub.calls) == 1


def test_links_belong_to_one_workos_environment(
    ann_lee: User, workos_stub: responses.RequestsMock, settings: Any
) -> None:
    workos_stub.get(user_url(ann_lee.pk), json=workos_user(ann_lee.pk))
    workos_stub.get(
        f"http://127.0.0.1:4100/user_management/users/external_id/{ann_lee.pk}",
        json=workos_user(ann_lee.pk, "user_01EMULATED"),
    )
    assert pipes.link_user(str(ann_lee.pk)) == WORKOS_ANN

    settings.WORKOS_PIPES = {**LINKED, "BASE_URL": "http://127.0.0.1:4100"}

    assert pipes.link_user(str(ann_lee.pk)) == "user_01EMULATED"


def test_forget_user_link_asks_again(ann_lee: User, workos_stub: responses.RequestsMock) -> None:
    workos_stub.get(user_url(ann_lee.pk), json=workos_user(ann_lee.pk))
    pipes.link_user(str(ann_lee.pk))
    assert pipes.forget_user_link(str(ann_lee.pk)) is True
    pipes.link_user(str(ann_lee.pk))
    assert len(workos_stub.calls) == 2


def test_the_external_id_is_configurable(
    client: Client, ann_lee: User, workos_stub: responses.RequestsMock, settings: Any
) -> None:
    settings.WORKOS_PIPES = {**LINKED, "USER_EXTERNAL_ID": lambda user: f"crm:{user.pk}"}
    workos_stub.get(user_url(f"crm%3A{ann_lee.pk}"), json=workos_user(f"crm:{ann_lee.pk}"))
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id=WORKOS_ANN)

    assert client.get("/sync/").status_code == 200


def test_anonymous_visitors_are_sent_to_log_in_without_asking_workos(
    client: Client, workos_stub: responses.RequestsMock
) -> None:
    response = client.get("/sync/")
    assert response.status_code == 302
    assert response.url == "/login/?next=/sync/"


def test_async_views_link_in_a_worker_thread(
    ann_lee: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(user_url(ann_lee.pk), json=workos_user(ann_lee.pk))
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id=WORKOS_ANN)
    async_client = AsyncClient()
    async_client.force_login(ann_lee)

    async def get() -> Any:
        return await async_client.get("/async/")

    response = async_to_sync(get)()

    assert response.status_code == 200
    assert response.json() == {"salesforce": TOKEN}


# Provisioning.


@pytest.mark.usefixtures("provisioning")
def test_a_user_with_no_workos_user_gets_one_with_email_names_and_external_id(
    client: Client, unknown_ann: User, workos_stub: responses.RequestsMock
) -> None:
    body = {
        "email": unknown_ann.email,  # as Django stored it; WorkOS lower-cases it
        "external_id": str(unknown_ann.pk),
        "first_name": "Ann",
        "last_name": "Lee",
    }
    workos_stub.post(
        USERS,
        json=workos_user(unknown_ann.pk),
        status=201,
        match=[matchers.json_params_matcher(body)],
    )
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), user_id=WORKOS_ANN)

    assert client.get("/sync/").status_code == 200
    assert client.get("/sync/").status_code == 200  # linked: no second lookup
    assert urls(workos_stub) == [
        f"GET {user_url(unknown_ann.pk)}",
        f"POST {USERS}",
        f"POST {WORKOS}/data-integrations/salesforce/token",
    ]


@pytest.mark.usefixtures("provisioning")
def test_a_user_created_by_a_concurrent_request_is_linked(
    unknown_ann: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.post(USERS, json=wire.email_not_available_error(), status=400)
    workos_stub.get(user_url(unknown_ann.pk), json=workos_user(unknown_ann.pk))

    assert pipes.link_user(str(unknown_ann.pk), email="ann@example.com") == WORKOS_ANN


def test_without_provisioning_an_unknown_user_is_refused_with_a_page(
    client: Client,
    unknown_ann: User,
    workos_stub: responses.RequestsMock,
    warned: pytest.LogCaptureFixture,
) -> None:
    response = client.get("/sync/")

    assert response.status_code == 403
    assert "workos_pipes/not_linked.html" in [t.name for t in response.templates]
    assert "isn't set up yet" in response.content.decode()
    assert "PROVISION_USERS" in warned.text
    assert f"external_id='{unknown_ann.pk}'" in warned.text


# An e-mail address WorkOS already has: never linked by e-mail.


@pytest.mark.usefixtures("provisioning")
def test_an_email_taken_in_workos_is_a_logged_409_that_says_what_to_do(
    client: Client,
    unknown_ann: User,
    workos_stub: responses.RequestsMock,
    warned: pytest.LogCaptureFixture,
) -> None:
    workos_stub.post(
        USERS,
        json=wire.email_not_available_error(),
        status=400,
        headers={"X-Request-ID": "req_taken"},
    )

    response = client.get("/sync/")
    again = client.get("/sync/")  # the refusal is cached: WorkOS is not asked again

    page = response.content.decode()
    assert response.status_code == again.status_code == 409
    assert "never joined by e-mail address alone" in page
    assert f">{unknown_ann.pk}</code>" not in page  # what to set in WorkOS is for staff only
    assert len(workos_stub.calls) == 3  # lookup, create, lookup again: no search by e-mail
    assert not any("email=" in (call.request.url or "") for call in workos_stub.calls)
    (warning,) = [r for r in warned.records if "Not linking" in r.getMessage()]
    message = warning.getMessage()
    assert f"external_id='{unknown_ann.pk}'" in message
    assert "email_not_available" in message
    assert "request_id=req_taken" in message
    assert unknown_ann.email not in message


@pytest.mark.usefixtures("provisioning")
def test_staff_see_the_external_id_to_set_in_workos(
    client: Client, ann_lee: User, workos_stub: responses.RequestsMock
) -> None:
    ann_lee.is_staff = True
    ann_lee.save()
    stub_unknown(workos_stub, ann_lee)
    workos_stub.post(USERS, json=wire.email_not_available_error(), status=400)

    page = client.get("/sync/").content.decode()

    assert f'<code class="chip">{ann_lee.pk}</code>' in page
    assert "PUT /user_management/users/{id}" in page


@pytest.mark.usefixtures("provisioning")
def test_json_clients_get_the_refusal_as_json(
    client: Client, unknown_ann: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.post(USERS, json=wire.email_not_available_error(), status=400)

    response = client.get("/sync/", **JSON)

    assert response.status_code == 409
    assert response.json() == {"error": "not_linked", "reason": "email_not_available"}


@pytest.mark.usefixtures("provisioning")
def test_a_user_without_email_cannot_be_provisioned(
    client: Client, workos_stub: responses.RequestsMock
) -> None:
    bob = User.objects.create_user("bob")
    client.force_login(bob)
    stub_unknown(workos_stub, bob)

    response = client.get("/sync/")

    assert response.status_code == 403
    assert "needs an e-mail address" in response.content.decode()


@pytest.mark.usefixtures("provisioning")
def test_the_status_tag_and_the_connect_view_show_the_refusal(
    client: Client, unknown_ann: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.post(USERS, json=wire.email_not_available_error(), status=400)
    stub_unknown(workos_stub, unknown_ann)

    status = client.get("/status/?provider=salesforce").content.decode()
    connect = client.get("/pipes/connect/salesforce/?next=/sync/")

    assert "active=False error=not_linked" in status
    assert connect.status_code == 409


def test_workos_down_while_linking_is_the_503_page(
    client: Client, ann_lee: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(user_url(ann_lee.pk), status=502)

    response = client.get("/sync/")

    assert response.status_code == 503
    assert "workos_pipes/unavailable.html" in [t.name for t in response.templates]


def test_workos_down_while_linking_opens_the_breaker_for_the_next_users(
    client: Client, ann_lee: User, workos_stub: responses.RequestsMock
) -> None:
    """A link goes through the WorkOS breaker, as a token does: the next uncached user
    gets the 503 page at once instead of waiting for WorkOS again."""
    workos_stub.get(user_url(ann_lee.pk), status=502)
    assert client.get("/sync/").status_code == 503
    assert pipes.workos_breaker.state == OPEN

    client.force_login(User.objects.create_user("bob", email="bob@example.com"))
    response = client.get("/sync/")

    assert response.status_code == 503
    assert len(workos_stub.calls) == 1, "no second lookup while the breaker is open"


def test_a_link_refused_by_workos_is_an_answer_that_closes_the_breaker(
    client: Client, unknown_ann: User, workos_stub: responses.RequestsMock
) -> None:
    pipes.workos_breaker.failed(0.01)
    time.sleep(0.02)  # half-open: one trial goes through, the lookup (404, not provisioned)
    assert client.get("/sync/").status_code == 403
    assert pipes.workos_breaker.state == CLOSED


def test_a_refusal_escaping_a_project_view_is_a_403() -> None:
    from django.core.exceptions import PermissionDenied

    assert issubclass(LinkRefused, PermissionDenied)


# Never silent.


def test_a_logged_in_user_without_an_id_is_logged_once_naming_the_setting(
    client: Client, caplog: pytest.LogCaptureFixture, settings: Any
) -> None:
    settings.WORKOS_PIPES = {"API_KEY": API_KEY, "WEBHOOK_SECRET": WEBHOOK_SECRET}
    ann_lee = User.objects.create_user("ann")
    bob = User.objects.create_user("bob")

    with caplog.at_level(logging.WARNING, "django_workos_pipes.identity"):
        client.force_login(ann_lee)
        first = client.get("/sync/")
        client.get("/status/?provider=salesforce")
        client.force_login(bob)
        client.get("/sync/")

    assert first.status_code == 302  # treated as anonymous, as before: but not silently
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2
    assert f"pk={ann_lee.pk}" in warnings[0] and f"pk={bob.pk}" in warnings[1]
    assert "USER_ID_RESOLVER" in warnings[0]
    assert "django_workos_pipes.identity.default_user_id" in warnings[0]
    assert "django_workos_pipes.identity.linked_user_id" in warnings[0]


def test_anonymous_visitors_are_not_warned_about(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "django_workos_pipes.identity"):
        client.get("/sync/")
    assert caplog.records == []


# Organizations: looked up by external_id, never created.


def team_of(request: Any) -> str | None:
    return "acme" if request.user.is_authenticated else None


@pytest.fixture
def organizations(settings: Any) -> None:
    settings.WORKOS_PIPES = {
        **LINKED,
        "ORGANIZATION_ID_RESOLVER": "django_workos_pipes.identity.linked_organization_id",
        "ORGANIZATION_EXTERNAL_ID": team_of,
    }


@pytest.mark.usefixtures("organizations")
def test_the_organization_is_found_by_its_external_id(
    client: Client, ann_lee: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(user_url(ann_lee.pk), json=workos_user(ann_lee.pk))
    workos_stub.get(
        f"{WORKOS}/organizations/external_id/acme",
        json=wire.organization_object("org_01ACME", name="Acme", external_id="acme"),
    )
    stub_token(
        workos_stub,
        "salesforce",
        token_answer(TOKEN),
        user_id=WORKOS_ANN,
        organization_id="org_01ACME",
    )

    assert client.get("/sync/").status_code == 200
    assert client.get("/sync/").status_code == 200
    assert len(workos_stub.calls) == 3


@pytest.mark.usefixtures("organizations")
def test_an_unknown_organization_is_refused_not_created(
    client: Client, ann_lee: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.get(user_url(ann_lee.pk), json=workos_user(ann_lee.pk))
    workos_stub.get(f"{WORKOS}/organizations/external_id/acme", status=404, json=not_found())

    response = client.get("/sync/")

    assert response.status_code == 403
    assert "organization isn't set up yet" in response.content.decode()


def test_linked_organization_id_without_its_setting_says_which(
    rf: RequestFactory, ann_lee: User, settings: Any
) -> None:
    request = rf.get("/")
    request.user = ann_lee
    with pytest.raises(PipesConfigurationError, match="ORGANIZATION_EXTERNAL_ID"):
        identity.linked_organization_id(request)


# The testing fake speaks the same calls.


@pytest.mark.usefixtures("provisioning")
def test_the_fake_provisions_and_refuses_like_workos(
    client: Client, ann_lee: User, pipes_fake: PipesFake
) -> None:
    pipes_fake.add_user("ANN@example.com")  # someone else, who has the address

    assert client.get("/sync/").status_code == 409

    pipes_fake.users.clear()
    fake = PipesFake()
    with fake.installed():
        response = client.get("/sync/")  # the refusal is cached for INACTIVE_TTL
        assert response.status_code == 409
        pipes.forget_user_link(str(ann_lee.pk))
        assert client.get("/sync/").status_code == 302  # provisioned; not connected yet
        (created,) = fake.users
        assert (created.email, created.external_id) == ("ann@example.com", str(ann_lee.pk))
        fake.connect("salesforce", created.id, token=TOKEN)
        assert client.get("/sync/").json() == {"salesforce": TOKEN}


def test_the_fake_links_users_added_with_an_external_id(
    client: Client, ann_lee: User, pipes_fake: PipesFake
) -> None:
    linked = pipes_fake.add_user("ann@example.com", external_id=str(ann_lee.pk))
    pipes_fake.connect("salesforce", linked.id, token=TOKEN)

    assert client.get("/sync/").json() == {"salesforce": TOKEN}
    assert [call.method for call in pipes_fake.calls] == [
        "get_user_by_external_id",
        "get_access_token",
    ]
