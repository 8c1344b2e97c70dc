"""How long a cached answer is served before it is fetched again, on a frozen clock.

The token and credential tests share these lifetimes: what WorkOS says of the expiry,
the setting that bounds it, and how long the first answer must be served.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

import time_machine
from django.test import override_settings

from tests.settings import API_KEY

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=timezone.utc)


class Lifetime(NamedTuple):
    expires_in: timedelta | None  # what WorkOS answers; None: it never expires
    settings: dict[str, Any]
    kept: timedelta  # the first answer is served this long, and refetched 2 s later

    def check(self, read: Callable[[], str], values: tuple[str, str]) -> None:
        """On a clock frozen at NOW: ``read()`` gives the first value, the same one
        ``kept`` later, and the second 2 s after that."""
        first, second = values
        with override_settings(WORKOS_PIPES={"API_KEY": API_KEY, **self.settings}):
            with time_machine.travel(NOW, tick=False) as traveller:
                assert read() == first
                traveller.shift(self.kept)
                assert read() == first
                traveller.shift(timedelta(seconds=2))
                assert read() == second


LIFETIMES = {
    "without-expiry-lives-for-token-ttl": Lifetime(
        None, {"TOKEN_TTL": 300}, timedelta(seconds=299)
    ),
    # 9:01 in: inside the 60 s leeway.
    "refetched-within-leeway-of-expiry": Lifetime(
        timedelta(minutes=10), {"EXPIRY_LEEWAY": 60}, timedelta(minutes=8, seconds=59)
    ),
}


def check_refusal_kept_for_inactive_ttl(
    read_error: Callable[[], str | None], calls: Callable[[], int]
) -> None:
    """With ``INACTIVE_TTL`` 10 s on a clock frozen at NOW: ``not_installed`` is asked
    for once and served from the cache, then asked for again 11 s later."""
    with override_settings(WORKOS_PIPES={"API_KEY": API_KEY, "INACTIVE_TTL": 10}):
        with time_machine.travel(NOW, tick=False) as traveller:
            for _ in range(5):
                assert read_error() == "not_installed"
            assert calls() == 1
            traveller.shift(timedelta(seconds=11))
            assert read_error() == "not_installed"
    assert calls() == 2
