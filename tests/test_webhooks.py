"""The webhook endpoint: verification, responses, invalidation, idempotency, signals.

Every signature is real HMAC. Every forged or replayed request goes through
:func:`send_forged` or :func:`send_replay`, which count it; the module's last fixture
teardown asserts that none of them was accepted (run with ``-v`` to see the tally).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import django
import pytest
import responses
import time_machine
from django.core.cache import caches
from django.test import Client, override_settings
from django.urls import path, reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from django_workos_pipes import pipes
from django_workos_pipes.caching.ledger import HANDLED, EventLedger
from django_workos_pipes.events import PIPES_EVENT_TYPES
from django_workos_pipes.signals import connection_changed, webhook_received
from django_workos_pipes.signatures import HEADER, compute_digest
from django_workos_pipes.testing import post_webhook
from django_workos_pipes.webhooks import WebhookView, webhook
from tests.builders import sdk_signature, sign_webhook, signature_at, webhook_event
from tests.environment import DEAD_REDIS
from tests.settings import WEBHOOK_SECRET
from tests.stubs import issue_tokens
from tests.urls import with_pipes

OLD, NEW, OTHER = "whsec_old_secret_aaaa", "whsec_new_secret_bbbb", "whsec_other_secret_cccc"
FROZEN = datetime.fromtimestamp(1_900_000_000, tz=timezone.utc)
FROZEN_MS = 1_900_000_000_000
PIPES_TYPES = sorted(PIPES_EVENT_TYPES)
# The types that change a connection; failed attempts invalidate nothing
# (tests/test_event_families.py).
CHANGE_TYPES = [name for name in PIPES_TYPES if not name.endswith("_failed")]


# Custom routing: the view class with its own secrets, and the function view on any path.
urlpatterns = with_pipes(
    path("custom/webhook/", webhook),
    path("second-env/webhook/", WebhookView.as_view(secrets=[OTHER], tolerance=30)),
    path("one-string/webhook/", WebhookView.as_view(secrets=f"{OLD}, {NEW}")),
)


# The tally of forged and replayed requests.


@dataclass
class Tally:
    forged_sent: int = 0
    forged_accepted: int = 0
    replays_sent: int = 0
    replays_accepted: int = 0


TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def _no_forgery_accepted(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    plugins = request.config.pluginmanager
    reporter, capture = plugins.getplugin("terminalreporter"), plugins.getplugin("capturemanager")
    if reporter is not None and capture is not None and request.config.get_verbosity() > 0:
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"\nwebhooks: {TALLY.forged_sent} forged requests, {TALLY.forged_accepted} "
                f"accepted; {TALLY.replays_sent} replayed requests, {TALLY.replays_accepted} "
                "accepted"
            )
    assert TALLY.forged_accepted == 0
    assert TALLY.replays_accepted == 0


# Helpers.


def url() -> str:
    return reverse("workos_pipes:webhook")


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def send(client: Client, body: bytes, signature: str | None, path_: str | None = None) -> Any:
    headers = {} if signature is None else {HEADER: signature}
    return client.post(path_ or url(), data=body, content_type="application/json", headers=headers)


def send_forged(
    client: Client, body: bytes, signature: str | None, path_: str | None = None
) -> Any:
    """Send a request that must be refused; count it, and count it again if it wasn't."""
    response = send(client, body, signature, path_)
    TALLY.forged_sent += 1
    if response.status_code < 400:
        TALLY.forged_accepted += 1
    assert response.status_code == 400, response.content
    return response


def send_replay(client: Client, body: bytes, signature: str, received: list[Any]) -> Any:
    """Replay an already-delivered request: it may be acknowledged, never handled again."""
    before = len(received)
    response = send(client, body, signature)
    TALLY.replays_sent += 1
    if len(received) != before:
        TALLY.replays_accepted += 1
    assert response.status_code in (200, 400), response.content
    assert len(received) == before
    return response


@pytest.fixture
def webhook_client() -> Client:
    """Django's test client answering a view's exception with a 500, as a server does."""
    return Client(raise_request_exception=False)


@pytest.fixture
def workos_issuing_tokens(workos_stub: responses.RequestsMock) -> responses.RequestsMock:
    """WorkOS's token endpoint for every provider: each call hands out a new token,
    ``ya29.token-1``, ``-2``... (a test that only invalidates need not call it)."""
    issue_tokens(workos_stub, provider=None)
    workos_stub.assert_all_requests_are_fired = False
    return workos_stub


def token(provider: str, user_id: str, organization_id: str | None = None) -> str:
    result = pipes.get_access_token(provider, user_id=user_id, organization_id=organization_id)
    assert result.access_token is not None
    return result.access_token.access_token


# Methods, CSRF, login.


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head", "options"])
def test_only_post_is_allowed(webhook_client: Client, method: str) -> None:
    response = getattr(webhook_client, method)(url())
    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_is_importable_from_views_and_routed_by_the_app() -> None:
    from django_workos_pipes import views

    assert views.webhook is webhook
    assert url() == "/pipes/webhook/"


def test_csrf_enforcing_client_is_still_answered(
    received: list[dict[str, Any]],
) -> None:
    client = Client(enforce_csrf_checks=True)
    assert post_webhook(client, webhook_event("connected")).status_code == 200
    assert len(received) == 1


@pytest.mark.skipif(django.VERSION < (5, 1), reason="LoginRequiredMiddleware is new in Django 5.1")
def test_reachable_under_login_required_middleware(webhook_client: Client) -> None:
    from tests.settings import MIDDLEWARE

    middleware = [*MIDDLEWARE, "django.contrib.auth.middleware.LoginRequiredMiddleware"]
    with override_settings(MIDDLEWARE=middleware):
        assert post_webhook(webhook_client, webhook_event("connected")).status_code == 200
        assert webhook_client.get(url()).status_code == 405  # not a redirect to the login page


# Signatures through the endpoint.


def test_signed_event_is_answered_200_with_plain_text(webhook_client: Client) -> None:
    response = post_webhook(webhook_client, webhook_event("connected"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_header_computed_like_the_official_sdk_is_accepted(webhook_client: Client) -> None:
    body = body_of(webhook_event("disconnected"))
    stamp = int(datetime.now(timezone.utc).timestamp() * 1000)
    assert send(webhook_client, body, sdk_signature(body, WEBHOOK_SECRET, stamp)).status_code == 200


def test_rotation_accepts_old_and_new_secret_and_refuses_a_third(webhook_client: Client) -> None:
    with override_settings(WORKOS_PIPES={"API_KEY": "sk_test_x", "WEBHOOK_SECRET": [OLD, NEW]}):
        for secret in (OLD, NEW):
            assert (
                post_webhook(webhook_client, webhook_event("connected"), secret=secret).status_code
                == 200
            )
        body = body_of(webhook_event("connected"))
        send_forged(webhook_client, body, sign_webhook(body, OTHER))


def test_a_comma_separated_secret_string_rotates_too(webhook_client: Client) -> None:
    with override_settings(WORKOS_PIPES={"API_KEY": "sk_test_x", "WEBHOOK_SECRET": f"{OLD},{NEW}"}):
        assert (
            post_webhook(webhook_client, webhook_event("connected"), secret=OLD).status_code == 200
        )
        assert (
            post_webhook(webhook_client, webhook_event("connected"), secret=NEW).status_code == 200
        )


@pytest.mark.parametrize(
    ("offset_ms", "accepted"),
    [(-180_000, True), (-180_001, False), (180_000, True), (180_001, False)],
)
def test_tolerance_edges_in_the_past_and_the_future(
    webhook_client: Client, received: list[dict[str, Any]], offset_ms: int, accepted: bool
) -> None:
    body = body_of(webhook_event("connected"))
    with time_machine.travel(FROZEN, tick=False):
        signature = signature_at(body, FROZEN_MS + offset_ms, WEBHOOK_SECRET)
        if accepted:
            assert send(webhook_client, body, signature).status_code == 200
        else:
            response = send_replay(webhook_client, body, signature, received)
            assert response.status_code == 400
            assert response.content == b"timestamp outside the tolerance"


def test_tolerance_follows_the_setting(
    webhook_client: Client, received: list[dict[str, Any]]
) -> None:
    body = body_of(webhook_event("connected"))
    pipes_settings = {
        "API_KEY": "sk_test_x",
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WEBHOOK_TOLERANCE": 10,
    }
    with time_machine.travel(FROZEN, tick=False), override_settings(WORKOS_PIPES=pipes_settings):
        send_replay(
            webhook_client, body, signature_at(body, FROZEN_MS - 11_000, WEBHOOK_SECRET), received
        )
        assert (
            send(
                webhook_client, body, signature_at(body, FROZEN_MS - 10_000, WEBHOOK_SECRET)
            ).status_code
            == 200
        )


def test_a_captured_request_replayed_later_is_refused(
    webhook_client: Client, received: list[dict[str, Any]]
) -> None:
    body = body_of(webhook_event("disconnected"))
    with time_machine.travel(FROZEN, tick=False):
        signature = sign_webhook(body, WEBHOOK_SECRET)
        assert send(webhook_client, body, signature).status_code == 200
        send_replay(webhook_client, body, signature, received)  # same id: acknowledged, not handled
    with time_machine.travel(FROZEN + timedelta(minutes=10), tick=False):
        assert send_replay(webhook_client, body, signature, received).status_code == 400
    assert len(received) == 1


def _forgeries() -> list[tuple[str, Callable[[bytes], tuple[bytes, str | None]]]]:
    def stamp() -> int:
        return int(datetime.now(timezone.utc).timestamp() * 1000)

    def valid(body: bytes) -> str:
        return sign_webhook(body, WEBHOOK_SECRET)

    return [
        ("no header", lambda b: (b, None)),
        ("empty header", lambda b: (b, "")),
        ("garbage", lambda b: (b, "garbage")),
        ("non-numeric t", lambda b: (b, valid(b).replace("t=", "t=x"))),
        ("missing v1", lambda b: (b, f"t={stamp()}")),
        ("missing t", lambda b: (b, "v1=" + valid(b).split("v1=")[1])),
        ("wrong digest", lambda b: (b, f"t={stamp()}, v1={'0' * 64}")),
        ("digest of another body", lambda b: (b, valid(b + b" "))),
        ("tampered body", lambda b: (b.replace(b"salesforce", b"salesforcf"), valid(b))),
        ("another secret", lambda b: (b, sign_webhook(b, OTHER))),
        ("secret as digest", lambda b: (b, f"t={stamp()}, v1={WEBHOOK_SECRET}")),
        ("digest without secret", lambda b: (b, signature_at(b, stamp(), ""))),
        ("huge header", lambda b: (b, valid(b) + ", v1=" + "a" * 100_000)),
        ("huge timestamp", lambda b: (b, f"t={'9' * 5000}, v1=" + "a" * 64)),
        ("latin-1 header", lambda b: (b, "t=\xe9\xe9, v1=\xff")),
        ("non-ascii digits", lambda b: (b, "t=\u0661\u0662\u0663, v1=abc")),
    ]


@pytest.mark.parametrize(("case", "forge"), _forgeries(), ids=[c for c, _ in _forgeries()])
def test_forged_requests_are_refused_with_a_reason_and_a_warning(
    webhook_client: Client,
    received: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    case: str,
    forge: Callable[[bytes], tuple[bytes, str | None]],
) -> None:
    body, signature = forge(body_of(webhook_event("disconnected", "salesforce", "user_1")))
    with caplog.at_level(logging.WARNING, logger="django_workos_pipes"):
        response = send_forged(webhook_client, body, signature)
    assert response["Content-Type"].startswith("text/plain")
    assert 0 < len(response.content) < 60
    assert received == []
    warnings = [r for r in caplog.records if r.name == "django_workos_pipes.webhooks"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    logged = warnings[0].getMessage()
    assert "rejected" in logged
    assert WEBHOOK_SECRET not in logged and "user_1" not in logged and "salesforce" not in logged


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", b"body is not UTF-8 JSON"),
        (b"not json", b"body is not UTF-8 JSON"),
        (b"\xff\xfe\x00{", b"body is not UTF-8 JSON"),
        ('{"object": "event", "id": "\u00e9"}'.encode("latin-1"), b"body is not UTF-8 JSON"),
        (b"\xef\xbb\xbf{}", b"body is not UTF-8 JSON"),
        (b"[" * 100_000, b"body is not UTF-8 JSON"),
        (b"1" * 5000, b"body is not UTF-8 JSON"),
        (b"[]", b"body is not an event object"),
        (b'"event"', b"body is not an event object"),
        (b"null", b"body is not an event object"),
        (b'{"id": "event_1", "event": "x", "data": {}}', b"body is not an event object"),
        (
            b'{"object": "user", "id": "e", "event": "x", "data": {}}',
            b"body is not an event object",
        ),
        (b'{"object": "event", "event": "x", "data": {}}', b"event has no id"),
        (b'{"object": "event", "id": "", "event": "x", "data": {}}', b"event has no id"),
        (b'{"object": "event", "id": 7, "event": "x", "data": {}}', b"event has no id"),
        (b'{"object": "event", "id": "e", "data": {}}', b"event has no type"),
        (b'{"object": "event", "id": "e", "event": null, "data": {}}', b"event has no type"),
        (b'{"object": "event", "id": "e", "event": "x"}', b"event has no data object"),
        (b'{"object": "event", "id": "e", "event": "x", "data": []}', b"event has no data object"),
    ],
)
def test_signed_bodies_that_are_not_events_are_refused(
    webhook_client: Client, received: list[dict[str, Any]], body: bytes, reason: bytes
) -> None:
    response = send(webhook_client, body, sign_webhook(body, WEBHOOK_SECRET))
    assert (response.status_code, response.content) == (400, reason)
    assert received == []


def test_a_body_over_djangos_upload_limit_is_a_400(webhook_client: Client) -> None:
    body = body_of(webhook_event("connected", padding="x" * 2000))
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        assert send(webhook_client, body, sign_webhook(body, WEBHOOK_SECRET)).status_code == 400


class ReadsPostMiddleware:
    """A project middleware that reads ``request.POST`` before any view runs."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        request.POST  # reading it consumes a multipart body
        return self.get_response(request)


def test_a_body_consumed_by_a_middleware_is_a_400_not_a_500(webhook_client: Client) -> None:
    from tests.settings import MIDDLEWARE

    body = b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--b--\r\n'
    with override_settings(MIDDLEWARE=[*MIDDLEWARE, f"{__name__}.ReadsPostMiddleware"]):
        response = webhook_client.post(
            url(),
            data=body,
            content_type="multipart/form-data; boundary=b",
            headers={HEADER: sign_webhook(body, WEBHOOK_SECRET)},
        )
    assert (response.status_code, response.content) == (400, b"body already consumed")


def test_lone_surrogates_in_a_signed_event_are_handled(
    webhook_client: Client,
    workos_issuing_tokens: responses.RequestsMock,
    changed: list[dict[str, Any]],
) -> None:
    body = (
        b'{"object": "event", "id": "event_\\ud800", "event": "pipes.connected_account.connected",'
        b' "data": {"provider_slug": "salesforce", "user_id": "user_\\udfff"}}'
    )
    assert send(webhook_client, body, sign_webhook(body, WEBHOOK_SECRET)).status_code == 200
    assert (
        send(webhook_client, body, sign_webhook(body, WEBHOOK_SECRET)).content == b"already handled"
    )
    assert changed[0]["user_id"] == "user_\udfff"


def test_without_a_secret_every_request_is_refused(
    webhook_client: Client, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("WORKOS_WEBHOOK_SECRET", raising=False)
    body = body_of(webhook_event("connected"))
    with override_settings(WORKOS_PIPES={"API_KEY": "sk_test_x", "WEBHOOK_SECRET": ""}):
        for secret in ("", WEBHOOK_SECRET):
            response = send(webhook_client, body, sign_webhook(body, secret))
            assert (response.status_code, response.content) == (
                503,
                b"webhook secret not configured",
            )
        assert "W002" in caplog.text
        messages = [m.id for m in _check_messages()]
        assert "workos_pipes.W002" in messages


def _check_messages() -> list[Any]:
    from django.core.checks import run_checks

    return list(run_checks())


def test_no_w002_while_a_secret_is_configured() -> None:
    assert "workos_pipes.W002" not in [m.id for m in _check_messages()]


def test_custom_route_with_its_own_secrets_and_tolerance(
    webhook_client: Client, received: list[dict[str, Any]]
) -> None:
    with override_settings(ROOT_URLCONF=__name__):
        event = webhook_event("connected")
        response = post_webhook(webhook_client, event, secret=OTHER, path="/second-env/webhook/")
        assert response.status_code == 200
        body = body_of(webhook_event("connected"))
        send_forged(
            webhook_client, body, sign_webhook(body, WEBHOOK_SECRET), "/second-env/webhook/"
        )
        with time_machine.travel(FROZEN, tick=False):
            stale = signature_at(body, FROZEN_MS - 31_000, OTHER)
            send_forged(webhook_client, body, stale, "/second-env/webhook/")
        response = post_webhook(webhook_client, webhook_event("connected"), path="/custom/webhook/")
        assert response.status_code == 200
        for secret in (OLD, NEW):
            response = post_webhook(
                webhook_client,
                webhook_event("connected"),
                path="/one-string/webhook/",
                secret=secret,
            )
            assert response.status_code == 200
        send_forged(webhook_client, body, sign_webhook(body, OLD[:4]), "/one-string/webhook/")


# Invalidation through the real service.


@pytest.mark.parametrize("event_type", CHANGE_TYPES)
def test_each_pipes_event_invalidates_the_cached_token(
    webhook_client: Client, workos_issuing_tokens: responses.RequestsMock, event_type: str
) -> None:
    assert token("salesforce", "user_1") == "ya29.token-1"
    assert token("salesforce", "user_1") == "ya29.token-1"
    assert token("salesforce", "user_2") == "ya29.token-2"
    assert len(workos_issuing_tokens.calls) == 2

    event = webhook_event(event_type, "salesforce", "user_1")
    assert post_webhook(webhook_client, event).status_code == 200

    assert token("salesforce", "user_1") == "ya29.token-3"
    assert token("salesforce", "user_2") == "ya29.token-2"  # another user keeps hers
    assert len(workos_issuing_tokens.calls) == 3


def test_an_event_names_the_organization_of_the_connection(
    webhook_client: Client, workos_issuing_tokens: responses.RequestsMock
) -> None:
    assert token("hubspot", "user_1", "org_a") == "ya29.token-1"
    assert token("hubspot", "user_1", "org_b") == "ya29.token-2"
    event = webhook_event("disconnected", "hubspot", "user_1", "org_a")
    assert post_webhook(webhook_client, event).status_code == 200
    assert token("hubspot", "user_1", "org_a") == "ya29.token-3"
    assert token("hubspot", "user_1", "org_b") == "ya29.token-2"


@pytest.mark.parametrize("event_type", CHANGE_TYPES)
def test_organization_owned_connection_event_invalidates_the_whole_organization(
    webhook_client: Client,
    workos_issuing_tokens: responses.RequestsMock,
    changed: list[dict[str, Any]],
    event_type: str,
) -> None:
    assert token("slack", "user_1", "org_a") == "ya29.token-1"
    assert token("slack", "user_2", "org_a") == "ya29.token-2"
    assert token("slack", "user_3", "org_b") == "ya29.token-3"
    assert token("github", "user_1", "org_a") == "ya29.token-4"

    event = webhook_event(event_type, "slack", None, "org_a")
    assert post_webhook(webhook_client, event).status_code == 200

    assert token("slack", "user_1", "org_a") == "ya29.token-5"
    assert token("slack", "user_2", "org_a") == "ya29.token-6"
    assert token("slack", "user_3", "org_b") == "ya29.token-3"
    assert token("github", "user_1", "org_a") == "ya29.token-4"
    assert [(c["provider"], c["user_id"], c["organization_id"]) for c in changed] == [
        ("slack", None, "org_a")
    ]


def test_other_event_types_are_acknowledged_and_change_nothing(
    webhook_client: Client,
    workos_issuing_tokens: responses.RequestsMock,
    received: list[dict[str, Any]],
    changed: list[dict[str, Any]],
) -> None:
    token("salesforce", "user_1")
    for event_type in ("user.created", "dsync.user.deleted", "connection.activated"):
        event = webhook_event(event_type, id="user_1", provider_slug="salesforce")
        assert post_webhook(webhook_client, event).status_code == 200
    assert token("salesforce", "user_1") == "ya29.token-1"
    assert len(workos_issuing_tokens.calls) == 1
    assert len(received) == 3 and changed == []


@pytest.mark.parametrize(
    "data",
    [
        {"provider_slug": None},
        {"provider_slug": ""},
        {"provider_slug": 7},
        {"provider_slug": "salesforce", "user_id": 12},
        {"provider_slug": "salesforce", "organization_id": ["org"]},
    ],
)
def test_pipes_event_without_usable_data_is_acknowledged_and_logged(
    webhook_client: Client,
    received: list[dict[str, Any]],
    changed: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    data: dict[str, Any],
) -> None:
    event = webhook_event("disconnected", "salesforce", "user_1")
    event["data"].update(data)
    with caplog.at_level(logging.WARNING, logger="django_workos_pipes"):
        assert post_webhook(webhook_client, event).status_code == 200
    assert "nothing invalidated" in caplog.text
    assert len(received) == 1 and changed == []


def test_missing_provider_slug_key_is_acknowledged(
    webhook_client: Client, changed: list[dict[str, Any]]
) -> None:
    event = webhook_event("connected")
    del event["data"]["provider_slug"]
    assert post_webhook(webhook_client, event).status_code == 200
    assert changed == []


# Idempotency.


def test_a_second_delivery_of_the_same_id_is_not_handled_again(
    webhook_client: Client,
    workos_issuing_tokens: responses.RequestsMock,
    received: list[dict[str, Any]],
    changed: list[dict[str, Any]],
    cache_backend: str,
) -> None:
    token("salesforce", "user_1")
    event = webhook_event("disconnected", "salesforce", "user_1")
    assert post_webhook(webhook_client, event).content == b"ok"
    assert token("salesforce", "user_1") == "ya29.token-2"

    body = body_of(event)
    response = send_replay(webhook_client, body, sign_webhook(body, WEBHOOK_SECRET), received)
    assert (response.status_code, response.content) == (200, b"already handled")
    assert token("salesforce", "user_1") == "ya29.token-2"
    assert len(workos_issuing_tokens.calls) == 2
    assert len(received) == 1 and len(changed) == 1


def test_the_handled_marker_lasts_seven_days_and_is_a_digest_key(webhook_client: Client) -> None:
    event = webhook_event("connected", event_id="event_01 with spaces\nand more " + "x" * 300)
    with time_machine.travel(FROZEN, tick=False):
        assert post_webhook(webhook_client, event).status_code == 200
    key = EventLedger.key(event["id"])
    assert len(key) < 100 and " " not in key
    with time_machine.travel(FROZEN + timedelta(days=6, hours=23), tick=False):
        assert caches["default"].get(key) == HANDLED
        assert post_webhook(webhook_client, event).content == b"already handled"
    with time_machine.travel(FROZEN + timedelta(days=7, seconds=1), tick=False):
        assert caches["default"].get(key) is None


def test_a_delivery_in_progress_makes_a_concurrent_one_retry_later(
    webhook_client: Client, received: list[dict[str, Any]]
) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow(**kwargs: Any) -> None:
        entered.set()
        assert release.wait(5)

    event = webhook_event("connected")
    webhook_received.connect(slow, dispatch_uid="test-slow")
    try:
        results: list[Any] = []
        first = threading.Thread(target=lambda: results.append(post_webhook(Client(), event)))
        first.start()
        assert entered.wait(5)
        second = post_webhook(webhook_client, event)
        release.set()
        first.join(5)
    finally:
        webhook_received.disconnect(dispatch_uid="test-slow")
    assert (second.status_code, second.content) == (409, b"event is being handled; retry later")
    assert results[0].status_code == 200
    assert post_webhook(webhook_client, event).content == b"already handled"
    assert len(received) == 1


def test_a_stale_claim_of_a_crashed_process_expires(webhook_client: Client) -> None:
    event = webhook_event("connected")
    with time_machine.travel(FROZEN, tick=False):
        caches["default"].add(EventLedger.key(event["id"]), "processing", 60)
        assert post_webhook(webhook_client, event).status_code == 409
    with time_machine.travel(FROZEN + timedelta(seconds=61), tick=False):
        assert post_webhook(webhook_client, event).content == b"ok"


def test_with_the_cache_down_only_events_that_need_no_invalidation_are_acknowledged(
    webhook_client: Client,
    caplog: pytest.LogCaptureFixture,
    received: list[dict[str, Any]],
    changed: list[dict[str, Any]],
) -> None:
    with override_settings(CACHES={"default": DEAD_REDIS}):
        with caplog.at_level(logging.WARNING, logger="django_workos_pipes"):
            other = post_webhook(webhook_client, webhook_event("user.created"))
            pipes_event = post_webhook(
                webhook_client, webhook_event("disconnected", "salesforce", "user_1")
            )
    # Handled without the duplicate check: nothing needed the cache.
    assert other.status_code == 200 and len(received) == 1
    # The token could not be invalidated: not acknowledged, so WorkOS delivers it again.
    assert pipes_event.status_code == 503 and len(received) == 1 and not changed
    assert "Cache unavailable" in caplog.text
    assert "without a duplicate check" in caplog.text
    assert "answering 503 so WorkOS delivers it again" in caplog.text


# Signals.


def test_both_signals_fire_with_the_documented_kwargs(
    webhook_client: Client, received: list[dict[str, Any]], changed: list[dict[str, Any]]
) -> None:
    event = webhook_event("reauthorization_needed", "salesforce", "user_1", "org_1")
    body = body_of(event)
    assert send(webhook_client, body, sign_webhook(body, WEBHOOK_SECRET)).status_code == 200

    assert len(received) == 1
    assert received[0]["sender"] is WebhookView
    assert received[0]["event"] == event
    assert received[0]["payload"] == body
    assert isinstance(received[0]["payload"], bytes)
    assert received[0]["signal"] is webhook_received

    assert len(changed) == 1
    call = changed[0]
    assert call["sender"] is WebhookView
    assert (call["provider"], call["user_id"], call["organization_id"]) == (
        "salesforce",
        "user_1",
        "org_1",
    )
    assert call["event_type"] == "pipes.connected_account.reauthorization_needed"
    assert call["event"] == event


def test_connection_changed_is_sent_after_the_invalidation(
    webhook_client: Client, workos_issuing_tokens: responses.RequestsMock
) -> None:
    token("salesforce", "user_1")
    seen: list[str] = []

    def receiver(**kwargs: Any) -> None:
        seen.append(token(kwargs["provider"], kwargs["user_id"]))

    connection_changed.connect(receiver, dispatch_uid="test-after")
    try:
        post_webhook(webhook_client, webhook_event("connected", "salesforce", "user_1"))
    finally:
        connection_changed.disconnect(dispatch_uid="test-after")
    assert seen == ["ya29.token-2"]


@pytest.mark.parametrize("signal", [webhook_received, connection_changed])
def test_a_raising_receiver_gives_500_and_the_retry_is_handled(
    webhook_client: Client,
    workos_issuing_tokens: responses.RequestsMock,
    received: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
    signal: Any,
) -> None:
    failures = iter([RuntimeError("receiver broke with whsec_in_message")])

    def flaky(**kwargs: Any) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure

    token("salesforce", "user_1")
    event = webhook_event("disconnected", "salesforce", "user_1")
    signal.connect(flaky, dispatch_uid="test-flaky")
    try:
        with caplog.at_level(logging.WARNING, logger="django_workos_pipes"):
            assert post_webhook(webhook_client, event).status_code == 500
        assert "failed (RuntimeError); answering 500" in caplog.text
        assert token("salesforce", "user_1") == "ya29.token-2"  # invalidated all the same
        assert caches["default"].get(EventLedger.key(event["id"])) is None  # not marked

        assert post_webhook(webhook_client, event).content == b"ok"  # WorkOS's retry
        assert post_webhook(webhook_client, event).content == b"already handled"
    finally:
        signal.disconnect(dispatch_uid="test-flaky")
    assert len(received) == 2  # the failed delivery and its retry


def test_a_raising_receiver_propagates_like_any_view_error() -> None:
    def broken(**kwargs: Any) -> None:
        raise ValueError("boom")

    webhook_received.connect(broken, dispatch_uid="test-broken")
    try:
        with pytest.raises(ValueError, match="boom"):
            post_webhook(Client(), webhook_event("connected"))
    finally:
        webhook_received.disconnect(dispatch_uid="test-broken")


# Fuzzing: nothing a sender sends makes a 5xx, and nothing unsigned is accepted.

FUZZ = hypothesis_settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hex_text = st.text(alphabet="0123456789abcdef", max_size=70)
header_like = st.builds(
    lambda t, digests: f"t={t}, " + ", ".join(f"v1={d}" for d in digests),
    st.one_of(st.integers(-(10**20), 10**20), st.text(max_size=20)),
    st.lists(hex_text, max_size=3),
)
headers = st.one_of(st.none(), st.text(max_size=200), header_like)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
envelopes = st.fixed_dictionaries(
    {
        "object": st.sampled_from(["event", "event", "user"]),
        "id": st.one_of(st.text(max_size=30), st.integers()),
        "event": st.sampled_from([*PIPES_TYPES, "user.created"]) | st.text(max_size=30),
        "data": st.one_of(
            json_values,
            st.fixed_dictionaries(
                {},
                optional={
                    "provider_slug": json_values,
                    "user_id": json_values,
                    "organization_id": json_values,
                },
            ),
        ),
    }
)
bodies = st.one_of(
    st.binary(max_size=500),
    json_values.map(lambda v: json.dumps(v).encode()),
    envelopes.map(lambda v: json.dumps(v).encode()),
)


@FUZZ
@given(header=headers, body=bodies)
def test_fuzzed_unsigned_requests_are_refused_never_5xx(header: str | None, body: bytes) -> None:
    send_forged(Client(), body, header)


@FUZZ
@given(body=bodies)
def test_fuzzed_signed_bodies_never_5xx(body: bytes) -> None:
    response = send(Client(), body, sign_webhook(body, WEBHOOK_SECRET))
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert response.content.startswith((b"body", b"event"))


@FUZZ
@given(
    event=envelopes.filter(lambda e: e["object"] == "event"),
    where=st.sampled_from(["timestamp", "digest", "body"]),
    index=st.integers(min_value=0),
    replacement=st.characters(min_codepoint=33, max_codepoint=126),
)
def test_fuzzed_one_character_changes_to_a_valid_request_are_refused(
    event: dict[str, Any], where: str, index: int, replacement: str
) -> None:
    body = body_of(event)
    stamp = str(int(datetime.now(timezone.utc).timestamp() * 1000))
    digest = compute_digest(stamp, body, WEBHOOK_SECRET)
    if where == "timestamp":
        stamp = _replace(stamp, index, replacement)
    elif where == "digest":
        digest = _replace(digest, index, replacement)
    else:
        position = index % len(body)
        body = body[:position] + bytes([body[position] ^ 1]) + body[position + 1 :]
    send_forged(Client(), body, f"t={stamp}, v1={digest}")


def _replace(text: str, index: int, replacement: str) -> str:
    position = index % len(text)
    if text[position] == replacement:
        replacement = "z" if replacement != "z" else "y"
    return text[:position] + replacement + text[position + 1 :]
