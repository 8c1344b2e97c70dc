"""``manage.py demo_setup``: migrate, then create the demo user unless it exists.

``run.py`` calls it on every start, so a fresh checkout needs nothing else; it changes
nothing on later runs, not even a password someone changed.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from ... import accounts


class Command(BaseCommand):
    help = "Migrate the database and create the demo user if it is missing."

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=max(0, options["verbosity"] - 1))
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=accounts.USERNAME,
            defaults={"workos_user_id": accounts.WORKOS_USER_ID, "first_name": "Demo"},
        )
        if created:
            user.set_password(accounts.PASSWORD)
            user.save(update_fields=["password"])
            self.stdout.write(f"Created the demo user {accounts.USERNAME!r}.")
        elif not user.workos_user_id:
            user.workos_user_id = accounts.WORKOS_USER_ID
            user.save(update_fields=["workos_user_id"])
