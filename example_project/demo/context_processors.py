from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from . import accounts


def demo(request: HttpRequest) -> dict[str, Any]:
    """What every page shows: the emulator's control page, the demo login, and the name
    of the demo organization."""
    emulator_url = settings.EMULATOR_URL.rstrip("/")
    return {
        "emulator_control_url": f"{emulator_url}/_emulator/" if emulator_url else "",
        "demo_username": accounts.USERNAME,
        "demo_password": accounts.PASSWORD,
        "organization_name": accounts.ORGANIZATION_NAME,
    }
