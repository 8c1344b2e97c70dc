"""Secrets: the API key, the webhook secret and the access tokens show nowhere.

Every test of the fault suite (``test_faults_*``, ``test_soak``) runs under the leak
guard of :mod:`tests.system.faultkit`: every log record of the test process at DEBUG, every
response body and every server process's log is searched for the API key, the webhook
secret and every token the emulator handed out. This module proves the guard finds a
secret wherever it shows, and checks the places a secret could still show that the
fault suite does not reach: Django's error pages and error e-mails, which print the
local variables of each frame of a traceback.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings

from django_workos_pipes.masking import mask
from django_workos_pipes.owners import ConnectionRef
from django_workos_pipes.workos.client import PipesClient
from tests.builders import expiring_in, token_answer
from tests.servers import LoopbackServer, json_answer
from tests.system.faultkit import (
    API_KEY,
    WEBHOOK_SECRET,
    LeakGuard,
    RecordingEmulator,
)
from tests.system.faultsite import pipes_settings
from tests.system.faultsite.views import fingerprint

PLACES = ["message", "arguments", "traceback", "extra", "body", "server log"]


def leak(guard: LeakGuard, place: str, secret: str) -> None:
    logger = logging.getLogger("django_workos_pipes")
    if place == "message":
        logger.debug("the key is " + secret)
    elif place == "arguments":
        logger.debug("value: %r", {"nested": [secret]})
    elif place == "traceback":
        try:
            raise RuntimeError(secret)
        except RuntimeError:
            logger.exception("failed")
    elif place == "extra":
        logger.info("request", extra={"headers": {"Authorization": f"Bearer {secret}"}})
    elif place == "body":
        guard.body(f"<p>{secret}</p>".encode())
    else:
        guard.server_log("a server", f"INFO x {secret}\n")


@pytest.mark.parametrize("place", PLACES)
def test_the_guard_finds_a_secret_wherever_it_shows(place: str) -> None:
    guard = LeakGuard()
    guard.watch("API key", API_KEY)
    guard.watch("webhook secret", WEBHOOK_SECRET)
    with guard.capturing():
        leak(guard, place, WEBHOOK_SECRET)
    where = {"body": "response bodies", "server log": "log of a server"}.get(place, "log records")
    assert guard.leaks() == [f"webhook secret in {where}"]
    with pytest.raises(AssertionError, match="webhook secret"):
        guard.assert_clean()


def test_masked_forms_are_not_leaks() -> None:
    guard = LeakGuard()
    guard.watch("API key", API_KEY)
    with guard.capturing():
        logging.getLogger("django_workos_pipes").warning("key %s", mask(API_KEY))
        guard.body(mask(API_KEY))
    assert any(mask(API_KEY) in record for record in guard.records)
    guard.assert_clean()


def test_the_guard_watches_every_token_the_emulator_hands_out() -> None:
    guard = LeakGuard()
    with RecordingEmulator(api_key=API_KEY) as emulator:
        guard.watch_emulator(emulator)
        client = PipesClient(api_key=API_KEY, base_url=emulator.url, max_retries=0)
        first = emulator.connect("salesforce", "user_a").access_token
        emulator.expire("salesforce", "user_a")
        rotated = client.get_access_token(
            ConnectionRef("salesforce", user_id="user_a")
        ).access_token
        assert rotated is not None and rotated.access_token != first
        assert guard.tokens() == {first, rotated.access_token}
        assert emulator.tokens_of("salesforce", "user_a") == {first, rotated.access_token}
        guard.body(rotated.access_token)
    assert len(guard.secrets()) == 2, "two tokens of the same prefix, both watched"
    assert guard.leaks() == [
        f"access token {mask(rotated.access_token)} ({fingerprint(rotated.access_token)[:8]})"
        " in response bodies"
    ]


def test_the_guard_captures_the_request_log_and_the_emulator_log(
    leak_guard: LeakGuard,
) -> None:
    with RecordingEmulator(api_key=API_KEY, verbose=True) as emulator:
        leak_guard.watch_emulator(emulator)
        emulator.inject_fault("status", status=503)
        settings = pipes_settings(base_url=emulator.url, api_key=API_KEY, max_retries=0)
        with override_settings(ROOT_URLCONF="tests.system.faultsite.urls", WORKOS_PIPES=settings):
            response = Client().get("/salesforce/", {"user": "user_a"})
    leak_guard.body(response.content)
    assert response.status_code == 503
    text = "\n".join(leak_guard.records)
    assert "django.request Service Unavailable: /salesforce/" in text
    assert "django_workos_pipes.emulator" in text
    assert "urllib3.connectionpool" in text


# Django's error pages and e-mails print each frame's local variables.


def error_page(guard: LeakGuard, url: str, path: str, *, debug: bool) -> int:
    settings = pipes_settings(base_url=url, api_key=API_KEY, max_retries=0)
    with override_settings(
        DEBUG=debug, ROOT_URLCONF="tests.system.faultsite.urls", WORKOS_PIPES=settings
    ):
        response = Client(raise_request_exception=False).get(path, {"user": "user_a"})
    guard.body(response.content)
    return response.status_code


def feed_mail(guard: LeakGuard, outbox: list[Any]) -> None:
    for message in outbox:
        guard.body(message.body)
        for content, _ in getattr(message, "alternatives", []):
            guard.body(content)


@pytest.mark.parametrize("debug", [True, False], ids=["debug-page", "error-mail"])
def test_a_refused_api_key_shows_it_on_no_error_page(
    debug: bool,
    error_mail: list[Any],
    leak_guard: LeakGuard,
) -> None:
    """WorkOS answers 401 (the key was revoked): whatever page or mail the error makes,
    the key is not in it, although a frame of the traceback sent it."""
    with RecordingEmulator(api_key="sk_test_the_one_workos_expects") as emulator:
        leak_guard.watch_emulator(emulator)
        emulator.connect("salesforce", "user_a")
        status = error_page(leak_guard, emulator.url, "/direct/salesforce/", debug=debug)
    assert status == 500
    feed_mail(leak_guard, error_mail)
    assert debug or error_mail, "an error e-mail was sent"
    assert any("in _request" in body for body in leak_guard.bodies), "the client's frames show"
    leak_guard.assert_clean()


@pytest.mark.parametrize("debug", [True, False], ids=["debug-page", "error-mail"])
def test_a_malformed_token_answer_shows_the_token_on_no_error_page(
    debug: bool,
    error_mail: list[Any],
    leak_guard: LeakGuard,
) -> None:
    """A token answer WorkOS got wrong (a bad ``expires_at``) raises in a frame that
    holds the parsed body; the token in it stays out of the page and the mail."""
    token = "ya29.malformed-answer-" + "x" * 24
    leak_guard.watch("token in a malformed answer", token)
    answer = token_answer(token, expires_at=expiring_in(timedelta(hours=1)))
    answer["access_token"]["expires_at"] = "not a date " + answer["access_token"]["expires_at"]
    with LoopbackServer(lambda request: json_answer(answer)) as workos:
        status = error_page(leak_guard, workos.url, "/direct/salesforce/", debug=debug)
    assert status == 500
    feed_mail(leak_guard, error_mail)
    assert debug or error_mail, "an error e-mail was sent"
    assert any("in get_access_token" in body for body in leak_guard.bodies)
    leak_guard.assert_clean()
