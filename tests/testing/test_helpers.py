"""``django_workos_pipes.testing``'s helpers for users' tests: events shaped like WorkOS's,
and posting them signed."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from django_workos_pipes.testing import post_webhook, webhook_event


def test_webhook_event_shapes() -> None:
    connected = webhook_event("connected", "hubspot", "user_1", "org_1", scopes=["crm"])
    assert connected["object"] == "event" and connected["id"].startswith("event_")
    assert connected["event"] == "pipes.connected_account.connected"
    data = connected["data"]
    assert data["object"] == "connected_account" and data["id"].startswith("ca_")
    assert (data["provider_slug"], data["user_id"], data["organization_id"]) == (
        "hubspot",
        "user_1",
        "org_1",
    )
    assert data["scopes"] == ["crm"] and data["state"] == "connected"
    failed = webhook_event("connection_failed", "slack", None, "org_1")["data"]
    assert failed["object"] == "connection_failed" and failed["user_id"] is None
    assert {"error_code", "error_reason", "provider_error"} <= set(failed)
    assert webhook_event("reauthorization_needed")["data"]["state"] == "needs_reauthorization"
    assert webhook_event("user.created", id="user_1")["data"] == {"id": "user_1"}
    ids = {webhook_event("connected")["id"] for _ in range(100)}
    assert len(ids) == 100


def test_post_webhook_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORKOS_WEBHOOK_SECRET", raising=False)
    with override_settings(WORKOS_PIPES={}), pytest.raises(ValueError, match="secret"):
        post_webhook(Client(), webhook_event("connected"))
