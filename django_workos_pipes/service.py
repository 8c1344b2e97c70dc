"""The service: WorkOS answers (tokens, connections listings), cached through Django's
cache framework, and the calls that change connections (connect, disconnect).

Every process that shares the cache (Redis, Memcached) shares the tokens:

- one upstream call per (provider, user, organization) until the token nears its
  ``expires_at``, its ``TOKEN_TTL`` passes, or it is invalidated;
- single flight: on a miss, the caller that wins ``cache.add`` of a lock calls WorkOS,
  the others poll the cache for its answer (or its failure) instead of calling too;
- invalidation replaces a generation (:mod:`.caching.generations`), with no clock
  involved: an entry is served only under the generations read before its fetch, so an
  answer fetched before an invalidation is never served after it, whichever host's
  clock is ahead. A read fetches the entry, both generations and the shared WorkOS
  breaker in one ``get_many``: one round trip;
- the cache is an optimisation, never a dependency: when it raises, the service logs a
  warning, asks WorkOS directly, and skips the cache for ``CACHE_BREAKER_SECONDS``;
- when WorkOS is unavailable, a cached token that has not yet expired is served, and for
  ``WORKOS_BREAKER_SECONDS`` every lookup that needs WorkOS fails fast the same way;
- a token the provider refused (401) is renewed through the same single flight, so any
  number of callers meeting one dead token cost one WorkOS call, and is never served
  from the cache again, not even while WorkOS is down.

Credentials (``get_credentials``: an OAuth token, an API key or a client-credentials
token, with the provider's config) are cached the same way, by the same code, under keys
of their own that share the tokens' generations: whatever forgets a token
forgets the credential too. One that never expires (an API key) is fresh for
``TOKEN_TTL``.

A user's connections listing is cached per (user, organization) the same way, for
``CONNECTIONS_TTL``. Invalidating any of the user's connections (a webhook, a connect,
a disconnect) replaces the listing's generation too (in the same round trip), so the
next listing is fresh everywhere.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from asgiref.sync import sync_to_async
from django.core.cache import BaseCache, caches

from . import signals, wire
from .breaker import CircuitBreaker
from .caching.backends import install_hint
from .caching.entries import FAILURE_TTL, Entry, Failure, Generations, R, pack, valid_entry
from .caching.generations import GENERATION_TTL, generation, new_generation
from .caching.keys import (
    CREDENTIALS,
    TOKEN,
    WORKOS_DOWN,
    CacheKeys,
    ListingKeys,
    connection_keys,
    invalidation_keys,
    link_key,
)
from .caching.listings import ListingEntry, valid_listing
from .conf import app_settings
from .exceptions import (
    PROVIDER_REJECTED_TOKEN,
    InvalidProvider,
    LinkRefused,
    PipesAPIError,
    PipesReauthorizationRequired,
    PipesUnavailable,
)
from .masking import mask_id
from .owners import ORGANIZATION, USER, Owner, check_owner
from .results import (
    ACCOUNT_SELECTION_REQUIRED,
    AccessToken,
    ConnectedAccount,
    Connection,
    Credential,
    CredentialResult,
    TokenResult,
)
from .signals import DISCONNECT, connection_changed
from .workos.protocol import WorkOSClient

if TYPE_CHECKING:
    import requests

logger = logging.getLogger(__name__)

# How long an entry may be kept for stale-if-error (a token without an expiry too).
MAX_ENTRY_LIFETIME = 86400.0
POLL_START, POLL_MAX = 0.01, 0.1
CACHE_WARNING_INTERVAL = 30.0

T = TypeVar("T")
D = TypeVar("D")


@dataclass(frozen=True)
class _Fetch(Generic[R]):
    """One cached answer: its keys, the WorkOS call that fetches it, and what it is.
    Nothing secret: it may be a variable of a frame an error page shows."""

    keys: CacheKeys
    call: Callable[[], R]
    kind: type[R]
    provider: str
    user_id: str

    @property
    def what(self) -> str:
        return "token" if self.kind is TokenResult else "credential"


@dataclass(frozen=True)
class _Read(Generic[R]):
    """One read of an answer (one ``get_many``): the valid entry, if any, the
    generations found, and whether the WorkOS breaker's key was there. Holds no raw
    cached value (the entry's ``repr`` masks the secret)."""

    entry: Entry[R] | None
    generations: tuple[Any, Any]
    workos_down: bool


@dataclass(frozen=True)
class _Renewal:
    """A token the provider refused, and the fetch it came from (None: not cached)."""

    rejected: str
    seen_fetch: int | None


class PipesService:
    """Fetches and caches WorkOS Pipes access tokens and connections listings.

    Arguments left as None are read from ``settings.WORKOS_PIPES`` (or the environment)
    each time they are needed, so the default instance follows ``override_settings``.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        cache_alias: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        expiry_leeway: float | None = None,
        token_ttl: float | None = None,
        inactive_ttl: float | None = None,
        lock_timeout: float | None = None,
        connections_ttl: float | None = None,
        supports_multiple_connections: bool | None = None,
        client: WorkOSClient | None = None,
    ) -> None:
        self._client = client
        self._api_key = api_key
        self._base_url = base_url
        self._cache_alias = cache_alias
        self._timeout = timeout
        self._max_retries = max_retries
        self._expiry_leeway = expiry_leeway
        self._token_ttl = token_ttl
        self._inactive_ttl = inactive_ttl
        self._lock_timeout = lock_timeout
        self._connections_ttl = connections_ttl
        self._supports_multiple_connections = supports_multiple_connections
        self._last_cache_warning = 0.0
        self._warning_lock = threading.Lock()
        self._local = threading.local()  # this thread's cache backend (see ``cache``)
        self.cache_breaker = CircuitBreaker()
        """Open while this process skips the cache after an error."""
        self.workos_breaker = CircuitBreaker()
        """Open while this process fails fast after WorkOS failed."""

    def __repr__(self) -> str:
        return f"PipesService(cache_alias={self.cache_alias!r})"

    # Configuration, resolved at call time.

    @property
    def cache_alias(self) -> str:
        return self._cache_alias or app_settings.CACHE_ALIAS

    @property
    def cache(self) -> BaseCache:
        """This thread's cache backend, looked up once until Django settings change (the
        breakers then start closed: they were about the old configuration).

        Per thread, as Django's ``caches`` hands them out: some backends' clients are
        not thread-safe (pymemcache's, without pooling, shares one socket).
        """
        memo: tuple[int, str, BaseCache] | None = getattr(self._local, "cache", None)
        if memo is None or memo[0] != app_settings.generation or memo[1] != self.cache_alias:
            alias = self.cache_alias
            if memo is not None and memo[0] != app_settings.generation:
                self.reset_breakers()
            memo = self._local.cache = (app_settings.generation, alias, caches[alias])
        return memo[2]

    @property
    def client(self) -> WorkOSClient:
        """The WorkOS client: the one given to the constructor or :meth:`use_client` (a
        test double, say), or the HTTP client built from the current settings."""
        return self._workos(None)

    def _workos(self, max_retries: int | None) -> WorkOSClient:
        """The client, with ``max_retries`` instead of the setting when one is given
        (only the HTTP client has retries)."""
        if self._client is not None:
            return self._client
        from .workos.client import PipesClient

        return PipesClient(
            api_key=self._api_key or app_settings.API_KEY,
            base_url=(self._base_url or app_settings.BASE_URL).rstrip("/"),
            timeout=_pick(self._timeout, app_settings.TIMEOUT),
            max_retries=_pick(max_retries, _pick(self._max_retries, app_settings.MAX_RETRIES)),
            backoff_factor=app_settings.BACKOFF_FACTOR,
            backoff_max=app_settings.BACKOFF_MAX,
        )

    @property
    def lock_timeout(self) -> float:
        return _pick(self._lock_timeout, app_settings.LOCK_TIMEOUT)

    @property
    def supports_multiple_connections(self) -> bool:
        """``SUPPORTS_MULTIPLE_CONNECTIONS``: sent with every call that takes the flag."""
        value = self._supports_multiple_connections
        return app_settings.SUPPORTS_MULTIPLE_CONNECTIONS if value is None else value

    @contextlib.contextmanager
    def use_client(self, client: WorkOSClient) -> Iterator[WorkOSClient]:
        """Ask ``client`` instead of WorkOS inside the block: the seam for test doubles
        (the pytest plugin's ``pipes_fake`` uses it). The previous client comes back on
        the way out; the circuit breakers start closed on the way in and out."""
        previous, self._client = self._client, client
        self.reset_breakers()
        try:
            yield client
        finally:
            self._client = previous
            self.reset_breakers()

    def reset_breakers(self) -> None:
        """Close both circuit breakers of this process (tests; after fixing an outage)."""
        self.cache_breaker.reset()
        self.workos_breaker.reset()

    # Public API.

    def get_access_token(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        owner: Owner = USER,
        connected_account_id: str | None = None,
        max_retries: int | None = None,
    ) -> TokenResult:
        """The token for this connection, from the cache when it is still fresh.

        ``max_retries`` overrides the ``MAX_RETRIES`` setting for the WorkOS call, if one
        is needed: the template tags pass 0, so a page never waits through retries.

        ``owner="organization"`` asks for the organization's shared connection, vended to
        member ``user_id``: its answer is cached once per (provider, organization) and
        served to every member, so which members may use it is the
        ``ORGANIZATION_ID_RESOLVER``'s decision. ``connected_account_id`` picks one of
        several accounts (cached apart from the others). With several accounts and none
        picked, WorkOS answers inactive with ``account_selection_required``.

        Raises :class:`PipesUnavailable` only when WorkOS can't answer (or failed moments
        ago) and nothing usable is cached, :class:`PipesAPIError` when WorkOS refuses the
        call, and ValueError for an unknown ``owner`` or an organization's connection
        asked for without ``organization_id``.
        """
        ask = _Ask.of(provider, user_id, organization_id, owner, connected_account_id)
        return self._get(self._token_fetch(ask, max_retries))

    def get_credentials(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        connected_account_id: str | None = None,
        owner: Owner = USER,
        max_retries: int | None = None,
    ) -> CredentialResult:
        """The credential of this connection (``POST
        /data-integrations/{provider}/credentials``), from the cache while it is fresh:
        an OAuth token, an API key or a client-credentials token, with the provider's
        ``config``. ``connected_account_id`` picks one exact connection; ``owner`` as for
        :meth:`get_access_token` (an organization's credential is shared by its members).

        Cached and invalidated like :meth:`get_access_token`, by the same code (single
        flight, stale-if-error); raises as it does.
        """
        ask = _Ask.of(provider, user_id, organization_id, owner, connected_account_id)
        multiple = self.supports_multiple_connections

        def call() -> CredentialResult:
            return self._guarded(
                lambda: self._workos(max_retries).get_credentials(
                    ask.provider,
                    user_id=ask.user_id,
                    organization_id=ask.organization_id,
                    connected_account_id=ask.connected_account_id,
                    owner=ask.owner,
                    supports_multiple_connections=multiple,
                )
            )

        return self._get(_Fetch(ask.keys(CREDENTIALS), call, CredentialResult, provider, user_id))

    def require_access_token(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> AccessToken:
        """The live token, for code that can't send a user anywhere (a job, a worker).

        Raises :class:`PipesReauthorizationRequired` (after sending the
        ``reauthorization_required`` signal) when the connection is inactive, and
        :class:`PipesUnavailable` as :meth:`get_access_token` does.
        """
        ask = _Ask.of(provider, user_id, organization_id, owner, connected_account_id)
        return self._live(ask, self._get(self._token_fetch(ask, None)))

    def renew_access_token(
        self,
        provider: str,
        *,
        user_id: str,
        rejected: str,
        organization_id: str | None = None,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> AccessToken:
        """A token to replace ``rejected``, which the provider refused (401) before it expired.

        Every caller that met the same dead token shares one WorkOS call: an entry that
        holds another token (or an inactive answer), or that was fetched after this
        renewal began, is the answer. ``rejected`` is never served from the cache, not even
        while WorkOS is down (:class:`PipesUnavailable` then). Raises
        :class:`PipesReauthorizationRequired` when WorkOS answers inactive or hands back
        ``rejected`` itself: only the user (or an administrator) can fix that.
        """
        ask = _Ask.of(provider, user_id, organization_id, owner, connected_account_id)
        fetch = self._token_fetch(ask, None)
        read = self._read(fetch)
        if read is CACHE_DOWN:  # The cache is down: ask WorkOS directly.
            result = fetch.call()
        else:
            seen = read.entry.fetch_id if read.entry is not None else None
            renewal = _Renewal(rejected, seen)
            answer = _answer(read.entry, renewal)
            if answer is None:
                self._check_breaker(read)
            del read  # the cached secret must be in no frame an error page shows
            result = answer or self._refresh(fetch, renewal)
        token = self._live(ask, result)
        if token.access_token == rejected:
            raise self._reauthorization_required(ask, PROVIDER_REJECTED_TOKEN)
        return token

    def reauthorization_required(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        error: str,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> PipesReauthorizationRequired:
        """Send the ``reauthorization_required`` signal and return the exception to raise.

        Also for a project's own code, when a provider refuses a token it used directly.
        A receiver that fails is logged: the caller must still get this exception, or a
        job's ``except`` would miss it and the job would be retried for nothing.
        """
        ask = _Ask.of(provider, user_id, organization_id, owner, connected_account_id)
        return self._reauthorization_required(ask, error)

    def session(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> requests.Session:
        """A ``requests.Session`` that calls ``provider``'s API with this connection.

        Its :class:`~django_workos_pipes.auth.PipesAuth` takes the token from this service
        (cached, single flight) and, on a 401, renews it and sends the request once more.
        ``requests`` is imported here, on first use, not with the package.
        """
        import requests

        from .auth import PipesAuth

        ask = _Ask.of(provider, user_id, organization_id, owner, connected_account_id)
        session = requests.Session()
        session.auth = PipesAuth(
            provider,
            user_id=user_id,
            organization_id=ask.organization_id,
            owner=ask.owner,
            connected_account_id=ask.connected_account_id,
            service=self,
        )
        return session

    def invalidate(
        self,
        provider: str,
        *,
        user_id: str | None = None,
        organization_id: str | None = None,
        owner: Owner = USER,
    ) -> bool:
        """Forget the cached answers for one connection (every account of it, tokens and
        credentials), in every process sharing the cache.

        The user's connections listing (under that organization) is forgotten too, in
        the same round trip. An
        organization's connection (``owner="organization"``, no user needed) is
        :meth:`invalidate_organization`. Returns False when the cache could not be
        written: nothing was forgotten.
        """
        check_provider(provider)
        owner, organization_id = _whose(owner, organization_id)
        if owner == ORGANIZATION:
            return self.invalidate_organization(provider, organization_id)
        keys = invalidation_keys(provider, _required_user(user_id), organization_id)
        return self._new_generations(keys)

    def invalidate_organization(self, provider: str, organization_id: str | None) -> bool:
        """Forget every cached answer for an organization's connections to ``provider``.

        The organization's own (shared) connection, and every member's entry under that
        organization, are stale from now on, and so are the organization's listing and
        every member's listing under it. Used for events that name the organization and
        no user. Returns False when the cache could not be written.
        """
        check_provider(provider)
        organization_id = no_empty_organization(organization_id)
        return self._new_generations(invalidation_keys(provider, None, organization_id))

    def authorize_url(
        self,
        provider: str,
        *,
        user_id: str,
        return_to: str,
        organization_id: str | None = None,
        reauthorize: bool = False,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> str:
        """The WorkOS consent URL that connects ``provider`` (or, with ``reauthorize``,
        signs the existing account in again), then returns the browser to ``return_to``.

        ``user_id`` gives consent; with ``owner="organization"`` the connection is the
        organization's (who may start that is the views' business: see
        ``ORGANIZATION_ADMIN_RESOLVER``). ``connected_account_id`` names the account to
        reauthorize; without it, the one WorkOS returns for this owner is looked up.
        The cached answer is forgotten, since the connection is about to change.
        """
        check_provider(provider)
        owner, organization_id = _whose(owner, organization_id)
        account_id = None
        if reauthorize:
            account_id = connected_account_id or self._connected_account_id(
                provider, user_id, organization_id, owner
            )
        url = self._guarded(
            lambda: self.client.authorize_url(
                provider,
                user_id=user_id,
                organization_id=organization_id,
                return_to=return_to,
                connected_account_id=account_id,
                owner=owner,
            )
        )
        self.invalidate(provider, user_id=user_id, organization_id=organization_id, owner=owner)
        return url

    def get_connected_account(
        self,
        provider: str,
        *,
        user_id: str | None = None,
        organization_id: str | None = None,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> ConnectedAccount | None:
        """The account with ``provider`` (the user's, or with ``owner="organization"`` the
        organization's, no user needed), or None if WorkOS knows none. Asked of WorkOS
        each time (it is not cached): for support tools and reauthorization."""
        check_provider(provider)
        owner, organization_id = _whose(owner, organization_id)
        if owner == USER:
            _required_user(user_id)
        multiple = self.supports_multiple_connections
        return self._guarded(
            lambda: self.client.get_connected_account(
                provider,
                user_id=user_id,
                organization_id=organization_id,
                owner=owner,
                connected_account_id=connected_account_id,
                supports_multiple_connections=multiple,
            )
        )

    def list_connections(
        self, user_id: str, *, organization_id: str | None = None
    ) -> tuple[Connection, ...]:
        """Every provider configured in WorkOS, with the user's connection to each (its
        ``account`` None when they never connected), from the cache while it is fresh.

        Raises :class:`PipesUnavailable` only when WorkOS can't answer and no listing
        is cached that nothing has invalidated since.
        """
        organization_id = no_empty_organization(organization_id)
        multiple = self.supports_multiple_connections
        return self._listing(
            ListingKeys.build(_required_user(user_id), organization_id),
            lambda: self.client.list_data_providers(
                user_id, organization_id=organization_id, supports_multiple_connections=multiple
            ),
            f"user={mask_id(user_id)}",
        )

    def list_organization_connections(self, organization_id: str) -> tuple[Connection, ...]:
        """The organization-owned providers, with the organization's connection to each:
        :meth:`list_connections` for the connections its members share.

        Cached once per organization (every member reads the same entry) and forgotten by
        :meth:`invalidate_organization`, like the organization's tokens.
        """
        if not organization_id:
            raise ValueError("organization_id must be a non-empty id")
        multiple = self.supports_multiple_connections
        return self._listing(
            ListingKeys.build(None, organization_id),
            lambda: self.client.list_organization_data_providers(
                organization_id, supports_multiple_connections=multiple
            ),
            f"organization={mask_id(organization_id)}",
        )

    def disconnect(
        self,
        provider: str,
        *,
        user_id: str | None = None,
        organization_id: str | None = None,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> bool:
        """Remove the account with ``provider`` from WorkOS (its stored tokens go with
        it; nothing is revoked at the provider): the user's, or with
        ``owner="organization"`` the organization's (no user needed). With several
        accounts, ``connected_account_id`` names the one to remove. True if an account
        was removed, False if WorkOS had none.

        The cached token and listing are forgotten before the call (should WorkOS act
        but the answer be lost) and again after it (a request that read WorkOS meanwhile
        may have cached the old state). ``connection_changed`` is sent once, with
        ``event_type="disconnect"`` (and ``user_id`` None for an organization's
        connection), when an account was removed.
        """
        check_provider(provider)
        owner, organization_id = _whose(owner, organization_id)
        if owner == USER:
            _required_user(user_id)
        else:
            user_id = None
        self.invalidate(provider, user_id=user_id, organization_id=organization_id, owner=owner)
        multiple = self.supports_multiple_connections
        removed = self._guarded(
            lambda: self.client.delete_connected_account(
                provider,
                user_id=user_id,
                organization_id=organization_id,
                owner=owner,
                connected_account_id=connected_account_id,
                supports_multiple_connections=multiple,
            )
        )
        self.invalidate(provider, user_id=user_id, organization_id=organization_id, owner=owner)
        logger.info(
            "Disconnect provider=%s owner=%s user=%s organization=%s: %s",
            provider,
            owner,
            mask_id(user_id),
            mask_id(organization_id),
            "removed" if removed else "no such account",
        )
        if removed:
            connection_changed.send(
                sender=type(self),
                provider=provider,
                user_id=user_id,
                organization_id=organization_id,
                event_type=DISCONNECT,
                event=None,
                connected_account_id=connected_account_id,
                error_code=None,
                error_reason=None,
            )
        return removed

    def _connected_account_id(
        self, provider: str, user_id: str, organization_id: str | None, owner: Owner
    ) -> str | None:
        """The id of the account to reauthorize; None starts a plain connect instead (as
        does an owner with several accounts and none named: WorkOS then reauthorizes its
        compatibility connection)."""
        try:
            account = self.get_connected_account(
                provider, user_id=user_id, organization_id=organization_id, owner=owner
            )
        except PipesAPIError as exc:
            if exc.code != ACCOUNT_SELECTION_REQUIRED:
                raise
            return None
        return account.id if account is not None else None

    # Linking the site's own users and organizations to WorkOS's.

    def link_user(
        self,
        external_id: str,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        provision: bool | None = None,
    ) -> str:
        """The id of the WorkOS user whose ``external_id`` is ``external_id``.

        When there is none and ``provision`` (default: ``PROVISION_USERS``) is on, the
        user is created with this ``external_id``, e-mail and names. The link is cached
        for ``USER_LINK_TTL``; a refusal for ``INACTIVE_TTL``. A user is never looked
        up, nor linked, by e-mail: that would hand one person's connections to whoever
        holds the address in WorkOS.

        Raises :class:`LinkRefused` (``not_provisioned``, ``no_email``,
        ``email_not_available``), or :class:`PipesUnavailable` / :class:`PipesAPIError`
        when WorkOS can't answer or refuses the call itself.
        """
        provision = app_settings.PROVISION_USERS if provision is None else provision

        def find() -> str:
            return self._find_or_create_user(external_id, email, first_name, last_name, provision)

        return self._link("u", external_id, find)

    def link_organization(self, external_id: str) -> str:
        """The id of the WorkOS organization whose ``external_id`` is ``external_id``.

        Organizations are never created here: one carries domains, SSO and directory
        settings that someone sets up on purpose. Cached like :meth:`link_user`;
        raises :class:`LinkRefused` (``organization_not_found``) when there is none.
        """

        def find() -> str:
            organization = self.client.get_organization_by_external_id(external_id)
            if organization is None:
                raise LinkRefused("organization_not_found", external_id=external_id)
            return organization.id

        return self._link("g", external_id, find)

    def forget_user_link(self, external_id: str) -> bool:
        """Drop the cached link of ``external_id`` (after changing the WorkOS user's
        ``external_id``, say), in every process. False if the cache can't be written."""
        return self._forget_link("u", external_id)

    def forget_organization_link(self, external_id: str) -> bool:
        """Drop the cached link of an organization's ``external_id``."""
        return self._forget_link("g", external_id)

    def _link(self, kind: str, external_id: str, find: Callable[[], str]) -> str:
        if external_id in ("", ".", ".."):
            raise ValueError(f"{external_id!r} can't be an external_id")
        key = link_key(kind, self._environment(), external_id)
        cached = self._cache_call(lambda cache: cache.get(key), None)
        if isinstance(cached, dict):
            if isinstance(cached.get("id"), str):
                return str(cached["id"])
            if isinstance(cached.get("refused"), str):
                raise LinkRefused(str(cached["refused"]), external_id=external_id)
        try:
            workos_id = find()
        except LinkRefused as refusal:
            _log_refusal(kind, refusal)
            entry = {"refused": refusal.reason}
            ttl = math.ceil(_pick(self._inactive_ttl, app_settings.INACTIVE_TTL))
            self._cache_call(lambda cache: cache.set(key, entry, ttl), None)
            raise
        ttl = math.ceil(app_settings.USER_LINK_TTL)
        self._cache_call(lambda cache: cache.set(key, {"id": workos_id}, ttl), None)
        return workos_id

    def _find_or_create_user(
        self,
        external_id: str,
        email: str | None,
        first_name: str | None,
        last_name: str | None,
        provision: bool,
    ) -> str:
        user = self.client.get_user_by_external_id(external_id)
        if user is not None:
            return user.id
        if not provision:
            raise LinkRefused("not_provisioned", external_id=external_id)
        if not email:
            raise LinkRefused("no_email", external_id=external_id)
        try:
            user = self.client.create_user(
                email=email, external_id=external_id, first_name=first_name, last_name=last_name
            )
        except PipesAPIError as exc:
            if isinstance(exc, PipesUnavailable) or exc.status_code >= 500:
                raise
            # A concurrent request may have created it a moment ago: that user carries
            # this external_id, so it is this site's user and the link is sound.
            user = self.client.get_user_by_external_id(external_id)
            if user is not None:
                return user.id
            if wire.EMAIL_NOT_AVAILABLE in (exc.code, *exc.error_codes):
                raise LinkRefused(
                    wire.EMAIL_NOT_AVAILABLE, external_id=external_id, request_id=exc.request_id
                ) from None
            raise
        return user.id

    def _forget_link(self, kind: str, external_id: str) -> bool:
        key = link_key(kind, self._environment(), external_id)

        def delete(cache: BaseCache) -> bool:
            cache.delete(key)
            return True

        return self._cache_call(delete, False)

    def _environment(self) -> str:
        """A digest naming the WorkOS environment (API key and base URL) links belong to."""
        api_key = self._api_key or app_settings.get("API_KEY") or ""
        base_url = self._base_url or app_settings.BASE_URL
        seed = f"{base_url}\n{api_key}".encode()
        return hashlib.blake2b(seed, digest_size=8).hexdigest()

    async def aget_access_token(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        owner: Owner = USER,
        connected_account_id: str | None = None,
        max_retries: int | None = None,
    ) -> TokenResult:
        """``get_access_token`` run in a worker thread, so the event loop never blocks."""
        return await sync_to_async(self.get_access_token, thread_sensitive=False)(
            provider,
            user_id=user_id,
            organization_id=organization_id,
            owner=owner,
            connected_account_id=connected_account_id,
            max_retries=max_retries,
        )

    async def aget_credentials(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        connected_account_id: str | None = None,
        owner: Owner = USER,
        max_retries: int | None = None,
    ) -> CredentialResult:
        """:meth:`get_credentials` run in a worker thread, so the event loop never blocks."""
        return await sync_to_async(self.get_credentials, thread_sensitive=False)(
            provider,
            user_id=user_id,
            organization_id=organization_id,
            connected_account_id=connected_account_id,
            owner=owner,
            max_retries=max_retries,
        )

    async def arequire_access_token(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> AccessToken:
        """:meth:`require_access_token` run in a worker thread."""
        return await sync_to_async(self.require_access_token, thread_sensitive=False)(
            provider,
            user_id=user_id,
            organization_id=organization_id,
            owner=owner,
            connected_account_id=connected_account_id,
        )

    async def arenew_access_token(
        self,
        provider: str,
        *,
        user_id: str,
        rejected: str,
        organization_id: str | None = None,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> AccessToken:
        """:meth:`renew_access_token` run in a worker thread."""
        return await sync_to_async(self.renew_access_token, thread_sensitive=False)(
            provider,
            user_id=user_id,
            rejected=rejected,
            organization_id=organization_id,
            owner=owner,
            connected_account_id=connected_account_id,
        )

    async def aget_connected_account(
        self,
        provider: str,
        *,
        user_id: str | None = None,
        organization_id: str | None = None,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> ConnectedAccount | None:
        return await sync_to_async(self.get_connected_account, thread_sensitive=False)(
            provider,
            user_id=user_id,
            organization_id=organization_id,
            owner=owner,
            connected_account_id=connected_account_id,
        )

    async def alist_connections(
        self, user_id: str, *, organization_id: str | None = None
    ) -> tuple[Connection, ...]:
        return await sync_to_async(self.list_connections, thread_sensitive=False)(
            user_id, organization_id=organization_id
        )

    async def alist_organization_connections(self, organization_id: str) -> tuple[Connection, ...]:
        return await sync_to_async(self.list_organization_connections, thread_sensitive=False)(
            organization_id
        )

    async def adisconnect(
        self,
        provider: str,
        *,
        user_id: str | None = None,
        organization_id: str | None = None,
        owner: Owner = USER,
        connected_account_id: str | None = None,
    ) -> bool:
        return await sync_to_async(self.disconnect, thread_sensitive=False)(
            provider,
            user_id=user_id,
            organization_id=organization_id,
            owner=owner,
            connected_account_id=connected_account_id,
        )

    async def ainvalidate(
        self,
        provider: str,
        *,
        user_id: str | None = None,
        organization_id: str | None = None,
        owner: Owner = USER,
    ) -> bool:
        return await sync_to_async(self.invalidate, thread_sensitive=False)(
            provider, user_id=user_id, organization_id=organization_id, owner=owner
        )

    async def ainvalidate_organization(self, provider: str, organization_id: str | None) -> bool:
        return await sync_to_async(self.invalidate_organization, thread_sensitive=False)(
            provider, organization_id
        )

    def _live(self, ask: _Ask, result: TokenResult) -> AccessToken:
        token = result.access_token
        if result.active and token is not None:
            return token
        raise self._reauthorization_required(ask, result.error or "unknown")

    def _reauthorization_required(self, ask: _Ask, error: str) -> PipesReauthorizationRequired:
        logger.info(
            "Connection needs reauthorization: provider=%s owner=%s user=%s error=%s",
            ask.provider,
            ask.owner,
            mask_id(ask.user_id),
            error,
        )
        answers = signals.reauthorization_required.send_robust(
            sender=type(self),
            provider=ask.provider,
            user_id=ask.user_id,
            organization_id=ask.organization_id,
            error=error,
            owner=ask.owner,
            connected_account_id=ask.connected_account_id,
        )
        for receiver, answer in answers:
            if isinstance(answer, Exception):
                logger.error(
                    "reauthorization_required receiver %r failed", receiver, exc_info=answer
                )
        return PipesReauthorizationRequired(
            ask.provider,
            user_id=ask.user_id,
            organization_id=ask.organization_id,
            error=error,
            owner=ask.owner,
            connected_account_id=ask.connected_account_id,
        )

    def _listing(
        self, keys: ListingKeys, fetch: Callable[[], tuple[Connection, ...]], whose: str
    ) -> tuple[Connection, ...]:
        """A listing through the cache: a fresh entry, else WorkOS, else (WorkOS down)
        an entry nothing has invalidated."""
        wanted = [keys.listing, keys.user_generation, keys.org_generation]
        found = self._cache_call(lambda cache: cache.get_many(wanted), None)
        if found is None:  # the cache is down: ask WorkOS directly
            return self._guarded(fetch)
        entry = valid_listing(found, keys)
        if entry is not None and time.time() < entry.fresh_until:
            return entry.connections
        generations = self._generations(
            (keys.user_generation, keys.org_generation),
            (found.get(keys.user_generation), found.get(keys.org_generation)),
        )
        try:
            connections = self._guarded(fetch)
        except PipesUnavailable as exc:
            if entry is None:
                raise
            logger.warning(
                "WorkOS unavailable (%s); serving the cached connections of %s", exc, whose
            )
            return entry.connections
        if generations is not None:
            self._store_listing(keys, connections, generations)
        return connections

    # Cache reads and writes.

    def _token_fetch(self, ask: _Ask, max_retries: int | None) -> _Fetch[TokenResult]:
        multiple = self.supports_multiple_connections

        def call() -> TokenResult:
            return self._guarded(
                lambda: self._workos(max_retries).get_access_token(
                    ask.provider,
                    user_id=ask.user_id,
                    organization_id=ask.organization_id,
                    owner=ask.owner,
                    connected_account_id=ask.connected_account_id,
                    supports_multiple_connections=multiple,
                )
            )

        return _Fetch(ask.keys(TOKEN), call, TokenResult, ask.provider, ask.user_id)

    def _get(self, fetch: _Fetch[R]) -> R:
        """The answer from the cache while it is fresh, else from WorkOS (single flight),
        else, while WorkOS is down, a cached one that has not yet expired."""
        read = self._read(fetch)
        if read is CACHE_DOWN:
            # The cache is down: ask WorkOS directly. Taking the lock and storing the
            # answer would each wait for the cache's timeout again, for nothing.
            return fetch.call()
        cached = read.entry
        if cached is not None and time.time() < cached.fresh_until:
            return cached.result
        try:
            self._check_breaker(read)
            return self._refresh(fetch)
        except PipesUnavailable as exc:
            stale = _stale_result(cached, exc, fetch)
            if stale is None:
                raise
            return stale
        finally:
            # Django's DEBUG page and error e-mails print the variables of every frame
            # an exception leaves: the cached secret must be in none of them. The frames
            # below hold no entry either.
            del cached, read

    def _read(self, fetch: _Fetch[R]) -> _Read[R] | _CacheDown:
        """The entry (unless it is missing or a generation changed since its fetch), both
        generations and the WorkOS breaker's key, in one round trip."""
        keys = fetch.keys
        found = self._cache_call(lambda cache: cache.get_many(keys.lookup), None)
        if found is None:
            return CACHE_DOWN
        generations = (found.get(keys.user_generation), found.get(keys.org_generation))
        return _Read(valid_entry(found, keys, fetch.kind), generations, WORKOS_DOWN in found)

    def _check_breaker(self, read: _Read[R]) -> None:
        """Raise at once, instead of asking WorkOS, while it failed moments ago (here, or
        in any process sharing the cache)."""
        if self._breaking and (read.workos_down or self.workos_breaker.is_open()):
            raise _circuit_open()

    def _store(
        self,
        keys: CacheKeys,
        result: TokenResult | CredentialResult,
        generations: Generations,
    ) -> None:
        fresh_until, lifetime = self._lifetimes(result, time.time())
        if lifetime <= 0:
            return
        # Sealed outside the cache call: a bad ENCRYPTION_KEYS must raise, not read as
        # "cache down".
        value = pack(keys.token, Entry(generations, fresh_until, result, new_generation()))
        self._cache_call(lambda cache: cache.set(keys.token, value, math.ceil(lifetime)), None)

    def _store_listing(
        self, keys: ListingKeys, connections: tuple[Connection, ...], generations: Generations
    ) -> None:
        """Keep the listing fresh for ``CONNECTIONS_TTL``, and in the cache for a day, to
        be served while WorkOS is unavailable."""
        ttl = min(_pick(self._connections_ttl, app_settings.CONNECTIONS_TTL), MAX_ENTRY_LIFETIME)
        if ttl <= 0:
            return
        value = ListingEntry(generations, time.time() + ttl, connections).encode()
        lifetime = math.ceil(MAX_ENTRY_LIFETIME)
        self._cache_call(lambda cache: cache.set(keys.listing, value, lifetime), None)

    def _lifetimes(self, result: TokenResult | CredentialResult, now: float) -> tuple[float, float]:
        """(fresh until, seconds to keep) for an answer received at ``now``.

        A token (or credential) stays in the cache until it really expires, so it can be
        served if WorkOS goes down, but it is only fresh until ``EXPIRY_LEEWAY`` before
        that, and for ``TOKEN_TTL`` at most.
        """
        token = result.granted
        if token is None:
            ttl = _pick(self._inactive_ttl, app_settings.INACTIVE_TTL)
            return now + ttl, ttl
        ttl = _pick(self._token_ttl, app_settings.TOKEN_TTL)
        if token.expires_at is None:
            return now + ttl, max(ttl, MAX_ENTRY_LIFETIME)
        remaining = token.expires_at.timestamp() - now
        leeway = _pick(self._expiry_leeway, app_settings.EXPIRY_LEEWAY)
        # A token that already lives less than the leeway is still worth half its life.
        fresh = min(max(remaining - leeway, remaining / 2), ttl)
        return now + fresh, min(remaining, MAX_ENTRY_LIFETIME)

    def _new_generations(self, keys: tuple[str, ...]) -> bool:
        """Invalidate: one write (a ``set_many``) of new random generations, which makes
        every entry fetched under the old ones invalid (they are left to expire). False
        when the cache could not be written."""

        def write(cache: BaseCache) -> bool:
            failed = cache.set_many({key: new_generation() for key in keys}, GENERATION_TTL)
            return not failed

        return self._cache_call(write, False)

    def _generations(self, keys: tuple[str, str], found: tuple[Any, Any]) -> Generations | None:
        """The generations to record in an entry about to be fetched, read before the
        fetch (``found``); a missing one is started. None when the cache can't tell."""
        values = []
        for key, value in zip(keys, found, strict=True):
            current = generation(value)
            if current is None and (current := self._start(key)) is None:
                return None
            values.append(current)
        return values[0], values[1]

    def _start(self, key: str) -> int | None:
        """Start a generation with ``add``, so that concurrent fetchers agree on one."""
        value = new_generation()

        def start(cache: BaseCache) -> int:
            if cache.add(key, value, GENERATION_TTL):
                return value
            current = generation(cache.get(key))
            if current is None:  # not a generation: replace it (older entries just miss)
                cache.set(key, value, GENERATION_TTL)
                return value
            return current

        return self._cache_call(start, None)

    # Single flight.

    def _refresh(self, fetch: _Fetch[R], renewal: _Renewal | None = None) -> R:
        """One caller asks WorkOS, the others wait for its answer (or its failure).
        ``renewal``: a token this call replaces, which no cached entry from the same
        fetch may answer with."""
        keys = fetch.keys
        started = time.time()
        deadline = started + self.lock_timeout
        owner = f"{os.getpid()}:{uuid.uuid4().hex}"
        while True:
            acquired = self._cache_call(
                lambda cache: cache.add(keys.lock, owner, math.ceil(self.lock_timeout)), True
            )
            if acquired or time.time() >= deadline:
                break
            peer = self._wait_for_peer(fetch, started, deadline, renewal)
            if peer is not None:
                return peer
        try:
            # Read again, under the lock: a peer may just have stored the answer, and
            # the generations to record must be read before the fetch.
            read = self._read(fetch)
            generations = None
            if not isinstance(read, _CacheDown):
                fresh = _answer(read.entry, renewal)
                if fresh is not None:
                    return fresh
                self._check_breaker(read)
                generations = self._generations(
                    (keys.user_generation, keys.org_generation), read.generations
                )
            del read
            return self._fetch(fetch, generations)
        finally:
            if acquired:
                self._cache_call(lambda cache: cache.delete(keys.lock), None)

    def _fetch(self, fetch: _Fetch[R], generations: Generations | None) -> R:
        """Ask WorkOS and store the answer under ``generations`` (not at all without
        them: nothing would tell whether an invalidation came first); a failure, outage
        or refusal, is left in the cache for the requests waiting on the lock, so they
        don't ask in turn."""
        try:
            result = fetch.call()
        except (PipesUnavailable, PipesAPIError) as exc:
            failure = Failure.of(exc, time.time()).encode()
            key = fetch.keys.failure
            self._cache_call(lambda cache: cache.set(key, failure, FAILURE_TTL), None)
            raise
        if generations is not None:
            self._store(fetch.keys, result, generations)
        return result

    def _wait_for_peer(
        self, fetch: _Fetch[R], started: float, deadline: float, renewal: _Renewal | None
    ) -> R | None:
        """Poll while another caller holds the lock.

        Returns its answer; raises its failure; returns None when the lock is gone with
        no answer (or the cache fails), so the caller tries to take it.
        """
        interval = POLL_START
        while time.time() < deadline:
            time.sleep(interval)
            interval = min(interval * 1.5, POLL_MAX)
            seen = self._peek(fetch, started, renewal)
            if isinstance(seen, Failure):
                raise seen.error()
            if seen is False:
                return None
            if seen is not True:
                return seen
        return None

    def _peek(
        self, fetch: _Fetch[R], started: float, renewal: _Renewal | None
    ) -> R | Failure | bool:
        """What the lock holder left since ``started``: its fresh answer, its failure (or
        the WorkOS breaker's key, an outage seen anywhere), or whether it still holds the
        lock (False too when the cache fails)."""
        keys = fetch.keys
        wanted = [*keys.lookup, keys.lock, keys.failure]
        found = self._cache_call(lambda cache: cache.get_many(wanted), None)
        if found is None:
            return False
        answer = _answer(valid_entry(found, keys, fetch.kind), renewal)
        if answer is not None:
            return answer
        failure = Failure.decode(found.get(keys.failure))
        if failure is not None and failure.failed_at >= started:
            return failure
        if WORKOS_DOWN in found and self._breaking:
            return Failure(started)
        return keys.lock in found

    # WorkOS failures.

    @property
    def _breaking(self) -> bool:
        """Is the WorkOS breaker in use? Not for a client given to the service (a test
        double such as ``PipesFake``, whose outages are declared per connection)."""
        return self._client is None and app_settings.WORKOS_BREAKER_SECONDS > 0

    def _guarded(self, call: Callable[[], T]) -> T:
        """Call WorkOS through the breaker: refused at once while it is open; a failure
        opens it here and, through the cache, in every process."""
        if not self._breaking:
            return call()
        if not self.workos_breaker.allow():
            raise _circuit_open()
        try:
            result = call()
        except PipesUnavailable:
            self._workos_failed()
            raise
        except PipesAPIError:  # a refusal is an answer: WorkOS is up
            self.workos_breaker.succeeded()
            raise
        self.workos_breaker.succeeded()
        return result

    def _workos_failed(self) -> None:
        seconds = app_settings.WORKOS_BREAKER_SECONDS
        self.workos_breaker.failed(seconds)
        self._cache_call(lambda cache: cache.set(WORKOS_DOWN, 1, math.ceil(seconds)), None)
        logger.warning(
            "WorkOS unavailable: lookups that need it fail fast for %s s (serving cached "
            "tokens that have not expired), then one call tries again.",
            seconds,
        )

    # Cache failures.

    def _cache_call(self, call: Callable[[BaseCache], T], default: D) -> T | D:
        """Run a cache operation; if the backend fails, warn (at most every 30 s), skip
        the cache for ``CACHE_BREAKER_SECONDS`` and return ``default`` so the caller
        carries on without it. While the breaker is open, return ``default`` at once."""
        cache = self.cache
        breaker = self.cache_breaker
        if not breaker.allow():
            return default
        try:
            value = call(cache)
        except Exception as exc:  # any backend error means "no cache"
            breaker.failed(app_settings.CACHE_BREAKER_SECONDS)
            self._warn_cache_down(exc)
            return default
        breaker.succeeded()
        return value

    def _warn_cache_down(self, exc: Exception) -> None:
        now = time.monotonic()
        with self._warning_lock:
            if now - self._last_cache_warning < CACHE_WARNING_INTERVAL:
                return
            self._last_cache_warning = now
        if isinstance(exc, ImportError):
            # Not an outage: the backend's client library is not installed.
            module = exc.name or "?"
            logger.warning(
                "Cache %r unavailable: its backend needs the %r module, which is not "
                "installed (%s); asking WorkOS directly. Install it: %s",
                self.cache_alias,
                module,
                type(exc).__name__,
                install_hint(module),
            )
            return
        logger.warning(
            "Cache %r unavailable (%s); asking WorkOS directly until it is back.",
            self.cache_alias,
            type(exc).__name__,
        )


@dataclass(frozen=True)
class _Ask:
    """Whose connection an answer is about, which account, and who asks (for an
    organization's connection, the member the answer is vended for)."""

    provider: str
    user_id: str
    organization_id: str | None
    owner: Owner = USER
    connected_account_id: str | None = None

    @classmethod
    def of(
        cls,
        provider: str,
        user_id: str,
        organization_id: str | None,
        owner: Owner,
        connected_account_id: str | None,
    ) -> _Ask:
        """Checked: a provider slug, a known owner, no empty ids."""
        check_provider(provider)
        owner, organization_id = _whose(owner, organization_id)
        return cls(provider, user_id, organization_id, owner, connected_account_id or None)

    def keys(self, kind: str) -> CacheKeys:
        return connection_keys(
            self.provider,
            self.user_id,
            self.organization_id,
            owner=self.owner,
            kind=kind,
            connected_account_id=self.connected_account_id,
        )


def _whose(owner: object, organization_id: str | None) -> tuple[Owner, str | None]:
    """The checked owner and organization: an empty organization id is none, and an
    organization's connection can't be named without one (a ValueError, before WorkOS
    is asked)."""
    checked = check_owner(owner)
    organization_id = no_empty_organization(organization_id)
    if checked == ORGANIZATION and organization_id is None:
        raise ValueError("owner='organization' needs an organization_id")
    return checked, organization_id


def _required_user(user_id: str | None) -> str:
    if not user_id:
        raise ValueError("a user's connection needs a user_id")
    return user_id


def _answer(entry: Entry[R] | None, renewal: _Renewal | None) -> R | None:
    """The cached answer, if there is one: a fresh entry, but for a renewal not the
    rejected token, unless a fetch other than the one it came from handed it out again."""
    if entry is None or time.time() >= entry.fresh_until:
        return None
    granted = entry.result.granted
    if renewal is None or granted is None or _secret(granted) != renewal.rejected:
        return entry.result
    return entry.result if entry.fetch_id != renewal.seen_fetch else None


def _circuit_open() -> PipesUnavailable:
    return PipesUnavailable(
        "WorkOS is unavailable (it failed moments ago; the circuit breaker is open)"
    )


def _secret(granted: AccessToken | Credential) -> str:
    return granted.access_token if isinstance(granted, AccessToken) else granted.value


class _CacheDown(enum.Enum):
    CACHE_DOWN = enum.auto()


CACHE_DOWN = _CacheDown.CACHE_DOWN


def _stale_result(cached: Entry[R] | None, exc: PipesUnavailable, fetch: _Fetch[R]) -> R | None:
    """Stale-if-error: the cached result if its token has not yet expired (logged)."""
    if cached is None or not cached.usable_when_unavailable(time.time()):
        return None
    logger.warning(
        "WorkOS unavailable (%s); serving the cached %s for provider=%s user=%s",
        exc,
        fetch.what,
        fetch.provider,
        mask_id(fetch.user_id),
    )
    return cached.result


def check_provider(provider: str) -> None:
    """Refuse a provider that is not a slug (:class:`InvalidProvider`, a ValueError),
    before it reaches a cache key or a WorkOS URL."""
    if not wire.is_provider_slug(provider):
        raise InvalidProvider(provider)


def no_empty_organization(organization_id: str | None) -> str | None:
    """``""`` names no organization, as in WorkOS's events (the webhook reads it so):
    resolvers, views, tags and webhooks then all use the same cache keys, and WorkOS is
    never sent an empty ``organization_id``."""
    return organization_id or None


LINK_REFUSALS = {
    "not_provisioned": "no WorkOS user has this external_id, and PROVISION_USERS is off: "
    "turn it on, or create the WorkOS user with this external_id",
    "no_email": "the user has no e-mail address, which WorkOS needs to create a user",
    wire.EMAIL_NOT_AVAILABLE: "another WorkOS user already has this user's e-mail address, "
    "and linking by e-mail alone is never done: if that WorkOS user is this person, set its "
    "external_id to this one (WorkOS dashboard, or PUT /user_management/users/{id}); "
    "otherwise change one of the two e-mail addresses",
    "organization_not_found": "no WorkOS organization has this external_id: set it on the "
    "organization in WorkOS (dashboard, or PUT /organizations/{id})",
}


def _log_refusal(kind: str, refusal: LinkRefused) -> None:
    """One warning per refusal decided from WorkOS's answers (cached ones are quiet)."""
    what = "organization" if kind == "g" else "user"
    logger.warning(
        "Not linking %s external_id=%r to WorkOS (%s): %s.%s",
        what,
        refusal.external_id,
        refusal.reason,
        LINK_REFUSALS.get(refusal.reason, "WorkOS refused it"),
        f" request_id={refusal.request_id}" if refusal.request_id else "",
    )


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value


pipes = PipesService()
