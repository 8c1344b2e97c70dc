"""The :class:`Emulator`: what tests, the example project and the command line drive.

It builds the parts (accounts, faults, the call log, the HTTP server) and hands each
request handler the ones it uses; no module below imports this one back. Its state
methods are thread-safe and may be called before, during or after serving; each state
change sends its signed webhook and returns once that delivery is over (or after a
bounded wait), so the receiving app has seen it when the call returns.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from .. import wire
from .accounts import Accounts
from .api import PipesApi
from .calls import Call, CallLog
from .connected import ConnectedApi
from .consent import ConsentPages, answer_consent
from .control import ControlApi
from .directory import Directory, Organization, User
from .endpoint import DEFAULT_API_KEY, Endpoint
from .faults import FaultQueue, make_fault
from .guard import ApiGuard
from .methods import ConnectionMethods
from .persistence import StateFile
from .provider_api import ProviderApi
from .providers import Provider, registry
from .server import BackgroundServer
from .state import USER, Connection, ConsentRequest, make_key
from .users import UsersApi
from .web import Request, Response, Router, error_response
from .webhooks import Delivery, WebhookSender

logger = logging.getLogger("django_workos_pipes.emulator")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4100
DEFAULT_TOKEN_LIFETIME = 3600.0

EVENT_CONNECTED = wire.EVENT_CONNECTED
EVENT_REAUTHORIZATION_NEEDED = wire.EVENT_REAUTHORIZATION_NEEDED
EVENT_DISCONNECTED = wire.EVENT_DISCONNECTED


class Emulator(ConnectionMethods):
    """A local stand-in for the WorkOS Pipes API; ``start()`` serves it on a thread.

    The handlers reach ``connect`` and ``issue_token`` through this object (see
    :class:`~.methods.ConnectionMethods`), so a subclass that overrides them
    (``tests/system/faultkit.py``'s recording emulator) sees every token.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        token_lifetime: float | None = DEFAULT_TOKEN_LIFETIME,
        host: str = DEFAULT_HOST,
        port: int = 0,
        *,
        state_file: str | os.PathLike[str] | None = None,
        providers: Mapping[str, Sequence[str]] | Iterable[Provider] | None = None,
        public_url: str | None = None,
        verbose: bool = False,
        event_family: str = "connected_account",
    ) -> None:
        if not api_key:
            raise ValueError("the emulator needs an API key to accept")
        if webhook_url and not webhook_secret:
            raise ValueError("webhook_url needs a webhook_secret to sign the events with")
        self.api_key = api_key
        self.host = host
        self.webhook_url = webhook_url or None
        self._webhook_secret = webhook_secret if webhook_url else None
        self.token_lifetime = token_lifetime or None
        self.providers: Mapping[str, Provider] = registry(providers)
        self.verbose = verbose
        self._requested_port = port
        self._endpoint = Endpoint(api_key, host, public_url)
        self._faults = FaultQueue()
        self._calls = CallLog()
        webhooks = WebhookSender(webhook_url, webhook_secret or "") if webhook_url else None
        saved = StateFile(Path(state_file)) if state_file else None
        self._accounts = Accounts(
            self.providers, self.token_lifetime, webhooks, saved, event_family
        )
        self._directory = Directory(saved)
        self._server: BackgroundServer | None = None
        self._router = self._build_router()

    # Lifecycle ---------------------------------------------------------------------

    def start(self) -> Emulator:
        """Serve in a background thread (port 0 picks a free port); returns ``self``."""
        if self._server is None:
            self._server = BackgroundServer(
                self.host, self._requested_port, self.handle, verbose=self.verbose
            )
            self._server.start()
            self._endpoint.port = self._server.port
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and finish pending webhook deliveries."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
            self._endpoint.port = None
        self._accounts.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._server.port

    @property
    def url(self) -> str:
        """The base URL to give a WorkOS client, without a trailing slash."""
        return self._endpoint.url

    @property
    def public_url(self) -> str:
        """The base URL of the consent links: ``url``, unless told otherwise."""
        return self._endpoint.public_url

    @property
    def masked_api_key(self) -> str:
        return self._endpoint.masked_api_key

    @property
    def shown_api_key(self) -> str:
        """The API key as the status line and control page show it: in full only when
        it is the public built-in default, ``sk_test_emulator``."""
        return self._endpoint.shown_api_key

    # Connections -------------------------------------------------------------------
    #
    # ``connect``, ``install_api_key``, ``needs_reauthorization``, ``disconnect``,
    # ``expire``, ``revoke_at_provider``, ``issue_token`` and ``start_consent`` come from
    # :class:`~.methods.ConnectionMethods`.

    def connection(
        self,
        provider: str,
        user_id: str | None,
        organization_id: str | None = None,
        *,
        owner: str = USER,
    ) -> Connection | None:
        """The owner's compatibility connection to ``provider``, if any."""
        return self._accounts.select(make_key(provider, user_id, organization_id, owner))

    def accounts(
        self,
        provider: str,
        user_id: str | None,
        organization_id: str | None = None,
        *,
        owner: str = USER,
    ) -> list[Connection]:
        """Every account of the owner for ``provider``, the compatibility one first."""
        return self._accounts.accounts(make_key(provider, user_id, organization_id, owner))

    def connections(self) -> list[Connection]:
        return self._accounts.all()

    @property
    def event_family(self) -> str:
        """Which webhook names are sent: ``connected_account`` (``pipes.connected_account.*``,
        the default) or ``account_connection`` (``pipes.account_connection.*``)."""
        return self._accounts.event_family

    @event_family.setter
    def event_family(self, family: str) -> None:
        self._accounts.event_family = family

    # Users -------------------------------------------------------------------------

    def create_user(
        self, email: str, *, organization_ids: Sequence[str] = (), **fields: Any
    ) -> User:
        """A user of the user-management endpoints (``first_name``, ``external_id``...).

        ``organization_ids``: the organizations it is a member of, for the list's
        ``organization_id`` filter. Raises :class:`~.directory.Taken` for an email or
        external id another user has.
        """
        return self._directory.create(email, organization_ids, **fields)

    def user(self, user_id: str) -> User | None:
        return self._directory.get(user_id)

    def create_organization(self, name: str, external_id: str | None = None) -> Organization:
        """An organization for ``GET /organizations/external_id/{external_id}`` and
        ``/organizations/{id}``; :class:`~.directory.Taken` for a taken external id."""
        return self._directory.create_organization(name, external_id)

    def organizations(self) -> list[Organization]:
        return self._directory.organizations()

    def users(self) -> list[User]:
        """Every user, oldest first."""
        return self._directory.all()

    # Faults ------------------------------------------------------------------------

    def inject_fault(
        self,
        kind: str,
        count: int = 1,
        status: int = 503,
        retry_after: int | str | None = None,
        delay: float = 0.0,
        on: str = "token",
    ) -> None:
        """Spoil the next ``count`` calls (after any faults already queued for them).

        ``on``: which calls, ``token`` (the default), ``data_providers`` (the providers
        listings), ``users`` (the user endpoints), ``any`` call to the WorkOS API, or
        ``provider`` (the stand-in provider API).

        ``kind``: ``status`` (answer ``status``, with ``Retry-After`` if given),
        ``latency`` (wait ``delay`` s, then answer normally), ``drop`` (hang up without
        an answer), ``drop_mid_answer`` (hang up halfway through the body) or
        ``malformed`` (200 with a body of the wrong shape). ``delay`` applies to every
        kind, so a slow 503 is possible too.
        """
        self._faults.add(make_fault(kind, status, retry_after, delay, on), count)

    def clear_faults(self) -> None:
        self._faults.clear()

    @property
    def faults(self) -> list[dict[str, Any]]:
        """The faults still queued, each with the number of calls it has left."""
        return self._faults.pending()

    # What happened -----------------------------------------------------------------

    @property
    def token_calls(self) -> int:
        """Token requests received, faulted and rejected ones included."""
        return self._calls.token_calls

    @property
    def listing_calls(self) -> int:
        """Providers listings received (``.../data_providers``), faulted ones included."""
        return self._calls.listing_calls

    @property
    def provider_calls(self) -> int:
        """Calls to the stand-in provider API (``/_provider/{slug}/me``), refused ones
        included; never counted as token calls."""
        return self._calls.provider_calls

    def call_count(self, operation: str) -> int:
        """Calls of one operation received so far: ``token``, ``data_providers``,
        ``user_by_external_id``, ``create_user``... (the names in ``/_emulator/calls``)."""
        return self._calls.counted(operation)

    @property
    def calls(self) -> list[Call]:
        return self._calls.calls

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every webhook event emitted, whether or not a webhook URL is configured."""
        return self._accounts.events

    @property
    def deliveries(self) -> list[Delivery]:
        return self._accounts.deliveries

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until every queued webhook is delivered or given up; False on timeout."""
        return self._accounts.wait_for_webhooks(timeout)

    def reset(self) -> None:
        """Forget connections, consents, users, faults, calls and events (no webhooks)."""
        self._accounts.reset()
        self._directory.clear()
        self._faults.clear()
        self._calls.clear()

    # Serving -----------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request; never raises, whatever the request looks like."""
        try:
            return self._router.dispatch(request)
        except Exception:
            logger.exception("emulator failed on %s %s", request.method, request.path)
            return error_response(500, "The emulator failed on this request.", "server_error")

    def pending_consent(self, consent_id: str) -> ConsentRequest | None:
        return self._accounts.pending_consent(consent_id)

    def answer_consent(self, consent_id: str, allow: bool) -> ConsentRequest | None:
        """Allow (connect the account) or deny a consent; ``None`` if already answered."""
        return answer_consent(self._accounts, self, consent_id, allow)

    def consent_scopes(self, consent: ConsentRequest) -> tuple[str, ...]:
        """What Allow grants: what the account had and lacked, or the provider's defaults."""
        return self._accounts.consent_scopes(consent)

    def remove_connection(self, connection: Connection, *, wait: bool) -> Connection:
        """Disconnect; ``wait`` for the webhook unless answering the wire's own DELETE."""
        return self._accounts.remove(connection, wait=wait)

    def _build_router(self) -> Router:
        endpoint, accounts = self._endpoint, self._accounts
        faults, calls = self._faults, self._calls
        router = Router()
        guard = ApiGuard(endpoint, faults, calls)
        PipesApi(endpoint, accounts, guard, self).register(router)
        ConnectedApi(accounts, guard).register(router)
        UsersApi(self._directory, guard).register(router)
        ProviderApi(accounts, faults, calls).register(router)
        ConsentPages(accounts, self).register(router)
        control = ControlApi(
            endpoint,
            accounts,
            faults,
            calls,
            self,
            self.webhook_url,
            self._webhook_secret,
            directory=self._directory,
        )
        control.register(router)
        return router
