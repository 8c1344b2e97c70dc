"""``manage.py workos_pipes_connections``: the table and the JSON support staff read."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import responses
from django.core.management import CommandError, call_command

from tests import builders, stubs


def run_command(*args: str) -> str:
    out = StringIO()
    call_command("workos_pipes_connections", *args, stdout=out)
    return out.getvalue()


def test_command_prints_a_table(workos_stub: responses.RequestsMock) -> None:
    stubs.stub_listing(workos_stub, organization_id="org_acme")

    lines = run_command("--user", "user_ann", "--organization", "org_acme").splitlines()

    assert lines[0].split() == ["PROVIDER", "STATE", "ACCOUNT", "SCOPES", "UPDATED"]
    assert lines[1].split("  ")[0] == "salesforce"
    assert "connected" in lines[1] and "Acme Sales" in lines[1]
    assert "api, refresh_token" in lines[1] and "2030-02-03 04:05 UTC" in lines[1]
    assert "needs_reauthorization" in lines[2] and "portal-4242" in lines[2]
    assert lines[3].split() == ["slack", "not", "connected", "-", "-", "-"]
    columns = {line.index(line.split()[1]) for line in lines[1:]}
    assert len(columns) == 1, "the STATE column is aligned"


def test_command_prints_json(workos_stub: responses.RequestsMock) -> None:
    stubs.stub_listing(workos_stub)
    body = json.loads(run_command("--user", "user_ann", "--json"))
    assert body["user_id"] == "user_ann" and body["organization_id"] is None
    assert [c["state"] for c in body["connections"]] == ["connected", "needs_reauthorization", None]


def test_command_with_no_provider(workos_stub: responses.RequestsMock) -> None:
    stubs.stub_listing(workos_stub, builders.listing())
    assert run_command("--user", "user_ann") == "No provider is configured in WorkOS.\n"


def test_command_when_workos_is_down(workos_stub: responses.RequestsMock) -> None:
    stubs.stub_listing(workos_stub, {}, status=503)
    with pytest.raises(CommandError, match="WorkOS did not list the connections"):
        run_command("--user", "user_ann")


def test_command_needs_a_user() -> None:
    with pytest.raises(CommandError, match="--user"):
        run_command()
