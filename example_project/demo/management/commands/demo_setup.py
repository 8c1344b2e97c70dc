"""``manage.py demo_setup``: migrate, then create the demo users unless they exist.

``run.py`` calls it on every start, so a fresh checkout needs nothing else; it changes
nothing on later runs, not even a password someone changed.

Three users: ``demo`` (their own connections), and Acme's administrator and member,
who share Acme's Salesforce connection.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from ... import accounts

USERS: tuple[dict[str, Any], ...] = (
    {
        "username": accounts.USERNAME,
        "first_name": "Demo",
        "workos_user_id": accounts.WORKOS_USER_ID,
    },
    {
        "username": accounts.ADMIN_USERNAME,
        "first_name": "Ada",
        "workos_user_id": accounts.ADMIN_WORKOS_USER_ID,
        "workos_organization_id": accounts.ORGANIZATION_ID,
        "organization_admin": True,
    },
    {
        "username": accounts.MEMBER_USERNAME,
        "first_name": "Max",
        "workos_user_id": accounts.MEMBER_WORKOS_USER_ID,
        "workos_organization_id": accounts.ORGANIZATION_ID,
    },
)


class Command(BaseCommand):
    help = "Migrate the database and create the demo users if they are missing."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=max(0, options["verbosity"] - 1))
        User = get_user_model()
        for fields in USERS:
            defaults = {name: value for name, value in fields.items() if name != "username"}
            user, created = User.objects.get_or_create(
                username=fields["username"], defaults=defaults
            )
            if created:
                user.set_password(accounts.PASSWORD)
                user.save(update_fields=["password"])
                self.stdout.write(f"Created the demo user {user.username!r}.")
            elif not user.workos_user_id:
                user.workos_user_id = fields["workos_user_id"]
                user.save(update_fields=["workos_user_id"])
