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

Credentials (``pipes.get_credentials``) come from the same declarations: an OAuth
connection's token, or an API key declared with :meth:`PipesFake.connect_api_key`, each
with the ``config`` it was declared with.

The providers it lists (``list_data_providers``, behind ``pipes.list_connections``) are
every provider a declaration names, plus those added with :meth:`PipesFake.add_provider`,
as WorkOS lists every provider configured in the environment.

Nothing here reads Django settings at import time.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import quote, urlencode

from .. import wire
from ..exceptions import PipesAPIError, PipesUnavailable
from ..results import (
    NEEDS_REAUTHORIZATION,
    NOT_INSTALLED,
    STATE_CONNECTED,
    AccessToken,
    ConnectedAccount,
    Connection,
    Credential,
    CredentialResult,
    ReadOnlyDict,
    TokenResult,
    WorkOSOrganization,
    WorkOSUser,
)

if TYPE_CHECKING:
    from ..service import PipesService

__all__ = ["AUTHORIZE_BASE_URL", "DEFAULT_LIFETIME", "FakeCall", "PipesFake"]

AUTHORIZE_BASE_URL = "https://pipes-fake.invalid"
"""Where :meth:`PipesFake.authorize_url` points: recognisable, and never resolves."""

DEFAULT_LIFETIME = timedelta(hours=1)
"""How long a declared token lives unless ``expires_at`` says otherwise."""

_Key = tuple[str, str, str | None]
_Owner = tuple[str, str | None]


class FakeCall(NamedTuple):
    """One call the app made to WorkOS, as the fake received it.

    ``method`` is the :class:`~django_workos_pipes.workos.protocol.WorkOSClient` method:
    ``"get_access_token"``, ``"get_credentials"``, ``"authorize_url"``,
    ``"get_connected_account"``, ``"list_data_providers"`` (whose ``provider`` is ``""``:
    it names none), ``"delete_connected_account"``, or one of the linking calls
    ``"get_user_by_external_id"``, ``"create_user"`` and
    ``"get_organization_by_external_id"`` (``provider`` and ``user_id`` empty,
    ``external_id`` set).
    """

    method: str
    provider: str
    user_id: str
    organization_id: str | None = None
    return_to: str | None = None
    connected_account_id: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class _Account:
    """What a declared connection answers: a token, an error code, or an outage."""

    account_id: str
    created_at: datetime
    updated_at: datetime
    token: AccessToken | None = None
    error: str | None = None
    unavailable: bool = False
    account_display_name: str | None = None
    account_identifier: str | None = None
    auth_method: str = "oauth"
    config: Mapping[str, str] = field(default_factory=dict)

    def credential(self) -> CredentialResult:
        """The credentials call's answer: the token (or API key) with the config."""
        token = self.token
        if token is None:
            return CredentialResult.inactive(self.error or NOT_INSTALLED)
        return CredentialResult.connected(
            Credential(
                auth_method=self.auth_method,
                value=token.access_token,
                expires_at=token.expires_at,
                scopes=token.scopes,
                missing_scopes=token.missing_scopes,
                config=ReadOnlyDict(self.config),
            )
        )

    def connected_account(self, user_id: str, organization_id: str | None) -> ConnectedAccount:
        """The account as WorkOS would describe it (never with the token)."""
        token = self.token
        return ConnectedAccount(
            id=self.account_id,
            state=STATE_CONNECTED if token is not None else (self.error or NOT_INSTALLED),
            scopes=token.scopes if token is not None else (),
            account_identifier=self.account_identifier,
            account_display_name=self.account_display_name,
            created_at=self.created_at,
            updated_at=self.updated_at,
            connection_role="compatibility",
            auth_method=self.auth_method,
            user_id=user_id,
            organization_id=organization_id,
        )


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
        self._selected: set[tuple[_Key, str]] = set()
        self._listed: set[_Owner] = set()
        self._providers: dict[str, str] = {}
        self._services: list[PipesService] = []
        self._users: list[WorkOSUser] = []
        self._organizations: list[WorkOSOrganization] = []
        self._linked: set[tuple[str, str]] = set()

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
        account_display_name: str | None = None,
        account_identifier: str | None = None,
        config: Mapping[str, str] | None = None,
    ) -> AccessToken:
        """An active OAuth connection; returns the token the app will be given.

        ``token`` defaults to a fresh ``fake_<provider>_...`` string; ``expires_at`` is
        an aware datetime, a lifetime from now, or None for a token that never expires.
        ``config`` is what the credentials call answers as the provider's config.
        Connecting again keeps the account's id (and labels not given again), as WorkOS
        does on a reconnect.
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
        self._declare(
            provider,
            user_id,
            organization_id,
            token=access_token,
            account_display_name=account_display_name,
            account_identifier=account_identifier,
            config=_config(config),
        )
        return access_token

    def connect_api_key(
        self,
        provider: str,
        user_id: str,
        organization_id: str | None = None,
        *,
        api_key: str | None = None,
        config: Mapping[str, str] | None = None,
        account_display_name: str | None = None,
    ) -> Credential:
        """An active API-key connection with the provider's ``config`` (a Zendesk
        ``subdomain``); returns the credential the app will be given. ``api_key``
        defaults to a fresh ``fake_<provider>_key_...`` string. An API key never expires
        and has no scopes; the token call answers it too, as the WorkOS guide describes
        ("the same flow you already use for OAuth access tokens").
        """
        value = api_key if api_key is not None else f"fake_{provider}_key_{secrets.token_hex(12)}"
        if not value:
            raise ValueError("api_key must be a non-empty string")
        self._declare(
            provider,
            user_id,
            organization_id,
            token=AccessToken(access_token=value),
            account_display_name=account_display_name,
            auth_method="api_key",
            config=_config(config),
        )
        with self._lock:
            declared = self._accounts[_key(provider, user_id, organization_id)]
        credential = declared.credential().credential
        assert credential is not None
        return credential

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
        """WorkOS can't answer for this connection: every call about it, and the listing
        of this user's connections, raises
        :class:`~django_workos_pipes.exceptions.PipesUnavailable` (the views answer 503).
        Other connections go on answering: the service's WorkOS circuit breaker, which
        would make them fail fast after a real outage, is not used with a fake."""
        self._declare(provider, user_id, organization_id, unavailable=True)

    def add_provider(self, provider: str, name: str | None = None) -> None:
        """A provider configured in WorkOS that no declaration names yet: listed for
        every user, with no account. ``name`` defaults to the slug in title case."""
        _required(provider, "provider")
        with self._lock:
            self._providers[provider] = name or self._providers.get(provider) or _title(provider)
        self._invalidate_listings()

    def add_user(
        self,
        email: str,
        *,
        external_id: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        user_id: str | None = None,
    ) -> WorkOSUser:
        """A WorkOS user, as if made in the WorkOS dashboard.

        With ``external_id`` (``str(user.pk)`` by default, for ``linked_user_id``), it is
        the WorkOS user of that Django user; without, it only holds ``email``, so that
        provisioning a Django user with the same address is refused
        (``email_not_available``), as WorkOS does.
        """
        user = WorkOSUser(
            id=user_id or f"user_fake_{secrets.token_hex(8)}",
            email=email.strip().lower(),
            external_id=external_id,
            first_name=first_name,
            last_name=last_name,
        )
        with self._lock:
            self._users.append(user)
        if external_id is not None:
            self._forget_link("u", external_id)
        return user

    def add_organization(
        self, name: str, *, external_id: str | None = None, organization_id: str | None = None
    ) -> WorkOSOrganization:
        """A WorkOS organization, found by ``linked_organization_id`` through its
        ``external_id``."""
        organization = WorkOSOrganization(
            id=organization_id or f"org_fake_{secrets.token_hex(8)}",
            name=name,
            external_id=external_id,
        )
        with self._lock:
            self._organizations.append(organization)
        if external_id is not None:
            self._forget_link("g", external_id)
        return organization

    # What happened -----------------------------------------------------------------

    @property
    def users(self) -> list[WorkOSUser]:
        """Every WorkOS user: those added, then those the app created (provisioning)."""
        with self._lock:
            return list(self._users)

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

    def get_credentials(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        connected_account_id: str | None = None,
    ) -> CredentialResult:
        """The declared connection's credential; ``not_installed`` when none is declared,
        or when ``connected_account_id`` names another account."""
        call = FakeCall(
            "get_credentials",
            provider,
            user_id,
            organization_id,
            connected_account_id=connected_account_id,
        )
        account = self._answer(call)
        if account is None or connected_account_id not in (None, account.account_id):
            return CredentialResult.inactive(NOT_INSTALLED)
        return account.credential()

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
    ) -> ConnectedAccount | None:
        call = FakeCall("get_connected_account", provider, user_id, organization_id)
        account = self._answer(call)
        if account is None:
            return None
        return account.connected_account(user_id, organization_id or None)

    def list_data_providers(
        self, user_id: str, *, organization_id: str | None = None
    ) -> tuple[Connection, ...]:
        """Every provider declared or added, in that order, with this user's account."""
        _required(user_id, "user_id")
        organization_id = organization_id or None
        with self._lock:
            self._calls.append(FakeCall("list_data_providers", "", user_id, organization_id))
            self._listed.add((user_id, organization_id))
            providers = dict(self._providers)
            accounts = dict(self._accounts)
        connections = []
        for provider, name in providers.items():
            declared = accounts.get((provider, user_id, organization_id))
            if declared is not None and declared.unavailable:
                raise PipesUnavailable("WorkOS is unavailable (declared by PipesFake.unavailable)")
            account = (
                declared.connected_account(user_id, organization_id)
                if declared is not None
                else None
            )
            accounts_listed = (account,) if account is not None else ()
            connections.append(Connection(provider, name, account, accounts_listed))
        return tuple(connections)

    def delete_connected_account(
        self, provider: str, *, user_id: str, organization_id: str | None = None
    ) -> bool:
        """Remove the declared account, as WorkOS does; False when there is none."""
        call = FakeCall("delete_connected_account", provider, user_id, organization_id)
        if self._answer(call) is None:
            return False
        with self._lock:
            return self._accounts.pop(_key(provider, user_id, organization_id), None) is not None

    def get_user_by_external_id(self, external_id: str) -> WorkOSUser | None:
        self._record_link_call("get_user_by_external_id", "u", external_id)
        with self._lock:
            return next((u for u in self._users if u.external_id == external_id), None)

    def create_user(
        self,
        *,
        email: str,
        external_id: str,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> WorkOSUser:
        """Creates the user, unless another has the e-mail address: then the 400 WorkOS
        answers (``errors[].code`` ``email_not_available``)."""
        self._record_link_call("create_user", "u", external_id)
        user = WorkOSUser(
            id=f"user_fake_{secrets.token_hex(8)}",
            email=email.strip().lower(),
            external_id=external_id,
            first_name=first_name,
            last_name=last_name,
        )
        with self._lock:
            if any(existing.email == user.email for existing in self._users):
                raise PipesAPIError(
                    "Could not create user.",
                    status_code=400,
                    code="user_creation_error",
                    error_codes=(wire.EMAIL_NOT_AVAILABLE,),
                )
            self._users.append(user)
        return user

    def get_organization_by_external_id(self, external_id: str) -> WorkOSOrganization | None:
        self._record_link_call("get_organization_by_external_id", "g", external_id)
        with self._lock:
            found = (o for o in self._organizations if o.external_id == external_id)
            return next(found, None)

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
                    listed = [*self._listed, *((user, org) for _, user, org in seen)]
                    selected = list(self._selected)
                    linked = list(self._linked)
                _forget(service, seen, listed, selected)
                _forget_links([service], linked)

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
        account_display_name: str | None = None,
        account_identifier: str | None = None,
        auth_method: str | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        """Declare the account of ``key``; what is not given (labels, the method, the
        config) stays as it was, as WorkOS keeps it across a reconnect."""
        key = _key(provider, user_id, organization_id)
        now = datetime.now(timezone.utc)
        with self._lock:
            existing = self._accounts.get(key)
            self._accounts[key] = _Account(
                account_id=existing.account_id if existing else f"ca_fake_{secrets.token_hex(8)}",
                created_at=existing.created_at if existing else now,
                updated_at=now,
                token=token,
                error=error,
                unavailable=unavailable,
                account_display_name=account_display_name
                or (existing.account_display_name if existing else None),
                account_identifier=account_identifier
                or (existing.account_identifier if existing else None),
                auth_method=auth_method or (existing.auth_method if existing else "oauth"),
                config=config if config is not None else (existing.config if existing else {}),
            )
            self._providers.setdefault(provider, _title(provider))
            self._seen.add(key)
        self._invalidate(key)

    def _answer(self, call: FakeCall) -> _Account | None:
        """Record the call; the declared account, or None; raise for an outage."""
        key = _key(call.provider, call.user_id, call.organization_id)
        with self._lock:
            self._calls.append(call)
            self._seen.add(key)
            if call.connected_account_id is not None:
                self._selected.add((key, call.connected_account_id))
            account = self._accounts.get(key)
        if account is not None and account.unavailable:
            raise PipesUnavailable("WorkOS is unavailable (declared by PipesFake.unavailable)")
        return account

    def _record_link_call(self, method: str, kind: str, external_id: str) -> None:
        with self._lock:
            self._calls.append(FakeCall(method, "", "", external_id=external_id))
            self._linked.add((kind, external_id))

    def _forget_link(self, kind: str, external_id: str) -> None:
        """Make every service this fake is installed in forget a cached link."""
        with self._lock:
            services = list(self._services)
            self._linked.add((kind, external_id))
        _forget_links(services, [(kind, external_id)])

    def _invalidate(self, key: _Key) -> None:
        """Make every service this fake is installed in forget its answer for ``key``."""
        with self._lock:
            services = list(self._services)
        provider, user_id, organization_id = key
        for service in services:
            service.invalidate(provider, user_id=user_id, organization_id=organization_id)

    def _invalidate_listings(self) -> None:
        """A provider was added: drop every listing this fake answered from the cache."""
        with self._lock:
            services = list(self._services)
            listed = list(self._listed)
        for service in services:
            _forget(service, (), listed)


def _forget(
    service: PipesService,
    keys: Iterable[_Key],
    listed: Iterable[_Owner] = (),
    selected: Iterable[tuple[_Key, str]] = (),
) -> None:
    """Delete the cache entries (answers of both kinds, generations, locks) of ``keys``,
    of the accounts ``selected`` by id, and the listings of ``listed``: a clean slate."""
    from ..caching.keys import CREDENTIALS, TOKEN, WORKOS_DOWN, CacheKeys, ListingKeys

    names: list[str] = [WORKOS_DOWN]
    entries: list[tuple[str, str, str | None, str, str | None]] = [
        (*key, kind, None) for key in keys for kind in (TOKEN, CREDENTIALS)
    ]
    entries += [(*key, CREDENTIALS, account_id) for key, account_id in selected]
    for provider, user_id, organization_id, kind, account_id in entries:
        cache_keys = CacheKeys.build(provider, user_id, organization_id, kind, account_id)
        names += [cache_keys.token, cache_keys.user_generation, cache_keys.lock, cache_keys.failure]
    for user_id, organization_id in set(listed):
        listing_keys = ListingKeys.build(user_id, organization_id)
        names += [listing_keys.listing, listing_keys.user_generation]
    with contextlib.suppress(Exception):  # a cache that is down holds nothing to clean
        service.cache.delete_many(names)


def _forget_links(services: Iterable[PipesService], links: Iterable[tuple[str, str]]) -> None:
    """Drop the cached links of ``links`` (kind ``"u"`` or ``"g"``, external id)."""
    links = list(links)
    for service in services:
        for kind, external_id in links:
            if kind == "u":
                service.forget_user_link(external_id)
            else:
                service.forget_organization_link(external_id)


def _key(provider: str, user_id: str, organization_id: str | None) -> _Key:
    _required(provider, "provider")
    _required(user_id, "user_id")
    return provider, user_id, organization_id or None


def _config(config: Mapping[str, str] | None) -> dict[str, str] | None:
    if config is None:
        return None
    items = dict(config)
    if not all(isinstance(key, str) and isinstance(value, str) for key, value in items.items()):
        raise TypeError("config must map strings to strings")
    return items


def _required(value: str, name: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")


def _title(slug: str) -> str:
    """``"apollo-oauth"`` -> ``"Apollo Oauth"``: a name for a provider given none."""
    return slug.replace("-", " ").replace("_", " ").title()


def _strings(values: Iterable[str], name: str) -> tuple[str, ...]:
    if isinstance(values, str):
        raise TypeError(f"{name} must be a list of strings, not the string {values!r}")
    result = tuple(values)
    if not all(isinstance(value, str) for value in result):
        raise TypeError(f"{name} must be a list of strings")
    return result
