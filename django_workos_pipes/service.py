"""The service: the package's public facade for WorkOS answers (tokens, credentials,
connections listings), cached through Django's cache framework, and the calls that change
connections (connect, disconnect) or link the site's users to WorkOS's.

Every process that shares the cache (Redis, Memcached) shares the answers. How they are
cached (single flight, generations, stale-if-error) is :mod:`.flight`; how a failing
cache or WorkOS is kept from failing a request is :mod:`.guards`; the cached links to
WorkOS users and organizations are :mod:`.links`. This module checks the arguments,
builds the WorkOS calls (it alone holds the client) and sends the signals.

Credentials (``get_credentials``: an OAuth token, an API key or a client-credentials
token, with the provider's config) are cached like tokens, under keys of their own that
share the tokens' generations: whatever forgets a token forgets the credential too. One
that never expires (an API key) is fresh for ``TOKEN_TTL``.

A user's connections listing is cached per (user, organization) the same way, for
``CONNECTIONS_TTL``. Invalidating any of the user's connections (a webhook, a connect,
a disconnect) replaces the listing's generation too (in the same round trip), so the
next listing is fresh everywhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

from asgiref.sync import sync_to_async
from django.core.cache import BaseCache, caches

from . import signals, wire
from .breaker import CircuitBreaker
from .caching.entries import R
from .caching.keys import (
    CREDENTIALS,
    TOKEN,
    ListingKeys,
    invalidation_keys,
    ref_keys,
)
from .conf import app_settings
from .exceptions import (
    PROVIDER_REJECTED_TOKEN,
    InvalidProvider,
    PipesAPIError,
    PipesReauthorizationRequired,
)
from .flight import Fetch, SingleFlight, Timing
from .guards import CacheGuard, WorkOSGuard
from .links import (
    ORGANIZATION_LINK,
    USER_LINK,
    Links,
    environment,
    find_or_create_user,
    find_organization,
)
from .masking import mask_id
from .owners import ORGANIZATION, USER, ConnectionRef, Owner, check_owner
from .results import (
    ACCOUNT_SELECTION_REQUIRED,
    AccessToken,
    ConnectedAccount,
    Connection,
    CredentialResult,
    TokenResult,
)
from .signals import DISCONNECT, connection_changed
from .workos.protocol import WorkOSClient

if TYPE_CHECKING:
    import requests

logger = logging.getLogger(__name__)

T = TypeVar("T")
R_co = TypeVar("R_co", covariant=True)
P = ParamSpec("P")
S = TypeVar("S")


def _threaded(
    method: Callable[Concatenate[S, P], T],
) -> Callable[Concatenate[S, P], Coroutine[Any, Any, T]]:
    """The async twin of a sync ``method``: the same parameters (``inspect.signature`` and
    autodoc follow ``__wrapped__``), run in a worker thread so the event loop never
    blocks. It calls the method through the instance, so an override is honoured."""
    name = method.__name__

    @functools.wraps(method)
    async def twin(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        bound: Callable[P, T] = getattr(self, name)
        return await sync_to_async(bound, thread_sensitive=False)(*args, **kwargs)

    twin.__name__ = f"a{name}"
    twin.__qualname__ = method.__qualname__.removesuffix(name) + twin.__name__
    twin.__doc__ = f":meth:`{name}` in a worker thread: awaiting it never blocks the event loop."
    return twin


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
        self._local = threading.local()  # this thread's cache backend (see ``cache``)
        self.cache_breaker = CircuitBreaker()
        """Open while this process skips the cache after an error."""
        self.workos_breaker = CircuitBreaker()
        """Open while this process fails fast after WorkOS failed."""
        self._cache_guard = CacheGuard(self)
        self._workos_guard = WorkOSGuard(self, self._cache_guard)
        self._flight = SingleFlight(self._cache_guard, self._workos_guard, self._timing)

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
        ref = _connection(provider, user_id, organization_id, owner, connected_account_id)
        return self._flight.get(self._token_fetch(ref, max_retries))

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
        ref = _connection(provider, user_id, organization_id, owner, connected_account_id)
        fetch = self._fetch(
            ref, CREDENTIALS, CredentialResult, max_retries, lambda client: client.get_credentials
        )
        return self._flight.get(fetch)

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
        ref = _connection(provider, user_id, organization_id, owner, connected_account_id)
        return self._live(ref, self._flight.get(self._token_fetch(ref, None)))

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
        ref = _connection(provider, user_id, organization_id, owner, connected_account_id)
        result = self._flight.renew(self._token_fetch(ref, None), rejected)
        token = self._live(ref, result)
        if token.access_token == rejected:
            raise self._reauthorization_required(ref, PROVIDER_REJECTED_TOKEN)
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
        ref = _connection(provider, user_id, organization_id, owner, connected_account_id)
        return self._reauthorization_required(ref, error)

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

        ref = _connection(provider, user_id, organization_id, owner, connected_account_id)
        session = requests.Session()
        session.auth = PipesAuth(
            provider,
            user_id=user_id,
            organization_id=ref.organization_id,
            owner=ref.owner,
            connected_account_id=ref.connected_account_id,
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
        return self._flight.new_generations(keys)

    def invalidate_organization(self, provider: str, organization_id: str | None) -> bool:
        """Forget every cached answer for an organization's connections to ``provider``.

        The organization's own (shared) connection, and every member's entry under that
        organization, are stale from now on, and so are the organization's listing and
        every member's listing under it. Used for events that name the organization and
        no user. Returns False when the cache could not be written.
        """
        check_provider(provider)
        organization_id = no_empty_organization(organization_id)
        return self._flight.new_generations(invalidation_keys(provider, None, organization_id))

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
        ref = _connection(provider, user_id, organization_id, owner, None)
        if reauthorize:
            account_id = connected_account_id or self._connected_account_id(ref)
            ref = dataclasses.replace(ref, connected_account_id=account_id)
        url = self._workos_guard.call(lambda: self.client.authorize_url(ref, return_to=return_to))
        self._invalidate(ref)
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
        ref = _connection(
            provider, user_id, organization_id, owner, connected_account_id, account=True
        )
        multiple = self.supports_multiple_connections
        return self._workos_guard.call(
            lambda: self.client.get_connected_account(ref, supports_multiple_connections=multiple)
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
        return self._flight.listing(
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
        return self._flight.listing(
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
        ref = _connection(
            provider, user_id, organization_id, owner, connected_account_id, account=True
        )
        if ref.owner == ORGANIZATION:
            ref = dataclasses.replace(ref, user_id=None)
        multiple = self.supports_multiple_connections
        self._invalidate(ref)
        removed = self._workos_guard.call(
            lambda: self.client.delete_connected_account(
                ref, supports_multiple_connections=multiple
            )
        )
        self._invalidate(ref)
        logger.info(
            "Disconnect provider=%s owner=%s user=%s organization=%s: %s",
            provider,
            ref.owner,
            mask_id(ref.user_id),
            mask_id(ref.organization_id),
            "removed" if removed else "no such account",
        )
        if removed:
            connection_changed.send(
                sender=type(self),
                provider=provider,
                user_id=ref.user_id,
                organization_id=ref.organization_id,
                event_type=DISCONNECT,
                event=None,
                connected_account_id=connected_account_id,
                error_code=None,
                error_reason=None,
            )
        return removed

    def _invalidate(self, ref: ConnectionRef) -> bool:
        """:meth:`invalidate` of ``ref``'s connection (every account of it)."""
        return self.invalidate(
            ref.provider, user_id=ref.user_id, organization_id=ref.organization_id, owner=ref.owner
        )

    def _connected_account_id(self, ref: ConnectionRef) -> str | None:
        """The id of the account to reauthorize; None starts a plain connect instead (as
        does an owner with several accounts and none named: WorkOS then reauthorizes its
        compatibility connection)."""
        try:
            account = self.get_connected_account(ref.provider, **ref.whose)
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
        when WorkOS can't answer or refuses the call itself. Like the token calls, the
        lookup goes through the WorkOS circuit breaker: after a failure, linking an
        uncached user fails at once for ``WORKOS_BREAKER_SECONDS`` instead of waiting
        for WorkOS again.
        """
        provision = app_settings.PROVISION_USERS if provision is None else provision

        def find() -> str:
            return find_or_create_user(
                self.client, external_id, email, first_name, last_name, provision
            )

        return self._links().link(USER_LINK, external_id, lambda: self._workos_guard.call(find))

    def link_organization(self, external_id: str) -> str:
        """The id of the WorkOS organization whose ``external_id`` is ``external_id``.

        Organizations are never created here: one carries domains, SSO and directory
        settings that someone sets up on purpose. Cached like :meth:`link_user`;
        raises :class:`LinkRefused` (``organization_not_found``) when there is none.
        """
        find = functools.partial(find_organization, self.client, external_id)
        return self._links().link(
            ORGANIZATION_LINK, external_id, lambda: self._workos_guard.call(find)
        )

    def forget_user_link(self, external_id: str) -> bool:
        """Drop the cached link of ``external_id`` (after changing the WorkOS user's
        ``external_id``, say), in every process. False if the cache can't be written."""
        return self._links().forget(USER_LINK, external_id)

    def forget_organization_link(self, external_id: str) -> bool:
        """Drop the cached link of an organization's ``external_id``."""
        return self._links().forget(ORGANIZATION_LINK, external_id)

    def _links(self) -> Links:
        """The links of the WorkOS environment (API key and base URL) in force."""
        api_key = self._api_key or app_settings.get("API_KEY") or ""
        base_url = self._base_url or app_settings.BASE_URL
        refusal_ttl = _pick(self._inactive_ttl, app_settings.INACTIVE_TTL)
        return Links(self._cache_guard, environment(api_key, base_url), refusal_ttl)

    # The async twins: each runs its sync method in a worker thread.

    aget_access_token = _threaded(get_access_token)
    aget_credentials = _threaded(get_credentials)
    arequire_access_token = _threaded(require_access_token)
    arenew_access_token = _threaded(renew_access_token)
    aget_connected_account = _threaded(get_connected_account)
    alist_connections = _threaded(list_connections)
    alist_organization_connections = _threaded(list_organization_connections)
    adisconnect = _threaded(disconnect)
    ainvalidate = _threaded(invalidate)
    ainvalidate_organization = _threaded(invalidate_organization)

    def _live(self, ref: ConnectionRef, result: TokenResult) -> AccessToken:
        token = result.access_token
        if result.active and token is not None:
            return token
        raise self._reauthorization_required(ref, result.error or "unknown")

    def _reauthorization_required(
        self, ref: ConnectionRef, error: str
    ) -> PipesReauthorizationRequired:
        logger.info(
            "Connection needs reauthorization: provider=%s owner=%s user=%s error=%s",
            ref.provider,
            ref.owner,
            mask_id(ref.user_id),
            error,
        )
        answers = signals.reauthorization_required.send_robust(
            sender=type(self), provider=ref.provider, error=error, **ref.whose
        )
        for receiver, answer in answers:
            if isinstance(answer, Exception):
                logger.error(
                    "reauthorization_required receiver %r failed", receiver, exc_info=answer
                )
        return PipesReauthorizationRequired(ref.provider, error=error, **ref.whose)

    # Cache reads and writes.

    def _token_fetch(self, ref: ConnectionRef, max_retries: int | None) -> Fetch[TokenResult]:
        return self._fetch(
            ref, TOKEN, TokenResult, max_retries, lambda client: client.get_access_token
        )

    def _fetch(
        self,
        ref: ConnectionRef,
        key_kind: str,
        kind: type[R],
        max_retries: int | None,
        lookup: Callable[[WorkOSClient], _Lookup[R]],
    ) -> Fetch[R]:
        """The cached answer about ``ref``: ``lookup`` picks the client's call that fetches
        it, made through the WorkOS breaker."""
        multiple = self.supports_multiple_connections

        def call() -> R:
            return self._workos_guard.call(
                lambda: lookup(self._workos(max_retries))(
                    ref, supports_multiple_connections=multiple
                )
            )

        return Fetch(ref_keys(ref, key_kind), call, kind, ref.provider, ref.user_id)

    def _timing(self) -> Timing:
        """The durations in force: the constructor's arguments, else the settings."""
        return Timing(
            lock_timeout=self.lock_timeout,
            token_ttl=_pick(self._token_ttl, app_settings.TOKEN_TTL),
            inactive_ttl=_pick(self._inactive_ttl, app_settings.INACTIVE_TTL),
            expiry_leeway=_pick(self._expiry_leeway, app_settings.EXPIRY_LEEWAY),
            connections_ttl=_pick(self._connections_ttl, app_settings.CONNECTIONS_TTL),
        )


class _Lookup(Protocol[R_co]):
    """A client's call that answers for one connection: the token or the credentials."""

    def __call__(self, ref: ConnectionRef, *, supports_multiple_connections: bool) -> R_co: ...


def _connection(
    provider: str,
    user_id: str | None,
    organization_id: str | None,
    owner: Owner,
    connected_account_id: str | None,
    *,
    account: bool = False,
) -> ConnectionRef:
    """The connection a call is about, checked: a provider slug, a known owner, no
    empty ids. With ``account`` (a call that reads or removes the account itself), a
    user's needs ``user_id`` and ``connected_account_id`` is kept as given."""
    check_provider(provider)
    owner, organization_id = _whose(owner, organization_id)
    if not account:
        connected_account_id = connected_account_id or None
    elif owner == USER:
        _required_user(user_id)
    return ConnectionRef(provider, user_id, organization_id, owner, connected_account_id)


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


def _pick(value: T | None, default: T) -> T:
    return default if value is None else value


pipes = PipesService()
