"""``manage.py workos_pipes_send_webhook`` against a loopback site that checks signatures."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from workos import WorkOSClient

from tests.servers import Answer, LoopbackServer, free_port
from tests.settings import WEBHOOK_SECRET


class VerifyingSite:
    """A site whose webhook checks the signature with the official SDK, then answers
    ``status``. One per module, reset for each test."""

    def __init__(self, sdk: WorkOSClient) -> None:
        self.sdk = sdk
        self.status = 200
        self.server = LoopbackServer(self.respond)
        self.url = self.server.url

    def respond(self, request: dict[str, Any]) -> Answer:
        self.sdk.webhooks.verify_header(
            event_body=request["body"],
            event_signature=request["headers"]["WorkOS-Signature"],
            secret=WEBHOOK_SECRET,
        )
        reason = b"ok" if self.status == 200 else b"signature does not match"
        return self.status, {"Content-Type": "text/plain"}, reason

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.server.requests


@pytest.fixture(scope="module")
def module_site(workos_sdk: WorkOSClient) -> Iterator[VerifyingSite]:
    site = VerifyingSite(workos_sdk)
    yield site
    site.server.close()


@pytest.fixture
def verifying_site(module_site: VerifyingSite) -> VerifyingSite:
    module_site.status = 200
    module_site.requests.clear()
    return module_site


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("workos_pipes_send_webhook", *args, stdout=out)
    return out.getvalue()


def test_posts_a_signed_pipes_event_and_prints_the_answer(verifying_site: VerifyingSite) -> None:
    output = run(
        "--event=reauthorization_needed",
        "--provider=hubspot",
        "--user=user_1",
        "--organization=org_1",
        "--id=event_fixed",
        f"--url={verifying_site.url}/hook/",
    )
    request = verifying_site.requests[0]
    event = json.loads(request["body"])
    assert request["path"] == "/hook/"
    assert request["headers"]["Content-Type"] == "application/json"
    assert event["id"] == "event_fixed"
    assert event["event"] == "pipes.connected_account.reauthorization_needed"
    assert (event["data"]["provider_slug"], event["data"]["user_id"]) == ("hubspot", "user_1")
    assert event["data"]["organization_id"] == "org_1"
    assert "event_fixed" in output and ": 200 ok" in output


def test_the_url_defaults_to_the_routed_webhook_under_base_url(
    verifying_site: VerifyingSite,
) -> None:
    run("--provider=slack", "--organization=org_1", f"--base-url={verifying_site.url}/")
    request = verifying_site.requests[0]
    assert request["path"] == "/pipes/webhook/"
    event = json.loads(request["body"])
    assert event["event"] == "pipes.connected_account.connected"
    assert event["data"]["user_id"] is None


def test_full_event_types_are_accepted(verifying_site: VerifyingSite) -> None:
    run(
        "--event=pipes.connected_account.connection_failed",
        "--provider=slack",
        "--user=user_1",
        f"--url={verifying_site.url}/",
    )
    assert json.loads(verifying_site.requests[0]["body"])["data"]["object"] == "connection_failed"


def test_a_refusal_is_a_command_error_with_the_status(verifying_site: VerifyingSite) -> None:
    verifying_site.status = 400
    with pytest.raises(CommandError, match="400 signature does not match"):
        run("--provider=slack", "--user=user_1", f"--url={verifying_site.url}/")


def test_an_unreachable_site_is_a_command_error() -> None:
    port = free_port()
    with pytest.raises(CommandError, match="failed: ConnectionError"):
        run("--provider=slack", "--user=u", f"--url=http://127.0.0.1:{port}/", "--timeout=2")


def test_needs_a_user_or_an_organization() -> None:
    with pytest.raises(CommandError, match="--user, --organization"):
        run("--provider=slack", "--url=http://127.0.0.1:9/")


def test_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKOS_WEBHOOK_SECRET", raising=False)
    with override_settings(WORKOS_PIPES={}), pytest.raises(CommandError, match="--secret"):
        run("--provider=slack", "--user=u", "--url=http://127.0.0.1:9/")


def test_an_unknown_event_is_refused_by_the_parser() -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        run("--event=exploded", "--provider=slack", "--user=u")
