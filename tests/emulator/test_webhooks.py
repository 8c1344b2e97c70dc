"""The signed webhook each state change sends, delivered in order and retried, never
breaking the emulator (``emulator/webhooks.py``)."""

from __future__ import annotations

import pytest
import requests

from django_workos_pipes import signatures
from django_workos_pipes.emulator import (
    EVENT_CONNECTED,
    EVENT_DISCONNECTED,
    EVENT_REAUTHORIZATION_NEEDED,
    Emulator,
    UnknownConnection,
)
from django_workos_pipes.emulator import webhooks as emulator_webhooks
from tests.emulator.calls import (
    API_KEY,
    SECRET,
    token,
)
from tests.servers import LoopbackServer, Receiver, free_port


def test_each_state_change_sends_its_signed_webhook_in_order(
    emu: Emulator, receiver: Receiver
) -> None:
    connected = emu.connect("notion", "user_1", organization_id="org_9")
    emu.needs_reauthorization("notion", "user_1", "org_9")
    emu.needs_reauthorization("notion", "user_1", "org_9")  # no transition: no event
    emu.expire("notion", "user_1", "org_9")  # not a state change
    emu.disconnect("notion", "user_1", "org_9")

    events = receiver.events()  # the state methods return once delivered
    assert [event["event"] for event in events] == [
        EVENT_CONNECTED,
        EVENT_REAUTHORIZATION_NEEDED,
        EVENT_DISCONNECTED,
    ]
    assert [event["data"]["state"] for event in events] == [
        "connected",
        "needs_reauthorization",
        "disconnected",
    ]
    assert {event["data"]["id"] for event in events} == {connected.id}
    assert len({event["id"] for event in events}) == 3
    assert emu.events == events
    assert [delivery.delivered for delivery in emu.deliveries] == [True, True, True]


def test_state_methods_refuse_unknown_things(emu: Emulator) -> None:
    with pytest.raises(UnknownConnection):
        emu.needs_reauthorization("salesforce", "user_nobody")
    with pytest.raises(UnknownConnection):
        emu.disconnect("salesforce", "user_nobody")
    with pytest.raises(UnknownConnection):
        emu.expire("salesforce", "user_nobody")
    with pytest.raises(ValueError, match="unknown provider"):
        emu.connect("myspace", "user_1")
    with pytest.raises(ValueError, match="webhook_secret"):
        Emulator(webhook_url="http://127.0.0.1:9/hook")


def test_a_failing_receiver_gets_retries() -> None:
    flaky = Receiver(SECRET, fail_first=1)
    try:
        with Emulator(api_key=API_KEY, webhook_url=flaky.url, webhook_secret=SECRET) as emu:
            emu.connect("salesforce", "user_1")
            (delivery,) = emu.deliveries
            assert delivery.delivered
            assert delivery.attempts == 2
            assert [event["event"] for event in flaky.events()] == [EVENT_CONNECTED]
    finally:
        flaky.close()


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries 10 ms apart: these tests count attempts, not the pauses between them."""
    monkeypatch.setattr(emulator_webhooks, "BACKOFF", (0.01, 0.01))


@pytest.mark.usefixtures("quick_retries")
def test_an_unreachable_receiver_never_breaks_the_emulator(http: requests.Session) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"  # a port nobody listens on
    with Emulator(api_key=API_KEY, webhook_url=dead, webhook_secret=SECRET) as emu:
        emu.connect("salesforce", "user_1")
        (delivery,) = emu.deliveries
        assert not delivery.delivered
        assert delivery.attempts == 3
        assert delivery.error
        assert token(http, emu).json()["active"] is True


def test_webhooks_arrive_with_the_header_spelled_as_workos_does() -> None:
    with LoopbackServer(lambda request: (200, {}, b"")) as inbox:
        with Emulator(
            api_key=API_KEY, webhook_url=f"{inbox.url}/hook?x=1", webhook_secret=SECRET
        ) as emu:
            emu.connect("salesforce", "user_1")
        ((path, headers),) = [(r["path"], r["headers"]) for r in inbox.requests]
    assert path == "/hook?x=1"
    assert signatures.HEADER in headers  # "WorkOS-Signature", not "Workos-Signature"
    assert headers["Content-Type"] == "application/json"


@pytest.mark.usefixtures("quick_retries")
def test_a_redirect_is_a_failed_delivery_not_followed() -> None:
    answer = (302, {"Location": "/elsewhere"}, b"")
    with LoopbackServer(lambda request: answer) as inbox:
        with Emulator(
            api_key=API_KEY, webhook_url=f"{inbox.url}/hook", webhook_secret=SECRET
        ) as emu:
            emu.connect("salesforce", "user_1")
            (delivery,) = emu.deliveries
        assert [r["path"] for r in inbox.requests] == ["/hook"] * 3
    assert (delivery.status, delivery.delivered, delivery.error) == (302, False, "HTTP 302")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://127.0.0.1/hook", "http:///hook", "http://127.0.0.1:99999/"]
)
def test_a_webhook_url_must_be_http(url: str) -> None:
    with pytest.raises(ValueError, match="webhook URL"):
        Emulator(api_key=API_KEY, webhook_url=url, webhook_secret=SECRET)


def test_events_are_recorded_without_a_webhook_url(http: requests.Session) -> None:
    with Emulator(api_key=API_KEY) as emu:
        emu.connect("salesforce", "user_1")
        assert [event["event"] for event in emu.events] == [EVENT_CONNECTED]
        assert emu.deliveries == []
        assert emu.wait_for_webhooks(0.1)
