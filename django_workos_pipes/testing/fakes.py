"""A stand-in for WorkOS at the HTTP seam, for the tests of projects that use the app.

:class:`PipesFake` implements the service's
:class:`~django_workos_pipes.workos.protocol.WorkOSClient` protocol, answering from
connections a test declares instead of calling WorkOS: no HTTP, no emulator.
Everything above the client is the real thing (the service's cache, single flight,
invalidation, ``require_pipe``, the mixin, the template tags), so a test sees what a
user would. Each declaration invalidates the cached answer it changes, so a test may
flip a connection halfway and see the next request follow::

    with PipesFake().installed() as fake:   # the pytest fixture ``pipes_fake`` does this
        fake.connect("salesforce", user_id="user_01ANN", scopes=["api"])
        ...
        fake.needs_reauthorization("salesforce", user_id="user_01ANN")

Nothing here reads Django settings at import time.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, urlencode

from ..exceptions import PipesUnavailable
from ..results import NEEDS_REAUTHORIZATION, NOT_INSTALLED, AccessToken, TokenResult

if TYPE_CHECKING:
    from ..service import PipesService

__all__ = ["AUTHORIZE_BASE_URL", "DEFAULT_LIFETIME", "FakeCall", "PipesFake"]

AUTHORIZE_BASE_URL = "https://pipes-fake.invalid"
"""Where :meth:`PipesFake.authorize_url` points: recognisable, and never resolves."""

DEFAULT_LIFETIME = timedelta(hours=1)
"""How long a declared token lives unless ``expires_at`` says otherwise."""

_Key = tuple[str, str, str | None]


class FakeCall(NamedTuple):
    """One call the app made to WorkOS, as the fake received it.

    ``method`` is the :class:`~django_workos_pipes.workos.protocol.WorkOSClient` method:
    ``"get_access_token"``, ``"authorize_url"`` or ``"get_connected_account"``.
    """

    method: str
    provider: str
    user_id: str
    organization_id: str | None = None
    return_to: str | None = None
    connected_account_id: str | None = None


@dataclass(frozen=True)
class _Account:
    """What a declared connection answers: a token, an error code, or an outage."""

    account_id: str
    token: AccessToken | None = None
    error: str | None = None
    unavailable: bool = False


class PipesFake:
    """A WorkOS client answering from declared connections, recording every call.

    Anything not declared is ``not_installed``, as WorkOS answers for an account nobody
    connected. Thread-safe: async views ask for tokens from worker threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[_Key, _Account] = {}
        self._calls: list[FakeCall] = []
        self._seen: set[_Key] = set()
        self._services: list[PipesService] = []

    def __repr__(self) -> str:
        return f"PipesFake(connections={len(self._accounts)}, calls={len(self._calls)})"

    # Declaring connections ---------------------------------------------------------

    def connect(
        self,
        provider: str,
        user_id: str,
        organization_id: str | None = None,
        *,
        scopes: Iterable[str] = (),
        missing_scopes: Iterable[str] = (),
        token: str | None = None,
        expires_at: datetime | timedelta | None = DEFAULT_LIFETIME,
    ) -> AccessToken:
        """An active connection; returns the token the app will be given.

        ``token`` defaults to a fresh ``fake_<provider>_...`` string; ``expires_at`` is
        an aware datetime, a lifetime from now, or None for a token that never expires.
        Connecting again keeps the account's id, as WorkOS does on a reconnect.
        """
        if isinstance(expires_at, timedelta):
            expires_at = datetime.now(timezone.utc) + expires_at
        elif expires_at is not None and expires_at.tzinfo is None:
            raise ValueError("expires_at must be an aware datetime (tzinfo set)")
        value = token if token is not None else f"fake_{provider}_{secrets.token_hex(12)}"
        if not value:
            raise ValueError("token must be a non-empty string")
        access_token = AccessToken(
            access_token=value,
            expires_at=expires_at,
            scopes=_strings(scopes, "scopes"),
            missing_scopes=_strings(missing_scopes, "missing_scopes"),
        )
        self._declare(provider, user_id, organization_id, token=access_token)
        return access_token

    def needs_reauthorization(
        self, provider: str, user_id: str, organization_id: str | None = None
    ) -> None:
        """The account exists but the user must sign in to the provider again."""
        self._declare(provider, user_id, organization_id, error=NEEDS_REAUTHORIZATION)

    def not_installed(
        self, provider: str, user_id: str, organization_id: str | None = None
    ) -> None:
        """No such account (the answer for anything never declared, too)."""
        key = _key(provider, user_id, organization_id)
        with self._lock:
            self._accounts.pop(key, None)
            self._seen.add(key)
        self._invalidate(key)

    disconnect = not_installed

    def inactive(
        self, provider: str, user_id: str, organization_id: str | None = None, *, error: str
    ) -> None:
        """An inactive answer with any error code, e.g. one WorkOS adds later."""
        if not error:
            raise ValueError("error must be a non-empty code")
        if error == NOT_INSTALLED:
            self.not_installed(provider, user_id, organization_id)
        else:
            self._declare(provider, user_id, organization_id, error=error)

    def unavailable(self, provider: str, user_id: str, organization_id: str | None = None) -> None:
        """WorkOS can't answer for this connection: every call raises
        :class:`~django_workos_pipes.exceptions.PipesUnavailable` (the views answer 503).

        As with a real outage, the first failure opens the service's circuit breaker, so
        other connections fail fast too (a cached token is still served) until the next
        declaration."""
        self._declare(provider, user_id, organization_id, unavailable=True)

    # What happened -----------------------------------------------------------------

    @property
    def calls(self) -> list[FakeCall]:
        """Every call that reached "WorkOS", oldest first. A cached answer makes none."""
        with self._lock:
            return list(self._calls)

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # The client's methods, answered from the declarations ----------------------------

    def get_access_token(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> TokenResult:
        account = self._answer(FakeCall("get_access_token", provider, user_id, organization_id))
        if account is None:
            return TokenResult.inactive(NOT_INSTALLED)
        if account.token is not None:
            return TokenResult.connected(account.token)
        return TokenResult.inactive(account.error or NOT_INSTALLED)

    def authorize_url(
        self,
        provider: str,
        *,
        user_id: str,
        return_to: str,
        organization_id: str | None = None,
        connected_account_id: str | None = None,
    ) -> str:
        """``https://pipes-fake.invalid/<provider>/authorize?user_id=...&return_to=...``."""
        call = FakeCall(
            "authorize_url",
            provider,
            user_id,
            organization_id,
            return_to=return_to,
            connected_account_id=connected_account_id,
        )
        self._answer(call)
        query: dict[str, str] = {"user_id": user_id, "return_to": return_to}
        if organization_id is not None:
            query["organization_id"] = organization_id
        if connected_account_id is not None:
            query["connection_intent"] = "reauthorize"
            query["connected_account_id"] = connected_account_id
        return f"{AUTHORIZE_BASE_URL}/{quote(provider, safe='')}/authorize?{urlencode(query)}"

    def get_connected_account(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> Mapping[str, Any] | None:
        call = FakeCall("get_connected_account", provider, user_id, organization_id)
        account = self._answer(call)
        if account is None:
            return None
        token = account.token
        return {
            "object": "connected_account",
            "id": account.account_id,
            "user_id": user_id,
            "organization_id": organization_id,
            "scopes": list(token.scopes) if token is not None else [],
            "state": "connected" if token is not None else account.error,
        }

    # Installing into a service -----------------------------------------------------

    @contextlib.contextmanager
    def installed(self, service: PipesService | None = None) -> Iterator[PipesFake]:
        """Make ``service`` (by default the app's ``pipes``) ask this fake, for a while.

        On the way in, cached answers for connections already declared are invalidated;
        on the way out the previous client comes back and the cache entries of every
        connection this fake declared or was asked about are deleted, so the next test
        starts from a clean cache.
        """
        if service is None:
            from ..service import pipes

            service = pipes
        with service.use_client(self):
            with self._lock:
                self._services.append(service)
                declared = list(self._accounts)
            try:
                for key in declared:
                    self._invalidate(key)
                yield self
            finally:
                with self._lock:
                    self._services.remove(service)
                    seen = list(self._seen)
                _forget(service, seen)

    # Internals ---------------------------------------------------------------------

    def _declare(
        self,
        provider: str,
        user_id: str,
        organization_id: str | None,
        *,
        token: AccessToken | None = None,
        error: str | None = None,
        unavailable: bool = False,
    ) -> None:
        key = _key(provider, user_id, organization_id)
        with self._lock:
            existing = self._accounts.get(key)
            account_id = existing.account_id if existing else f"ca_fake_{secrets.token_hex(8)}"
            self._accounts[key] = _Account(account_id, token, error, unavailable)
            self._seen.add(key)
        self._invalidate(key)

    def _answer(self, call: FakeCall) -> _Account | None:
        """Record the call; the declared account, or None; raise for an outage."""
        key = _key(call.provider, call.user_id, call.organization_id)
        with self._lock:
            self._calls.append(call)
            self._seen.add(key)
            account = self._accounts.get(key)
        if account is not None and account.unavailable:
            raise PipesUnavailable("WorkOS is unavailable (declared by PipesFake.unavailable)")
        return account

    def _invalidate(self, key: _Key) -> None:
        """Make every service this fake is installed in forget its answer for ``key``."""
        with self._lock:
            services = list(self._services)
        provider, user_id, organization_id = key
        for service in services:
            service.invalidate(provider, user_id=user_id, organization_id=organization_id)
            _close_breakers(service)


def _close_breakers(service: PipesService) -> None:
    """A declaration changes "WorkOS": what the circuit breakers learnt no longer holds."""
    from ..caching.keys import WORKOS_DOWN

    service.reset_breakers()
    with contextlib.suppress(Exception):  # a cache that is down holds no breaker
        service.cache.delete(WORKOS_DOWN)


def _forget(service: PipesService, keys: Iterable[_Key]) -> None:
    """Delete the cache entries (answers, generations, locks) of ``keys``: a clean slate."""
    from ..caching.keys import WORKOS_DOWN, CacheKeys

    names: list[str] = [WORKOS_DOWN]
    for provider, user_id, organization_id in keys:
        cache_keys = CacheKeys.build(provider, user_id, organization_id)
        names += [cache_keys.token, cache_keys.user_generation, cache_keys.lock, cache_keys.failure]
    with contextlib.suppress(Exception):  # a cache that is down holds nothing to clean
        service.cache.delete_many(names)


def _key(provider: str, user_id: str, organization_id: str | None) -> _Key:
    if not isinstance(provider, str) or not provider:
        raise ValueError("provider must be a non-empty string")
    if not isinstance(user_id, str) or not user_id:
        raise ValueError("user_id must be a non-empty string")
    return provider, user_id, organization_id or None


def _strings(values: Iterable[str], name: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise TypeError(f"{name} must be a list of strings, not the string {values!r}")
    result = tuple(values)
    if not all(isinstance(value, str) for value in result):
        raise TypeError(f"{name} must be a list of strings")
    return result
