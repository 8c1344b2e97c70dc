"""The :class:`Emulator`: state, faults, webhooks and the HTTP server in one object.

Tests, the example project and the command line all drive the emulator through this
class. Its state methods are thread-safe and may be called before, during or after
serving; each state change sends its signed webhook and returns once that delivery is
over (or after a bounded wait), so the receiving app has seen it when the call returns.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from .. import wire
from ..masking import mask
from . import persistence
from .api import PipesApi
from .consent import ConsentPages
from .control import ControlApi
from .faults import Fault, FaultQueue, make_fault
from .providers import Provider, registry
from .server import BackgroundServer
from .state import (
    DISCONNECTED,
    NEEDS_REAUTHORIZATION,
    Connection,
    ConsentRequest,
    Key,
    Store,
    make_key,
)
from .web import Request, Response, Router, error_response
from .webhooks import Delivery, WebhookSender

logger = logging.getLogger("django_workos_pipes.emulator")

DEFAULT_API_KEY = "sk_test_emulator"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4100
DEFAULT_TOKEN_LIFETIME = 3600.0
WEBHOOK_WAIT = 10.0

EVENT_CONNECTED = wire.EVENT_CONNECTED
EVENT_REAUTHORIZATION_NEEDED = wire.EVENT_REAUTHORIZATION_NEEDED
EVENT_DISCONNECTED = wire.EVENT_DISCONNECTED


class Call(NamedTuple):
    """A request to the WorkOS API surface: ``(method, path, body, headers)``.

    ``path`` keeps its query string, ``body`` is the parsed JSON (``None`` when empty or
    not JSON), header names are lower case and ``authorization`` is masked.
    """

    method: str
    path: str
    body: Any
    headers: dict[str, str]


class Emulator:
    """A local stand-in for the WorkOS Pipes API; ``start()`` serves it on a thread."""

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
    ) -> None:
        if not api_key:
            raise ValueError("the emulator needs an API key to accept")
        if webhook_url and not webhook_secret:
            raise ValueError("webhook_url needs a webhook_secret to sign the events with")
        self.api_key = api_key
        self.host = host
        self.webhook_url = webhook_url or None
        self.token_lifetime = token_lifetime or None
        self.providers: Mapping[str, Provider] = registry(providers)
        self.verbose = verbose
        self._requested_port = port
        self._public_url = public_url.rstrip("/") if public_url else None
        self._store = Store(self.providers, self.token_lifetime)
        self._faults = FaultQueue()
        self._webhooks = WebhookSender(webhook_url, webhook_secret or "") if webhook_url else None
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._token_calls = 0
        self._events: list[dict[str, Any]] = []
        self._deliveries: list[Delivery] = []
        self._server: BackgroundServer | None = None
        self._state_path = Path(state_file) if state_file else None
        self._save_lock = threading.Lock()
        # Held while a state change is applied, saved and its webhook queued, so
        # webhooks leave in the order the changes happened.
        self._changes = threading.RLock()
        if self._state_path is not None:
            self._store.replace_all(persistence.load(self._state_path))
        self._router = _build_router(self)

    # Lifecycle ---------------------------------------------------------------------

    def start(self) -> Emulator:
        """Serve in a background thread (port 0 picks a free port); returns ``self``."""
        if self._server is None:
            self._server = BackgroundServer(
                self.host, self._requested_port, self.handle, verbose=self.verbose
            )
            self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and finish pending webhook deliveries."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        if self._webhooks is not None:
            self._webhooks.close()
        self._persist()

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
        # Bound to every interface: loopback is the address that surely reaches it.
        wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104
        host = wildcard.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def public_url(self) -> str:
        """The base URL of the consent links: ``url``, unless told otherwise."""
        return self._public_url or self.url

    @property
    def masked_api_key(self) -> str:
        return mask(self.api_key)

    # Connections -------------------------------------------------------------------

    def connect(
        self,
        provider: str,
        user_id: str,
        organization_id: str | None = None,
        scopes: Sequence[str] | None = None,
        missing_scopes: Sequence[str] = (),
    ) -> Connection:
        """Connect (or re-connect) an account with a fresh token; ``connected`` webhook.

        ``scopes=None`` grants the provider's default scopes.
        """
        known = self._provider(provider)
        granted = known.scopes if scopes is None else tuple(_strings(scopes, "scopes"))
        missing = tuple(_strings(missing_scopes, "missing_scopes"))
        key = self._key(provider, user_id, organization_id)
        with self._changes:
            connection = self._store.connect(key, granted, missing)
            delivery = self._changed(EVENT_CONNECTED, connection)
        _await(delivery)
        return connection

    def needs_reauthorization(
        self, provider: str, user_id: str, organization_id: str | None = None
    ) -> Connection:
        """Flip a connection to ``needs_reauthorization``; webhook on the transition."""
        key = self._key(provider, user_id, organization_id)
        with self._changes:
            connection, changed = self._store.set_state(key, NEEDS_REAUTHORIZATION)
            event = EVENT_REAUTHORIZATION_NEEDED if changed else None
            delivery = self._changed(event, connection)
        _await(delivery)
        return connection

    def disconnect(
        self, provider: str, user_id: str, organization_id: str | None = None
    ) -> Connection:
        """Remove a connection (token calls answer ``not_installed``); webhook."""
        return self.remove_connection(self._key(provider, user_id, organization_id), wait=True)

    def expire(self, provider: str, user_id: str, organization_id: str | None = None) -> Connection:
        """Make the current token expired, so the next token call rotates it."""
        key = self._key(provider, user_id, organization_id)
        with self._changes:
            connection = self._store.expire(key)
            self._changed(None, connection)
        return connection

    def connection(
        self, provider: str, user_id: str, organization_id: str | None = None
    ) -> Connection | None:
        return self._store.get(make_key(provider, user_id, organization_id))

    def connections(self) -> list[Connection]:
        return self._store.all()

    # Faults ------------------------------------------------------------------------

    def inject_fault(
        self,
        kind: str,
        count: int = 1,
        status: int = 503,
        retry_after: int | str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Spoil the next ``count`` token calls (after any faults already queued).

        ``kind``: ``status`` (answer ``status``, with ``Retry-After`` if given),
        ``latency`` (wait ``delay`` s, then answer normally), ``drop`` (hang up without
        an answer), ``drop_mid_answer`` (hang up halfway through the body) or
        ``malformed`` (200 with a body of the wrong shape). ``delay`` applies to every
        kind, so a slow 503 is possible too.
        """
        self._faults.add(make_fault(kind, status, retry_after, delay), count)

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
        with self._lock:
            return self._token_calls

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every webhook event emitted, whether or not a webhook URL is configured."""
        with self._lock:
            return list(self._events)

    @property
    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        """Wait until every queued webhook is delivered or given up; False on timeout."""
        return True if self._webhooks is None else self._webhooks.wait(timeout)

    def reset(self) -> None:
        """Forget connections, consents, faults, calls and events (no webhooks sent)."""
        with self._changes:
            self._store.clear()
            self._faults.clear()
            with self._lock:
                self._calls.clear()
                self._events.clear()
                self._deliveries.clear()
                self._token_calls = 0
            self._persist()

    # Used by the HTTP handlers -----------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request; never raises, whatever the request looks like."""
        try:
            return self._router.dispatch(request)
        except Exception:
            logger.exception("emulator failed on %s %s", request.method, request.path)
            return error_response(500, "The emulator failed on this request.", "server_error")

    def accepts(self, request: Request) -> bool:
        """Whether the request carries ``Authorization: Bearer <our API key>``."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        expected = self.api_key.encode("utf-8")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            key.strip().encode("utf-8"), expected
        )

    def record_call(self, request: Request, body: Any) -> None:
        headers = dict(request.headers)
        if "authorization" in headers:
            scheme, space, key = headers["authorization"].partition(" ")
            headers["authorization"] = f"{scheme} {mask(key)}" if space else mask(scheme)
        with self._lock:
            self._calls.append(Call(request.method, request.target, body, headers))

    def take_token_fault(self) -> Fault | None:
        """Count a token call and take the fault it should suffer, if any."""
        with self._lock:
            self._token_calls += 1
        return self._faults.take()

    def issue_token(
        self, provider: str, user_id: str, organization_id: str | None
    ) -> Connection | None:
        """The connection behind a token call, its token rotated first if it is due."""
        connection, rotated = self._store.token(make_key(provider, user_id, organization_id))
        if rotated:
            self._persist()
        return connection

    def start_consent(
        self,
        provider: str,
        user_id: str,
        organization_id: str | None,
        return_to: str | None,
        connection_intent: str | None = None,
        connected_account_id: str | None = None,
    ) -> ConsentRequest:
        consent = ConsentRequest(
            id=wire.new_id("consent").lower(),
            state=secrets.token_urlsafe(24),
            provider=provider,
            user_id=user_id,
            organization_id=organization_id or None,
            return_to=return_to,
            connection_intent=connection_intent,
            connected_account_id=connected_account_id,
            created_at=wire.now(),
        )
        self._store.add_consent(consent)
        return consent

    def pending_consent(self, consent_id: str) -> ConsentRequest | None:
        return self._store.consent(consent_id)

    def answer_consent(self, consent_id: str, allow: bool) -> ConsentRequest | None:
        """Allow (connect the account) or deny a consent; ``None`` if already answered."""
        consent = self._store.pop_consent(consent_id)
        if consent is not None and allow:
            self.connect(
                consent.provider,
                consent.user_id,
                consent.organization_id,
                scopes=self.consent_scopes(consent),
            )
        return consent

    def consent_scopes(self, consent: ConsentRequest) -> tuple[str, ...]:
        """What Allow grants: what the account had and lacked, or the provider's defaults."""
        existing = self._store.get(
            make_key(consent.provider, consent.user_id, consent.organization_id)
        )
        if existing is None:
            return self.providers[consent.provider].scopes
        return tuple(dict.fromkeys(existing.scopes + existing.missing_scopes))

    def remove_connection(self, key: Key, *, wait: bool) -> Connection:
        """Disconnect; ``wait`` for the webhook unless answering the wire's own DELETE."""
        with self._changes:
            removed = self._store.remove(key)
            delivery = self._changed(EVENT_DISCONNECTED, removed, state=DISCONNECTED)
        if wait:
            _await(delivery)
        return removed

    # Internals ---------------------------------------------------------------------

    def _provider(self, slug: str) -> Provider:
        try:
            return self.providers[slug]
        except KeyError:
            known = ", ".join(sorted(self.providers))
            raise ValueError(f"unknown provider {slug!r}; known: {known}") from None

    def _key(self, provider: str, user_id: str, organization_id: str | None) -> Key:
        self._provider(provider)
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("user_id must be a non-empty string")
        return make_key(provider, user_id, organization_id)

    def _changed(
        self, event_type: str | None, connection: Connection, *, state: str | None = None
    ) -> Delivery | None:
        """Save the state and queue the change's webhook (under ``_changes``, so in order)."""
        self._persist()
        if event_type is None:
            return None
        event = wire.event_envelope(event_type, connection.event_data(state))
        delivery = self._webhooks.send(event) if self._webhooks is not None else None
        with self._lock:
            self._events.append(event)
            if delivery is not None:
                self._deliveries.append(delivery)
        return delivery

    def _persist(self) -> None:
        if self._state_path is None:
            return
        with self._save_lock:
            try:
                persistence.save(self._state_path, self._store.all())
            except OSError as exc:
                logger.warning("could not save the state to %s: %s", self._state_path, exc)


def _await(delivery: Delivery | None) -> None:
    """Wait, bounded, until the receiver has had the webhook (or it was given up)."""
    if delivery is not None and not delivery.done.wait(WEBHOOK_WAIT):
        logger.warning("webhook %s still pending after %.0f s", delivery.event["id"], WEBHOOK_WAIT)


def _strings(values: Sequence[str], name: str) -> list[str]:
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{name} must be a list of strings")
    return list(values)


def _build_router(emulator: Emulator) -> Router:
    router = Router()
    PipesApi(emulator).register(router)
    ConsentPages(emulator).register(router)
    ControlApi(emulator).register(router)
    return router
