"""Cached connections listings: what one user's entry holds, written compactly.

Like token entries (:mod:`.entries`), a listing records the generations it was fetched
under (read before the fetch), so an invalidation, which writes new ones, makes it
invalid whatever the hosts' clocks say; and until when it is fresh. It
is stored as nested tuples of strings and numbers: no class paths in the cache, so a
renamed class can't turn an old entry into an unpickling error.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..results import ConnectedAccount, Connection
from .entries import Generations, current_generations
from .keys import ListingKeys

VERSION = "L2"
"""The first item of an encoded listing; bump it when the encoding changes."""

_ACCOUNT_FIELDS = (
    "id",
    "state",
    "scopes",
    "account_identifier",
    "account_display_name",
    "created_at",
    "updated_at",
    "connection_role",
    "auth_method",
    "user_id",
    "organization_id",
    "established_by_user_id",
    "state_reason",
)
_MOMENTS = frozenset({"created_at", "updated_at"})


@dataclass(frozen=True)
class ListingEntry:
    """A cached listing: its generations, until when it is fresh, the connections."""

    generations: Generations
    fresh_until: float
    connections: tuple[Connection, ...]

    def encode(self) -> tuple[Any, ...]:
        return (
            VERSION,
            self.generations,
            self.fresh_until,
            tuple(_encode_connection(connection) for connection in self.connections),
        )

    @classmethod
    def decode(cls, value: Any) -> ListingEntry | None:
        """The entry, or None for anything this version did not write."""
        if not isinstance(value, tuple) or len(value) != 4 or value[0] != VERSION:
            return None
        try:
            return _decode(value)
        except (TypeError, ValueError, OverflowError, IndexError):
            return None


def valid_listing(found: Mapping[str, Any], keys: ListingKeys) -> ListingEntry | None:
    """The listing among ``found`` (one ``get_many``), unless it was invalidated after
    its fetch began."""
    entry = ListingEntry.decode(found.get(keys.listing))
    if entry is None or entry.generations != current_generations(found, keys):
        return None
    return entry


@functools.lru_cache(maxsize=1024)
def _decode(value: tuple[Any, ...]) -> ListingEntry:
    """Decode, memoised: a page rendered again costs a dictionary lookup."""
    connections = tuple(_decode_connection(item) for item in value[3])
    generations = value[1]
    if type(generations) is not tuple or [type(item) for item in generations] != [int, int]:
        raise ValueError("not generations")
    return ListingEntry((generations[0], generations[1]), float(value[2]), connections)


def _encode_connection(connection: Connection) -> tuple[Any, ...]:
    account = connection.account
    return (
        connection.provider,
        connection.name,
        connection.description,
        connection.connection_owner,
        _encode_account(account) if account is not None else None,
        tuple(_encode_account(item) for item in connection.accounts),
    )


def _decode_connection(value: tuple[Any, ...]) -> Connection:
    provider, name, description, owner, account, accounts = value
    return Connection(
        provider=provider,
        name=name,
        account=_decode_account(account) if account is not None else None,
        accounts=tuple(_decode_account(item) for item in accounts),
        description=description,
        connection_owner=owner,
    )


def _encode_account(account: ConnectedAccount) -> tuple[Any, ...]:
    return tuple(
        _timestamp(getattr(account, name)) if name in _MOMENTS else getattr(account, name)
        for name in _ACCOUNT_FIELDS
    )


def _decode_account(value: tuple[Any, ...]) -> ConnectedAccount:
    fields = dict(zip(_ACCOUNT_FIELDS, value, strict=True))  # ValueError if not an account
    fields["scopes"] = tuple(fields["scopes"])
    for name in _MOMENTS:
        moment = fields[name]
        fields[name] = None if moment is None else datetime.fromtimestamp(moment, tz=timezone.utc)
    return ConnectedAccount(**fields)


def _timestamp(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment is not None else None
