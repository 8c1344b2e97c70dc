"""pytest plugin registered through the ``pytest11`` entry point: the ``pipes_fake`` fixture.

It must import nothing that reads Django settings: pytest loads it in every project
where the package is installed, before Django is configured (and in projects that
don't use Django at all), so everything Django is imported inside the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .fakes import PipesFake


@pytest.fixture
def pipes_fake() -> Iterator[PipesFake]:
    """WorkOS Pipes answered from connections the test declares; no HTTP, no emulator.

    Declare with ``pipes_fake.connect("salesforce", user_id=..., scopes=[...])``,
    ``.needs_reauthorization(...)``, ``.not_installed(...)``, ``.inactive(..., error=)``
    or ``.unavailable(...)``; anything undeclared is ``not_installed``. Assert on
    ``pipes_fake.calls``. The app's default service asks the fake for the test's
    duration; its cache stays real, and is cleaned afterwards.
    """
    from django.conf import settings

    if not settings.configured:
        pytest.fail(
            "pipes_fake needs Django settings: set DJANGO_SETTINGS_MODULE (with "
            "pytest-django, the django_settings_module ini option or --ds).",
            pytrace=False,
        )
    from .fakes import PipesFake

    with PipesFake().installed() as fake:
        yield fake
