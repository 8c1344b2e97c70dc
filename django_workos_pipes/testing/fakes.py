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

A connection belongs to a user (the default) or, declared with
``owner="organization"``, to an organization: then every member's token call answers
from it (the fake does not model memberships). An owner may hold several accounts of one
provider, each declared with its own ``connected_account_id``; the first is the
"compatibility" one, answered when no account is named, unless the call supports
multiple connections and there are several (``account_selection_required``).

The providers it lists (``list_data_providers``, behind ``pipes.list_connections``) are
every provider a declaration names, plus those added with :meth:`PipesFake.add_provider`,
as WorkOS lists every provider configured in the environment; a provider declared for an
organization is listed as organization-owned, with its accounts in
``list_organization_data_providers`` (``pipes.list_organization_connections``).

Nothing here reads Django settings at import time.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, NamedTuple, TypeVar
from urllib.parse import quote, urlencode

from .. import wire
from ..exceptions import PipesAPIError, PipesUnavailable
from ..owners import ORGANIZATION, USER, ConnectionRef, Owner, check_owner
from ..results import (
    ACCOUNT_SELECTION_REQUIRED,
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

_Key = tuple[str, str | None, str | None]
"""(provider, user, organization); the user is None for an organization's connection."""
_Owner = tuple[str | None, str | None]
"""(user, organization) of a listing; the user is None for an organization's listing."""
_Seen = tuple[str, str | None, str | None, str | None]
"""A :data:`_Key` and an account id: what the service may have cached an answer for."""
_Result = TypeVar("_Result", TokenResult, CredentialResult)
_Entry = TypeVar("_Entry", WorkOSUser, WorkOSOrganization)


class FakeCall(NamedTuple):
    """One call the app made to WorkOS, as the fake received it.

    ``method`` is the :class:`~django_workos_pipes.workos.protocol.WorkOSClient` method:
    ``"get_access_token"``, ``"get_credentials"``, ``"authorize_url"``,
    ``"get_connected_account"``, ``"list_data_providers"`` or
    ``"list_organization_data_providers"`` (whose ``provider`` is ``""``: they name
    none), ``"delete_connected_account"``, or one of the linking calls
    ``"get_user_by_external_id"``, ``"create_user"`` and
    ``"get_organization_by_external_id"`` (``provider`` and ``user_id`` empty,
    ``external_id`` set). ``user_id`` is None for a call that names no user (an
    organization's listing, or an organization's account read or removed).
    """

    method: str
    provider: str
    user_id: str | None
    organization_id: str | None = None
    return_to: str | None = None
    connected_account_id: str | None = None
    external_id: str | None = None
    owner: Owner = USER
    supports_multiple_connections: bool = False

    @classmethod
    def of(
        cls, method: str, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> FakeCall:
        """The call ``method`` about the connection ``ref`` names."""
        return cls(
            method,
            ref.provider,
            ref.user_id,
            ref.organization_id,
            connected_account_id=ref.connected_account_id,
            owner=ref.owner,
            supports_multiple_connections=supports_multiple_connections,
        )


@dataclass(frozen=True)
class _Account:
    """What one declared account answers: a token or an error code."""

    account_id: str
    created_at: datetime
    updated_at: datetime
    token: AccessToken | None = None
    error: str | None = None
    account_display_name: str | None = None
    account_identifier: str | None = None
    established_by_user_id: str | None = None
    auth_method: str = "oauth"
    config: Mapping[str, str] = field(default_factory=dict)

    def token_result(self) -> TokenResult:
        """The token call's answer: the token (or API key), else the error."""
        if self.token is None:
            return TokenResult.inactive(self.error or NOT_INSTALLED)
        return TokenResult.connected(self.token)

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

    def connected_account(self, key: _Key, role: str) -> ConnectedAccount:
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
            connection_role=role,
            auth_method=self.auth_method,
            user_id=key[1],
            organization_id=key[2],
            established_by_user_id=self.established_by_user_id,
        )


class PipesFake:
    """A WorkOS client answering from declared connections, recording every call.

    Anything not declared is ``not_installed``, as WorkOS answers for an account nobody
    connected. Thread-safe: async views ask for tokens from worker threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[_Key, list[_Account]] = {}
        self._down: set[_Key] = set()
        self._calls: list[FakeCall] = []
        self._seen: set[_Seen] = set()
        self._listed: set[_Owner] = set()
        self._providers: dict[str, str] = {}
        self._organization_owned: set[str] = set()
        self._services: list[PipesService] = []
        self._users: list[WorkOSUser] = []
        self._organizations: list[WorkOSOrganization] = []
        self._linked: set[tuple[str, str]] = set()

    def __repr__(self) -> str:
        accounts = sum(len(listed) for listed in self._accounts.values())
        return f"PipesFake(connections={accounts}, calls={len(self._calls)})"

    # Declaring connections ---------------------------------------------------------

    def connect(
        self,
        provider: str,
        user_id: str | None = None,
        organization_id: str | None = None,
        *,
        owner: Owner = USER,
        connected_account_id: str | None = None,
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
        does on a reconnect. ``owner="organization"`` declares the organization's
        connection (``user_id``, if given, is the member who established it); a new
        ``connected_account_id`` adds another account of the same owner.
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
            _key(provider, user_id, organization_id, owner),
            connected_account_id,
            established_by=user_id if owner == ORGANIZATION else None,
            token=access_token,
            account_display_name=account_display_name,
            account_identifier=account_identifier,
            config=_config(config),
        )
        return access_token

    def connect_api_key(
        self,
        provider: str,
        user_id: str | None = None,
        organization_id: str | None = None,
        *,
        owner: Owner = USER,
        connected_account_id: str | None = None,
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
        key = _key(provider, user_id, organization_id, owner)
        self._declare(
            key,
            connected_account_id,
            established_by=user_id if owner == ORGANIZATION else None,
            token=AccessToken(access_token=value),
            account_display_name=account_display_name,
            auth_method="api_key",
            config=_config(config),
        )
        with self._lock:
            declared = _pick(self._accounts[key], connected_account_id)
        assert declared is not None
        credential = declared.credential().credential
        assert credential is not None
        return credential

    def needs_reauthorization(
        self,
        provider: str,
        user_id: str | None = None,
        organization_id: str | None = None,
        *,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> None:
        """The account exists but must be signed in to the provider again."""
        key = _key(provider, user_id, organization_id, owner)
        self._declare(key, connected_account_id, error=NEEDS_REAUTHORIZATION)

    def not_installed(
        self,
        provider: str,
        user_id: str | None = None,
        organization_id: str | None = None,
        *,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> None:
        """No such account (the answer for anything never declared, too): with
        ``connected_account_id`` that one account goes, without it every account of
        this owner."""
        key = _key(provider, user_id, organization_id, owner)
        with self._lock:
            self._down.discard(key)
            kept = [
                account
                for account in self._accounts.pop(key, [])
                if connected_account_id is not None and account.account_id != connected_account_id
            ]
            if kept:
                self._accounts[key] = kept
            self._seen.add((*key, connected_account_id))
        self._invalidate(key)

    disconnect = not_installed

    def inactive(
        self,
        provider: str,
        user_id: str | None = None,
        organization_id: str | None = None,
        *,
        error: str,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> None:
        """An inactive answer with any error code, e.g. one WorkOS adds later."""
        if not error:
            raise ValueError("error must be a non-empty code")
        if error == NOT_INSTALLED:
            self.not_installed(
                provider,
                user_id,
                organization_id,
                owner=owner,
                connected_account_id=connected_account_id,
            )
        else:
            key = _key(provider, user_id, organization_id, owner)
            self._declare(key, connected_account_id, error=error)

    def unavailable(
        self,
        provider: str,
        user_id: str | None = None,
        organization_id: str | None = None,
        *,
        owner: Owner = USER,
    ) -> None:
        """WorkOS can't answer for this connection: every call about it, and the listing
        of this owner's connections, raises
        :class:`~django_workos_pipes.exceptions.PipesUnavailable` (the views answer 503).
        Declaring anything else for it ends the outage. Other connections go on
        answering: the service's WorkOS circuit breaker, which would make them fail fast
        after a real outage, is not used with a fake."""
        key = _key(provider, user_id, organization_id, owner)
        with self._lock:
            self._down.add(key)
            self._register(key, None)
        self._invalidate(key)

    def add_provider(
        self, provider: str, name: str | None = None, *, connection_owner: Owner = USER
    ) -> None:
        """A provider configured in WorkOS that no declaration names yet: listed for
        every user (and, when ``connection_owner="organization"``, for every
        organization), with no account. ``name`` defaults to the slug in title case."""
        _required(provider, "provider")
        organization_owned = check_owner(connection_owner) == ORGANIZATION
        with self._lock:
            self._providers[provider] = name or self._providers.get(provider) or _title(provider)
            if organization_owned:
                self._organization_owned.add(provider)
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
        user = _user(email, external_id, first_name, last_name, user_id)
        self._add_entry(self._users, user, "u")
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
        self._add_entry(self._organizations, organization, "g")
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
        self, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> TokenResult:
        call = FakeCall.of(
            "get_access_token", ref, supports_multiple_connections=supports_multiple_connections
        )
        return self._vend(call, _Account.token_result, TokenResult.inactive)

    def get_credentials(
        self, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> CredentialResult:
        """The declared connection's credential; ``not_installed`` when none is declared,
        or when ``connected_account_id`` names no declared account."""
        call = FakeCall.of(
            "get_credentials", ref, supports_multiple_connections=supports_multiple_connections
        )
        return self._vend(call, _Account.credential, CredentialResult.inactive)

    def authorize_url(self, ref: ConnectionRef, *, return_to: str) -> str:
        """``https://pipes-fake.invalid/<provider>/authorize?user_id=...&return_to=...``."""
        self._answer(FakeCall.of("authorize_url", ref)._replace(return_to=return_to))
        query = wire.authorize_body(
            ref.user, return_to, ref.organization_id, ref.owner, ref.connected_account_id
        )
        return f"{AUTHORIZE_BASE_URL}/{quote(ref.provider, safe='')}/authorize?{urlencode(query)}"

    def get_connected_account(
        self, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> ConnectedAccount | None:
        multiple = supports_multiple_connections
        call = FakeCall.of("get_connected_account", ref, supports_multiple_connections=multiple)
        accounts = self._answer(call)
        account = _pick(accounts, ref.connected_account_id)
        if account is None:
            return None
        return account.connected_account(_call_key(call), _role(accounts, account))

    def list_data_providers(
        self,
        user_id: str,
        *,
        organization_id: str | None = None,
        supports_multiple_connections: bool = False,
    ) -> tuple[Connection, ...]:
        """Every provider declared or added, in that order, with this user's accounts
        (none for an organization-owned provider: those are the organization's)."""
        _required(user_id, "user_id")
        call = FakeCall(
            "list_data_providers",
            "",
            user_id,
            organization_id or None,
            supports_multiple_connections=supports_multiple_connections,
        )
        return self._listing(call, (user_id, organization_id or None), organization=False)

    def list_organization_data_providers(
        self, organization_id: str, *, supports_multiple_connections: bool = False
    ) -> tuple[Connection, ...]:
        """The organization-owned providers, with the organization's accounts."""
        _required(organization_id, "organization_id")
        call = FakeCall(
            "list_organization_data_providers",
            "",
            None,
            organization_id,
            owner=ORGANIZATION,
            supports_multiple_connections=supports_multiple_connections,
        )
        return self._listing(call, (None, organization_id), organization=True)

    def delete_connected_account(
        self, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> bool:
        """Remove the named account (else the compatibility one), as WorkOS does; False
        when there is none."""
        multiple = supports_multiple_connections
        call = FakeCall.of("delete_connected_account", ref, supports_multiple_connections=multiple)
        account = _pick(self._answer(call), ref.connected_account_id)
        if account is None:
            return False
        key = _call_key(call)
        with self._lock:
            kept = [item for item in self._accounts.get(key, []) if item is not account]
            if kept:
                self._accounts[key] = kept
            else:
                self._accounts.pop(key, None)
        return True

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
        user = _user(email, external_id, first_name, last_name)
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
                declared = [*self._accounts, *self._down]
            try:
                for key in declared:
                    self._invalidate(key)
                yield self
            finally:
                with self._lock:
                    self._services.remove(service)
                    seen = list(self._seen)
                    listed = [*self._listed, *((user, org) for _, user, org, _ in seen)]
                    linked = list(self._linked)
                _forget(service, seen, listed)
                _forget_links([service], linked)

    # Internals ---------------------------------------------------------------------

    def _declare(
        self,
        key: _Key,
        connected_account_id: str | None,
        *,
        established_by: str | None = None,
        token: AccessToken | None = None,
        error: str | None = None,
        account_display_name: str | None = None,
        account_identifier: str | None = None,
        auth_method: str | None = None,
        config: dict[str, str] | None = None,
    ) -> None:
        """Replace (or add) the named account, else the compatibility one; what is not
        given (labels, the method, the config) stays as it was, as WorkOS keeps it across
        a reconnect."""
        now = datetime.now(timezone.utc)
        with self._lock:
            accounts = self._accounts.setdefault(key, [])
            existing = _pick(accounts, connected_account_id)
            account = _Account(
                account_id=existing.account_id
                if existing
                else connected_account_id or f"ca_fake_{secrets.token_hex(8)}",
                created_at=existing.created_at if existing else now,
                updated_at=now,
                token=token,
                error=error,
                account_display_name=account_display_name
                or (existing.account_display_name if existing else None),
                account_identifier=account_identifier
                or (existing.account_identifier if existing else None),
                established_by_user_id=established_by
                or (existing.established_by_user_id if existing else None),
                auth_method=auth_method or (existing.auth_method if existing else "oauth"),
                config=config if config is not None else (existing.config if existing else {}),
            )
            if existing is None:
                accounts.append(account)
            else:
                accounts[accounts.index(existing)] = account
            self._down.discard(key)
            self._register(key, connected_account_id)
        self._invalidate(key)

    def _register(self, key: _Key, connected_account_id: str | None) -> None:
        """A declaration names the provider (organization-owned when the key has no
        user) and may leave cache entries behind. Called with the lock held."""
        provider, user_id, _ = key
        self._providers.setdefault(provider, _title(provider))
        if user_id is None:
            self._organization_owned.add(provider)
        self._seen.add((*key, connected_account_id))

    def _answer(self, call: FakeCall) -> list[_Account]:
        """Record the call; the owner's declared accounts; raise for an outage."""
        key = _call_key(call)
        with self._lock:
            self._calls.append(call)
            self._seen.add((*key, call.connected_account_id))
            down = key in self._down
            accounts = list(self._accounts.get(key, ()))
        if down:
            raise PipesUnavailable("WorkOS is unavailable (declared by PipesFake.unavailable)")
        return accounts

    def _vend(
        self,
        call: FakeCall,
        answer: Callable[[_Account], _Result],
        inactive: Callable[[str], _Result],
    ) -> _Result:
        """The token or credentials call: the named account's ``answer`` (else the
        compatibility one's), or the ``inactive`` answer WorkOS gives when there is none,
        or when several could answer a call that supports multiple connections."""
        accounts = self._answer(call)
        several = call.supports_multiple_connections and len(accounts) > 1
        if several and call.connected_account_id is None:
            return inactive(ACCOUNT_SELECTION_REQUIRED)
        account = _pick(accounts, call.connected_account_id)
        return inactive(NOT_INSTALLED) if account is None else answer(account)

    def _listing(
        self, call: FakeCall, listed: _Owner, *, organization: bool
    ) -> tuple[Connection, ...]:
        """The providers of one listing, each with the owner's accounts (every one when
        the call supports multiple connections, else the compatibility one)."""
        user_id, organization_id = listed
        with self._lock:
            self._calls.append(call)
            self._listed.add(listed)
            providers = dict(self._providers)
            shared = set(self._organization_owned)
            accounts = {key: list(value) for key, value in self._accounts.items()}
            down = set(self._down)
        connections = []
        for provider, name in providers.items():
            owned_by_organization = provider in shared
            if organization and not owned_by_organization:
                continue
            key = (provider, user_id, organization_id)
            if key in down:
                raise PipesUnavailable("WorkOS is unavailable (declared by PipesFake.unavailable)")
            declared = accounts.get(key, []) if organization == owned_by_organization else []
            described = tuple(
                account.connected_account(key, _role(declared, account)) for account in declared
            )
            first = described[0] if described else None
            every = described if call.supports_multiple_connections else described[:1]
            owner = ORGANIZATION if owned_by_organization else USER
            connections.append(Connection(provider, name, first, every, connection_owner=owner))
        return tuple(connections)

    def _record_link_call(self, method: str, kind: str, external_id: str) -> None:
        with self._lock:
            self._calls.append(FakeCall(method, "", "", external_id=external_id))
            self._linked.add((kind, external_id))

    def _add_entry(self, entries: list[_Entry], entry: _Entry, kind: str) -> None:
        """Add a user or an organization; a link cached for its ``external_id`` goes."""
        with self._lock:
            entries.append(entry)
        if entry.external_id is not None:
            self._forget_link(kind, entry.external_id)

    def _forget_link(self, kind: str, external_id: str) -> None:
        """Make every service this fake is installed in forget a cached link."""
        with self._lock:
            services = list(self._services)
            self._linked.add((kind, external_id))
        _forget_links(services, [(kind, external_id)])

    def _invalidate(self, key: _Key) -> None:
        """Make every service this fake is installed in forget its answers for ``key``."""
        with self._lock:
            services = list(self._services)
        provider, user_id, organization_id = key
        for service in services:
            if user_id is None:
                service.invalidate_organization(provider, organization_id)
            else:
                service.invalidate(provider, user_id=user_id, organization_id=organization_id)

    def _invalidate_listings(self) -> None:
        """A provider was added: drop every listing this fake answered from the cache."""
        with self._lock:
            services = list(self._services)
            listed = list(self._listed)
        for service in services:
            _forget(service, (), listed)


def _forget(service: PipesService, seen: Iterable[_Seen], listed: Iterable[_Owner] = ()) -> None:
    """Delete the cache entries (answers of both kinds, generations, locks) of ``seen``
    and the listings of ``listed``, and the WorkOS breaker's key: a clean slate."""
    from ..caching.keys import CREDENTIALS, TOKEN, WORKOS_DOWN, CacheKeys, ListingKeys

    names: list[str] = [WORKOS_DOWN]
    for provider, user_id, organization_id, account_id in seen:
        for kind in (TOKEN, CREDENTIALS):
            keys = CacheKeys.build(provider, user_id, organization_id, kind, account_id)
            # The organization's generation too (every fetch starts both): deleting one
            # only makes the entries under it misses, never serves a stale one.
            names += [keys.token, keys.user_generation, keys.org_generation]
            names += [keys.lock, keys.failure]
    for user_id, organization_id in set(listed):
        listing_keys = ListingKeys.build(user_id, organization_id)
        names += [listing_keys.listing, listing_keys.user_generation, listing_keys.org_generation]
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


def _key(provider: str, user_id: str | None, organization_id: str | None, owner: Owner) -> _Key:
    """The declaration's owner: a user (under an organization or none), or an
    organization (no user)."""
    _required(provider, "provider")
    if check_owner(owner) == ORGANIZATION:
        _required(organization_id or "", "organization_id")
        return provider, None, organization_id
    _required(user_id or "", "user_id")
    return provider, user_id, organization_id or None


def _call_key(call: FakeCall) -> _Key:
    """Whose accounts a call is about."""
    if call.owner == ORGANIZATION:
        return call.provider, None, call.organization_id or None
    return call.provider, call.user_id, call.organization_id or None


def _user(
    email: str,
    external_id: str | None,
    first_name: str | None,
    last_name: str | None,
    user_id: str | None = None,
) -> WorkOSUser:
    """A WorkOS user; the address is kept as WorkOS keeps it (trimmed, lower case)."""
    return WorkOSUser(
        id=user_id or f"user_fake_{secrets.token_hex(8)}",
        email=email.strip().lower(),
        external_id=external_id,
        first_name=first_name,
        last_name=last_name,
    )


def _pick(accounts: list[_Account], account_id: str | None) -> _Account | None:
    """The account named, else the first (the compatibility one)."""
    if account_id is None:
        return accounts[0] if accounts else None
    return next((account for account in accounts if account.account_id == account_id), None)


def _role(accounts: list[_Account], account: _Account) -> str:
    return "compatibility" if accounts and accounts[0] is account else "standard"


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
