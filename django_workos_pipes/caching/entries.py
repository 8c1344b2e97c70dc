"""Cached answers: what a cache entry holds, and how it is written compactly.

An entry records the generations it was fetched under (see
:mod:`~django_workos_pipes.caching.generations`), until when it is fresh, a random id of
its fetch (so a renewal can tell a new answer from the one it replaces), and the WorkOS
answer itself: a token (:class:`~django_workos_pipes.results.TokenResult`) or a
credential (:class:`~django_workos_pipes.results.CredentialResult`), both cached the
same way.

The cache is shared with other versions of this package, other apps and people with a
Redis shell, so what is read back is checked field by field: anything but exactly what
:meth:`Entry.encode` writes is a miss, never an error and never a token. Entries reach
the cache through :func:`pack` and :func:`unpack`, which encrypt them when
``ENCRYPTION_KEYS`` is set (:mod:`.crypto`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar, cast

from ..exceptions import PipesAPIError, PipesUnavailable
from ..results import AccessToken, Credential, CredentialResult, ReadOnlyDict, TokenResult
from . import crypto
from .generations import generation
from .keys import CacheKeys, ListingKeys

R = TypeVar("R", bound=TokenResult | CredentialResult)

Generations = tuple[int, int]
"""(the connection's generation, the organization's generation)."""

CREDENTIAL = "c1"
"""Follows the head in an encoded credential; bump it when that encoding changes."""
_HEAD = 4
"""(user generation, organization generation, fresh until, fetch id) start every entry."""
_CREDENTIAL_LENGTH = _HEAD + 9

FAILURE_TTL = 5
"""Seconds a failed fetch is shared with the requests that waited for it."""
MAX_MESSAGE = 500

# The last second a ``datetime`` can hold (9999-12-31T23:59:59Z): a larger number is
# not a time, whoever wrote it.
MAX_TIMESTAMP = 253402300799.0


@dataclass(frozen=True)
class Entry(Generic[R]):
    """A cached answer: the generations it was fetched under, until when it is fresh,
    the result, and its fetch's id."""

    generations: Generations
    fresh_until: float
    result: R
    fetch_id: int = 0

    def encode(self) -> tuple[Any, ...]:
        """A compact tuple: a few hundred bytes per token in Redis, no class paths."""
        head = (*self.generations, self.fresh_until, self.fetch_id)
        if isinstance(self.result, CredentialResult):
            return (*head, CREDENTIAL, *_encode(self.result))
        token = self.result.access_token
        if token is None:
            return (*head, self.result.error)
        expires = token.expires_at.timestamp() if token.expires_at else None
        return (
            *head,
            None,
            token.access_token,
            expires,
            token.scopes,
            token.missing_scopes,
        )

    @classmethod
    def decode(cls, value: Any) -> Entry[TokenResult] | Entry[CredentialResult] | None:
        """The entry, or None for anything this version did not write."""
        if type(value) is not tuple or len(value) not in (_HEAD + 1, _HEAD + 5, _CREDENTIAL_LENGTH):
            return None
        try:
            return _decode(value)
        except (TypeError, ValueError, OverflowError, OSError, RecursionError):
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
    construction of three objects and a datetime on every request. Raises ValueError
    (or TypeError: an unhashable part) for a tuple :meth:`Entry.encode` can't have
    written; errors are not memoised."""
    user, org, fetch_id = generation(value[0]), generation(value[1]), generation(value[3])
    if user is None or org is None or fetch_id is None:
        raise ValueError("not an entry's generations")
    head: tuple[Generations, float] = ((user, org), _timestamp(value[2]))
    body = value[_HEAD:]
    if len(value) == _CREDENTIAL_LENGTH:
        if body[0] != CREDENTIAL:
            raise ValueError("not a credential entry")
        return Entry(*head, _decode_credential(body[1:]), fetch_id)
    if len(body) == 1:
        return Entry(*head, TokenResult.inactive(_text(body[0])), fetch_id)
    if body[0] is not None:
        raise ValueError("an active entry carries no error")
    expires = body[2]
    token = AccessToken(
        _text(body[1]),
        None if expires is None else datetime.fromtimestamp(_timestamp(expires), tz=timezone.utc),
        _strings(body[3]),
        _strings(body[4]),
    )
    return Entry(*head, TokenResult.connected(token), fetch_id)


_INACTIVE = (None, None, None, None, (), (), (), None)
"""An inactive credential's eight items, its error first (here None)."""


def _encode(result: CredentialResult) -> tuple[Any, ...]:
    """Eight items: the error, then the credential's fields (None or empty when
    inactive). The config is a tuple of pairs and the metadata JSON text, so the tuple
    stays hashable for :func:`_decode`'s memo and holds no class path."""
    credential = result.credential
    if credential is None:
        return (result.error, *_INACTIVE[1:])
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
    """The credential of :func:`_encode`, checked field by field like a token."""
    error, auth_method, secret, expires, scopes, missing, config, metadata = value
    if secret is None:
        if value[1:] != _INACTIVE[1:]:
            raise ValueError("an inactive entry carries no credential")
        return CredentialResult.inactive(_text(error))
    if error is not None:
        raise ValueError("an active entry carries no error")
    if type(config) is not tuple or not all(_is_pair(item) for item in config):
        raise ValueError("not a config")
    details = {} if metadata is None else json.loads(_text(metadata))
    if type(details) is not dict:
        raise ValueError("not metadata")
    expires_at = None if expires is None else _timestamp(expires)
    credential = Credential(
        auth_method=_text(auth_method),
        value=_text(secret),
        expires_at=None if expires_at is None else datetime.fromtimestamp(expires_at, timezone.utc),
        scopes=_strings(scopes),
        missing_scopes=_strings(missing),
        config=ReadOnlyDict(config),
        metadata=ReadOnlyDict(details),
    )
    return CredentialResult.connected(credential)


def _is_pair(value: Any) -> bool:
    return type(value) is tuple and len(value) == 2 and all(type(part) is str for part in value)


def _timestamp(value: Any) -> float:
    if type(value) not in (float, int) or not 0 <= value <= MAX_TIMESTAMP:
        raise ValueError("not a timestamp")  # NaN fails the range test too
    return float(value)


def _text(value: Any) -> str:
    if type(value) is not str or not value:
        raise ValueError("not a non-empty string")
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if type(value) is not tuple or not all(type(item) is str for item in value):
        raise ValueError("not a tuple of strings")
    return value


@dataclass(frozen=True)
class Failure:
    """A failed fetch, left for the requests waiting on its lock: an outage (no status,
    or a 5xx/429 after retries) or a refusal (a 4xx, with WorkOS's code and message).

    An outage is written as a bare timestamp, as earlier versions read it; a refusal as
    ``(failed_at, status, code, message, request_id)``. Neither holds anything secret.
    """

    failed_at: float
    status_code: int | None = None
    code: str | None = None
    message: str = ""
    request_id: str | None = None

    @classmethod
    def of(cls, exc: PipesUnavailable | PipesAPIError, failed_at: float) -> Failure:
        if isinstance(exc, PipesUnavailable):
            return cls(failed_at)
        return cls(failed_at, exc.status_code, exc.code, exc.message[:MAX_MESSAGE], exc.request_id)

    def encode(self) -> float | tuple[Any, ...]:
        if self.status_code is None:
            return self.failed_at
        return (self.failed_at, self.status_code, self.code, self.message, self.request_id)

    @classmethod
    def decode(cls, value: Any) -> Failure | None:
        """The failure, or None for anything this version did not write."""
        try:
            if type(value) is not tuple:
                return cls(_timestamp(value))
            failed_at, status, code, message, request_id = value
            if type(status) is not int or not 400 <= status <= 499 or type(message) is not str:
                return None
            if not all(part is None or type(part) is str for part in (code, request_id)):
                return None
            return cls(_timestamp(failed_at), status, code, message[:MAX_MESSAGE], request_id)
        except (TypeError, ValueError):
            return None

    def error(self) -> PipesUnavailable | PipesAPIError:
        """The exception the waiting requests raise: the same as the one who asked."""
        if self.status_code is None:
            return PipesUnavailable("WorkOS is unavailable (reported by a concurrent request)")
        return PipesAPIError(
            self.message, status_code=self.status_code, request_id=self.request_id, code=self.code
        )


def current_generations(
    found: Mapping[str, Any], keys: CacheKeys | ListingKeys
) -> Generations | None:
    """Both generations among ``found`` (one ``get_many``); None if either is missing or
    foreign. The one rule for every kind of entry: it is valid while these are what it
    recorded."""
    user_generation = generation(found.get(keys.user_generation))
    org_generation = generation(found.get(keys.org_generation))
    if user_generation is None or org_generation is None:
        return None
    return user_generation, org_generation


def valid_entry(found: Mapping[str, Any], keys: CacheKeys, kind: type[R]) -> Entry[R] | None:
    """The entry among ``found`` (one ``get_many``) if it holds a ``kind`` answer, unless
    a generation changed since its fetch began."""
    entry = unpack(keys.token, found.get(keys.token))
    if entry is None or not isinstance(entry.result, kind):
        return None
    if entry.generations != current_generations(found, keys):
        return None
    return cast(Entry[R], entry)


# The one road between entries and the cache: every cached value that holds a secret is
# written through pack() and read through unpack(), which seal and unseal it when
# ENCRYPTION_KEYS is set (:mod:`.crypto`).


def pack(key: str, entry: Entry[Any]) -> Any:
    """What the cache stores under ``key``: the entry's tuple, encrypted and bound to
    ``key`` when ``ENCRYPTION_KEYS`` is set."""
    return crypto.seal(key, entry.encode())


def unpack(key: str, stored: Any) -> Entry[Any] | None:
    """The entry stored under ``key``; None for a miss, or anything that can't be read
    (not written by this version, or sealed under another key or with no listed key)."""
    return Entry.decode(crypto.unseal(key, stored))
