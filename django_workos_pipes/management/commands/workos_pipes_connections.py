"""``manage.py workos_pipes_connections``: a user's connections, for support staff.

Answers "is Ann's HubSpot connected?" without the WorkOS dashboard::

    manage.py workos_pipes_connections --user user_01H... [--organization org_01H...] [--json]
    manage.py workos_pipes_connections --organization org_01H... --shared [--json]

``--shared`` lists the organization's own connections, which its members share.

It asks through the service, like every page does (and so through its cache, which
every change to the user's connections invalidates).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ... import service
from ...exceptions import PipesAPIError, PipesUnavailable
from ...results import Connection

COLUMNS = ("PROVIDER", "STATE", "ACCOUNT", "SCOPES", "UPDATED")


class Command(BaseCommand):
    help = (
        "List a WorkOS user's connections: every provider configured in WorkOS, the "
        "state of the user's account with it, the account, its scopes and when it last "
        "changed. Nothing secret is shown."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="WorkOS user id (user_01H...).")
        parser.add_argument("--organization", help="WorkOS organization id, if any.")
        parser.add_argument(
            "--shared",
            action="store_true",
            help="List the organization's own connections, shared by its members.",
        )
        parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")

    def handle(self, *args: Any, **options: Any) -> None:
        user_id, organization_id = options["user"] or None, options["organization"] or None
        if options["shared"] and not organization_id:
            raise CommandError("--shared needs --organization.")
        if not options["shared"] and not user_id:
            raise CommandError("Give --user (or --organization with --shared).")
        try:
            connections = (
                service.pipes.list_organization_connections(organization_id)
                if options["shared"] and organization_id
                else service.pipes.list_connections(user_id or "", organization_id=organization_id)
            )
        except (PipesUnavailable, PipesAPIError) as exc:
            raise CommandError(f"WorkOS did not list the connections: {exc}") from None
        if options["json"]:
            body = {
                "user_id": None if options["shared"] else user_id,
                "organization_id": organization_id,
                "connections": [connection.as_json() for connection in connections],
            }
            self.stdout.write(json.dumps(body, indent=2))
        elif not connections:
            self.stdout.write("No provider is configured in WorkOS.")
        else:
            self.stdout.write(table([COLUMNS, *(row(c) for c in connections)]))


def row(connection: Connection) -> tuple[str, ...]:
    account = connection.account
    if account is None:
        return (connection.provider, "not connected", "-", "-", "-")
    updated = account.updated_at.strftime("%Y-%m-%d %H:%M UTC") if account.updated_at else "-"
    return (
        connection.provider,
        account.state,
        account.label or account.id,
        ", ".join(account.scopes) or "-",
        updated,
    )


def table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart; the last one unpadded."""
    widths = [max(len(cells[i]) for cells in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for cells in rows:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
        lines.append("  ".join([*padded, cells[-1]]).rstrip())
    return "\n".join(lines)
