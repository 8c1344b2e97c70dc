"""Testing a view that needs Salesforce, with the pipes_fake fixture (and pytest-django)."""

import pytest
from django.http import HttpResponse
from django.urls import include, path

from django_workos_pipes.decorators import require_pipe

ANN = "user_01ANN"


# The view under test and its URLs: in your project, your own.
@require_pipe("salesforce", scopes=["api"])
def accounts(request):
    token = request.pipes["salesforce"]
    return HttpResponse(f"Connected to Salesforce with {token.masked}")


urlpatterns = [
    path("accounts/", accounts),
    path("pipes/", include("django_workos_pipes.urls")),
]

pytestmark = [pytest.mark.urls(__name__), pytest.mark.django_db]


def workos_user_id(request):
    """Your user model has a workos_user_id (the default resolver reads it); Django's
    own User has none, so this file says who the logged-in user is to WorkOS."""
    return ANN if request.user.is_authenticated else None


@pytest.fixture(autouse=True)
def logged_in_ann(client, django_user_model, settings):
    settings.WORKOS_PIPES = {"USER_ID_RESOLVER": workos_user_id}
    client.force_login(django_user_model.objects.create_user("ann"))


def test_connected_user_sees_the_page_and_never_the_token(client, pipes_fake):
    token = pipes_fake.connect("salesforce", user_id=ANN, scopes=["api"])

    response = client.get("/accounts/")
    page = response.content.decode()

    assert response.status_code == 200
    assert token.masked in page
    assert token.access_token not in page


def test_user_who_never_connected_is_sent_to_connect(client, pipes_fake):
    response = client.get("/accounts/")
    assert response.url == "/pipes/connect/salesforce/?next=/accounts/"

    response = client.get(response.url)
    assert response.url.startswith("https://pipes-fake.invalid/salesforce/authorize?")
    assert [call.method for call in pipes_fake.calls] == ["get_access_token", "authorize_url"]


def test_a_missing_scope_means_reauthorize(client, pipes_fake):
    pipes_fake.connect("salesforce", user_id=ANN, scopes=["id"])

    response = client.get("/accounts/")

    assert response.url == "/pipes/reauthorize/salesforce/?next=/accounts/"


def test_a_connection_can_change_mid_test(client, pipes_fake):
    pipes_fake.connect("salesforce", user_id=ANN, scopes=["api"])
    assert client.get("/accounts/").status_code == 200
    assert client.get("/accounts/").status_code == 200  # cached: WorkOS asked once
    assert len(pipes_fake.calls) == 1

    pipes_fake.needs_reauthorization("salesforce", user_id=ANN)

    response = client.get("/accounts/")
    assert response.url == "/pipes/reauthorize/salesforce/?next=/accounts/"
