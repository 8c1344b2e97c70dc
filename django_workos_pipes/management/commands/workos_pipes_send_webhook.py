"""``manage.py workos_pipes_send_webhook``: post a signed pipes event to a running site.

Lets a developer watch invalidation work without WorkOS::

    manage.py workos_pipes_send_webhook --event disconnected --provider salesforce \\
        --user user_01H... --base-url http://127.0.0.1:8000 [--family account_connection]
"""

from __future__ import annotations

import json
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import NoReverseMatch, reverse

from ... import wire
from ...conf import app_settings
from ...signatures import HEADER, sign

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = (
        "Post a signed WorkOS pipes event to a running site's webhook endpoint and print "
        "the answer, to see cached tokens being invalidated without WorkOS."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        names = wire.ACCOUNT_CONNECTION_EVENTS
        choices = sorted([*names, *wire.PIPES_EVENT_TYPES])
        parser.add_argument(
            "--event",
            default="connected",
            choices=choices,
            metavar="TYPE",
            help=f"{', '.join(names)} or a full type of either family (default: connected).",
        )
        parser.add_argument(
            "--family",
            choices=sorted(wire.EVENT_FAMILIES),
            help="The family of a short --event name (default: connected_account, but "
            "account_connection for add_failed, which only it has).",
        )
        parser.add_argument("--provider", required=True, help="Provider slug, e.g. salesforce.")
        parser.add_argument("--user", help="WorkOS user id; leave out for an org-owned connection.")
        parser.add_argument("--organization", help="WorkOS organization id.")
        parser.add_argument("--id", dest="event_id", help="Event id (resend one to test dedup).")
        target = parser.add_mutually_exclusive_group()
        target.add_argument("--url", help="Full webhook URL.")
        target.add_argument(
            "--base-url",
            default=DEFAULT_BASE_URL,
            help="Site root; the path is reverse('workos_pipes:webhook') "
            f"(default: {DEFAULT_BASE_URL}).",
        )
        parser.add_argument(
            "--secret", help="Signing secret (default: the first configured webhook secret)."
        )
        parser.add_argument(
            "--timeout", type=float, default=10.0, help="Seconds to wait (default: 10)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["user"] and not options["organization"]:
            raise CommandError("Give --user, --organization, or both.")
        secret = options["secret"] or next(iter(app_settings.WEBHOOK_SECRETS), None)
        if not secret:
            raise CommandError(
                "No webhook secret: pass --secret or set WORKOS_PIPES['WEBHOOK_SECRET']."
            )
        url = options["url"] or self.default_url(options["base_url"])
        try:
            event = wire.pipes_event(
                options["event"],
                options["provider"],
                options["user"],
                options["organization"],
                event_id=options["event_id"],
                family=options["family"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        body = json.dumps(event).encode()
        headers = {HEADER: sign(body, secret), "Content-Type": "application/json"}
        try:
            response = requests.post(url, data=body, headers=headers, timeout=options["timeout"])
        except requests.RequestException as exc:
            raise CommandError(f"POST {url} failed: {type(exc).__name__}: {exc}") from None
        reason = response.text.strip()[:200]
        summary = f"{event['event']} {event['id']} -> {url}: {response.status_code} {reason}"
        if not response.ok:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))

    @staticmethod
    def default_url(base_url: str) -> str:
        try:
            path = reverse("workos_pipes:webhook")
        except NoReverseMatch:
            raise CommandError("The URL conf has no 'workos_pipes:webhook'; pass --url.") from None
        return base_url.rstrip("/") + path
