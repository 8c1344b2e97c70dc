"""``manage.py workos_pipes_generate_key``: print a fresh key for ``ENCRYPTION_KEYS``.

The key alone goes to standard output, so it can be captured::

    PIPES_KEY_NEW=$(python manage.py workos_pipes_generate_key)
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ...caching.crypto import generate_key


class Command(BaseCommand):
    help = (
        "Print a fresh key for WORKOS_PIPES['ENCRYPTION_KEYS'] (32 random bytes, URL-safe "
        "base64). List it first to encrypt with it; keep the old keys after it until the "
        "entries they encrypted have expired."
    )
    requires_system_checks: list[str] = []  # a key is needed to fix what the checks report

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(generate_key())
