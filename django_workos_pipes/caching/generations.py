"""Generations: invalidation that no clock can beat.

Each connection (provider, user, organization) and each organization has a generation
in the cache: a random 62-bit number. An entry records the two generations it was
fetched under, read *before* the fetch; an invalidation replaces a generation with a new
random number. A read fetches the entry and both generations in one ``get_many`` and
serves the entry only while both still hold what it recorded. No timestamp is compared,
so the hosts' clocks play no part: a token fetched before an invalidation can't match
the generation written by it, whichever host is ahead.

Why a random value written with ``set`` rather than a counter bumped with ``incr``:
``set`` is one round trip and means the same on every backend, while ``incr`` raises
ValueError for a missing key, costs two round trips on Django's ``RedisCache`` (EXISTS,
then INCRBY) and can recreate an expired key with no expiry there. All an entry needs
is "the generation changed since I read it", and a fresh random value says that with a
chance of 2**-62 of a repeat. For the same reason an evicted or expired generation is
harmless: an entry whose generation is missing is not served, and the next fetch writes
a new one (with ``add``, so two fetchers don't overwrite each other's).
"""

from __future__ import annotations

import secrets
from typing import Any

GENERATION_TTL = 7 * 86400
"""How long a generation is kept: well past any entry (at most a day), so an entry is
not orphaned by its generation expiring first (which would only cost a refetch)."""


def new_generation() -> int:
    """A value no earlier generation of the key is likely to have held."""
    return secrets.randbits(62)


def generation(value: Any) -> int | None:
    """The generation in a cached value; None when it is missing or not one of ours."""
    return value if type(value) is int else None
