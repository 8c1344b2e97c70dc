"""Cached answers: what a cache entry holds, and how it is written compactly.

An entry records when its fetch started (so an invalidation written after that start
makes it invalid), until when it is fresh, and the WorkOS answer itself: a token
(:class:`~django_workos_pipes.results.TokenResult`) or a credential
(:class:`~django_workos_pipes.results.CredentialResult`), both cached the same way.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar, cast

from ..results import AccessToken, Credential, CredentialResult, ReadOnlyDict, TokenResult
from .keys import CacheKeys

R = TypeVar("R", bound=TokenResult | CredentialResult)

CREDENTIAL = "c1"
"""Follows the timestamps in an encoded credential; bump it when that encoding changes."""
_CREDENTIAL_LENGTH = 11


@dataclass(frozen=True)
class Entry(Generic[R]):
    """A cached answer: when its fetch started, until when it is fresh, and the result."""

    fetched_at: float
    fresh_until: float
    result: R

    def encode(self) -> tuple[Any, ...]:
        """A compact tuple: a few hundred bytes per token in Redis, no class paths."""
        if isinstance(self.result, CredentialResult):
            return (self.fetched_at, self.fresh_until, CREDENTIAL, *_encode(self.result))
        token = self.result.access_token
        if token is None:
            return (self.fetched_at, self.fresh_until, self.result.error)
        expires = token.expires_at.timestamp() if token.expires_at else None
        return (
            self.fetched_at,
            self.fresh_until,
            None,
            token.access_token,
            expires,
            token.scopes,
            token.missing_scopes,
        )

    @classmethod
    def decode(cls, value: Any) -> Entry[TokenResult] | Entry[CredentialResult] | None:
        """The entry, or None for anything this version did not write."""
        if not isinstance(value, tuple) or len(value) not in (3, 7, _CREDENTIAL_LENGTH):
            return None
        try:
            return _decode(value)
        except (TypeError, ValueError, OverflowError):
            return None

    def usable_when_unavailable(self, now: float) -> bool:
        """Stale-if-error: an active answer may be served until it really expires."""
        granted = self.result.granted
        if granted is None:
            return False
        return granted.expires_at is None or now < granted.expires_at.timestamp()


@functools.lru_cache(maxsize=1024)
def _decode(value: tuple[Any, ...]) -> Entry[TokenResult] | Entry[CredentialResult]:
    """Decode a cached tuple, memoised: a hit then costs a dictionary lookup, not the
    construction of three objects and a datetime on every request."""
    if len(value) == _CREDENTIAL_LENGTH:
        if value[2] != CREDENTIAL:
            raise ValueError("not a credential entry")
        return Entry(value[0], value[1], _decode_credential(value[3:]))
    if len(value) == 3:
        return Entry(value[0], value[1], TokenResult.inactive(value[2]))
    token = AccessToken(value[3], _moment(value[4]), tuple(value[5]), tuple(value[6]))
    return Entry(value[0], value[1], TokenResult.connected(token))


def _encode(result: CredentialResult) -> tuple[Any, ...]:
    """Eight items: the error, then the credential's fields (None when inactive). The
    config is a tuple of pairs and the metadata JSON text, so the tuple stays hashable
    for :func:`_decode`'s memo."""
    credential = result.credential
    if credential is None:
        return (result.error, None, None, None, (), (), (), None)
    expires = credential.expires_at.timestamp() if credential.expires_at else None
    return (
        None,
        credential.auth_method,
        credential.value,
        expires,
        credential.scopes,
        credential.missing_scopes,
        tuple(sorted(credential.config.items())),
        json.dumps(dict(credential.metadata), sort_keys=True) if credential.metadata else None,
    )


def _decode_credential(value: tuple[Any, ...]) -> CredentialResult:
    error, auth_method, secret, expires, scopes, missing, config, metadata = value
    if secret is None:
        return CredentialResult.inactive(error)
    credential = Credential(
        auth_method=auth_method,
        value=secret,
        expires_at=_moment(expires),
        scopes=tuple(scopes),
        missing_scopes=tuple(missing),
        config=ReadOnlyDict(config),
        metadata=ReadOnlyDict(json.loads(metadata) if metadata else {}),
    )
    return CredentialResult.connected(credential)


def _moment(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc) if timestamp else None


def valid_entry(found: Mapping[str, Any], keys: CacheKeys, kind: type[R]) -> Entry[R] | None:
    """The entry among ``found`` (one ``get_many``) if it holds a ``kind`` answer, unless
    an invalidation marker was written after its fetch started."""
    entry = Entry.decode(found.get(keys.token))
    if entry is None or not isinstance(entry.result, kind):
        return None
    if not is_current(entry.fetched_at, found, keys.user_marker, keys.org_marker):
        return None
    return cast(Entry[R], entry)


def is_current(fetched_at: float, found: Mapping[str, Any], *markers: str) -> bool:
    """True unless one of the invalidation ``markers`` among ``found`` was written after
    a fetch that started at ``fetched_at``: the one rule for every kind of entry."""
    return all(fetched_at > _as_float(found.get(marker)) for marker in markers)


def _as_float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0
