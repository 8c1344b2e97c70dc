"""The ``workos_pipes`` template tags: status, links, caching, and no token anywhere."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone
from typing import Any

import pytest
import responses
from django.contrib.auth.models import AnonymousUser, User
from django.http import HttpRequest
from django.template import Context, Template
from django.test import Client, RequestFactory

from django_workos_pipes.exceptions import PipesConfigurationError
from django_workos_pipes.results import AccessToken, TokenResult
from django_workos_pipes.status import PipeStatus
from tests.builders import TOKEN, inactive_answer, token_answer
from tests.stubs import stub_token, token_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stub_resolver")]


def render(source: str, request: Any = None, **context: Any) -> str:
    if request is not None:
        context["request"] = request
    return Template("{% load workos_pipes %}" + source).render(Context(context))


def request_for(rf: RequestFactory, user: Any, path: str = "/page/") -> Any:
    request = rf.get(path)
    request.user = user
    return request


@pytest.fixture
def ann_request(rf: RequestFactory, ann: User) -> HttpRequest:
    """A request for a page by ann, logged in."""
    return request_for(rf, ann)


def paragraphs(html: str) -> list[str]:
    return [" ".join(p.split()) for p in re.findall(r"<p[^>]*>(.*?)</p>", html, re.S)]


def test_a_page_of_statuses(client: Client, ann: User, workos_stub: responses.RequestsMock) -> None:
    stub_token(
        workos_stub, "salesforce", token_answer(TOKEN, scopes=("api", "id"), missing=("id",))
    )
    stub_token(workos_stub, "hubspot", inactive_answer("needs_reauthorization"))
    stub_token(workos_stub, "slack", inactive_answer("not_installed"))
    response = client.get("/status/?provider=salesforce&provider=hubspot&provider=slack")
    assert response.status_code == 200
    next_ = "/status/%3Fprovider%3Dsalesforce%26provider%3Dhubspot%26provider%3Dslack"
    assert paragraphs(response.content.decode()) == [
        "salesforce active=True error=None scopes=api,id missing=id "
        "expires=2031-05-03T22:02:01-05:00 "
        "PipeStatus(provider=&#x27;salesforce&#x27;, active=True, error=None, "
        "scopes=(&#x27;api&#x27;, &#x27;id&#x27;), missing_scopes=(&#x27;id&#x27;,), "
        "expires_at=datetime.datetime(2031, 5, 4, 3, 2, 1, tzinfo=datetime.timezone.utc)) "
        "Connected",
        "hubspot active=False error=needs_reauthorization scopes= missing= expires= "
        "PipeStatus(provider=&#x27;hubspot&#x27;, active=False, error=&#x27;needs_reauthorization"
        "&#x27;, scopes=(), missing_scopes=(), expires_at=None) "
        f'<a href="/pipes/reauthorize/hubspot/?next={next_}">Reconnect</a>',
        "slack active=False error=not_installed scopes= missing= expires= "
        "PipeStatus(provider=&#x27;slack&#x27;, active=False, error=&#x27;not_installed&#x27;, "
        "scopes=(), missing_scopes=(), expires_at=None) "
        f'<a href="/pipes/connect/slack/?next={next_}">Connect</a>',
    ]


def test_the_token_is_nowhere_in_the_page(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN))
    response = client.get("/status/?provider=salesforce")
    assert "active=True" in response.content.decode()
    assert TOKEN not in response.content.decode()
    assert "ya29" not in response.content.decode()


@pytest.mark.parametrize(
    "lookup",
    [
        "status",
        "status.access_token",
        "status.token",
        "status.result",
        "status.result.access_token",
        "status.access_token.access_token",
        "status.0",
    ],
)
def test_no_template_lookup_reaches_the_token(
    ann_request: HttpRequest, workos_stub: responses.RequestsMock, lookup: str
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN))
    html = render('{% pipe_status "salesforce" as status %}{{ ' + lookup + " }}", ann_request)
    assert "ya29" not in html


def test_the_status_object_holds_no_token_at_all() -> None:
    token = AccessToken(TOKEN, datetime(2031, 1, 1, tzinfo=timezone.utc), ("api",), ())
    status = PipeStatus.from_result("salesforce", TokenResult.connected(token))
    seen = [str(status), repr(status), format(status), *map(str, dataclasses.astuple(status))]
    # (Python 3.10's slotted dataclasses keep a __weakref__ descriptor that can't be read.)
    seen += [repr(getattr(status, name, None)) for name in dir(status) if name != "__weakref__"]
    assert all("ya29" not in text for text in seen)
    assert not hasattr(status, "__dict__")
    assert (status.active, status.error, status.scopes) == (True, None, ("api",))
    with pytest.raises(TypeError):
        iter(status)  # type: ignore[call-overload]
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.active = False  # type: ignore[misc]


def test_ten_providers_on_a_page_are_ten_cache_reads(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    providers = [f"provider-{n}" for n in range(10)]
    for provider in providers:
        stub_token(workos_stub, provider, token_answer(f"tok-{provider}-value"))
    path = "/status/?" + "&".join(f"provider={p}" for p in providers)
    first = client.get(path).content
    second = client.get(path).content
    assert first == second
    assert first.decode().count("Connected") == 10
    assert len(workos_stub.calls) == 10


def test_workos_down_renders_unknown(
    ann_request: HttpRequest, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.post(token_url("salesforce"), status=503)
    html = render('{% pipe_status "salesforce" as sf %}{{ sf.active }} {{ sf.error }}', ann_request)
    assert html == "False unknown"


def test_an_unknown_provider_renders_unknown(
    ann_request: HttpRequest, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.post(token_url("nope"), status=404, json={"message": "Integration not found"})
    html = render('{% pipe_status "nope" as s %}{{ s.error }}', ann_request)
    assert html == "unknown"


def test_a_page_renders_while_workos_is_down(
    client: Client, ann: User, workos_stub: responses.RequestsMock
) -> None:
    workos_stub.post(token_url("salesforce"), status=500)
    response = client.get("/status/?provider=salesforce")
    assert response.status_code == 200
    assert paragraphs(response.content.decode())[0].startswith(
        "salesforce active=False error=unknown"
    )


def test_anonymous_visitors_get_the_anonymous_status(
    rf: RequestFactory, workos_stub: responses.RequestsMock
) -> None:
    html = render(
        '{% pipe_status "salesforce" as sf %}{{ sf.active }} {{ sf.error }}',
        request_for(rf, AnonymousUser()),
    )
    assert html == "False anonymous"
    assert len(workos_stub.calls) == 0


def test_explicit_user_and_organization(
    rf: RequestFactory, workos_stub: responses.RequestsMock
) -> None:
    stub_token(
        workos_stub, "salesforce", token_answer(TOKEN), user_id="user_X", organization_id="org_Y"
    )
    html = render(
        '{% pipe_status "salesforce" user_id=uid organization_id="org_Y" as sf %}{{ sf.active }}',
        uid="user_X",
    )
    assert html == "True"


def test_an_explicit_user_does_not_take_the_viewers_organization(
    ann_request: HttpRequest, workos_stub: responses.RequestsMock, settings: Any
) -> None:
    settings.WORKOS_PIPES = {
        **settings.WORKOS_PIPES,
        "ORGANIZATION_ID_RESOLVER": lambda request: "org_of_the_viewer",
    }
    stub_token(workos_stub, "salesforce", inactive_answer("not_installed"), user_id="user_X")
    html = render(
        '{% pipe_status "salesforce" user_id="user_X" as sf %}{{ sf.error }}', ann_request
    )
    assert html == "not_installed"


def test_the_organization_can_be_overridden_for_the_current_user(
    ann_request: HttpRequest, workos_stub: responses.RequestsMock
) -> None:
    stub_token(workos_stub, "salesforce", token_answer(TOKEN), organization_id="org_Z")
    html = render(
        '{% pipe_status "salesforce" organization_id="org_Z" as sf %}{{ sf.active }}',
        ann_request,
    )
    assert html == "True"


def test_a_missing_user_id_is_anonymous_not_the_viewer(
    ann_request: HttpRequest, workos_stub: responses.RequestsMock
) -> None:
    html = render(
        '{% pipe_status "salesforce" user_id=customer.workos_id as sf %}{{ sf.error }}',
        ann_request,
        customer={"workos_id": None},
    )
    assert html == "anonymous"


@pytest.mark.parametrize(
    "source",
    ['{% pipe_status "salesforce" as sf %}', '{% pipe_connect_url "salesforce" %}'],
)
def test_a_missing_request_names_the_context_processor(source: str) -> None:
    with pytest.raises(
        PipesConfigurationError, match=r"django\.template\.context_processors\.request"
    ):
        render(source)


def test_connect_and_reauthorize_urls(rf: RequestFactory, ann: User) -> None:
    request = request_for(rf, ann, "/reports/?tab=2&error=access_denied")
    html = render(
        '{% pipe_connect_url "salesforce" %}|{% pipe_reauthorize_url "jira" %}|'
        '{% pipe_connect_url "slack" next="/after/?a=1" %}|'
        '{% pipe_reauthorize_url "hubspot" as url %}<a href="{{ url }}">',
        request,
    )
    assert html.split("|") == [
        "/pipes/connect/salesforce/?next=/reports/%3Ftab%3D2",
        "/pipes/reauthorize/jira/?next=/reports/%3Ftab%3D2",
        "/pipes/connect/slack/?next=/after/%3Fa%3D1",
        '<a href="/pipes/reauthorize/hubspot/?next=/reports/%3Ftab%3D2">',
    ]


def test_an_explicit_next_needs_no_request() -> None:
    assert render('{% pipe_connect_url "jira" next="/x/" %}') == "/pipes/connect/jira/?next=/x/"


def test_urls_are_escaped_in_html(ann_request: HttpRequest, settings: Any) -> None:
    settings.WORKOS_PIPES = {**settings.WORKOS_PIPES, "CONNECT_URL": "/c/?a=1&b=\"'"}
    html = render('{% pipe_connect_url "jira" next="/x/" %}', ann_request)
    assert html == "/c/?a=1&amp;b=%22%27&amp;next=/x/"
