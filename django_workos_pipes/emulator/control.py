"""The control API and page under ``/_emulator/``: drive the emulator from outside.

Other processes (the example project, a browser test, a developer with curl) flip
connections, queue faults and read what happened here. Every action accepts JSON and
answers JSON, or accepts the control page's HTML forms and redirects back to the
page. No API key is needed: the emulator is a local tool and binds to 127.0.0.1 by
default.

Without a key, what keeps other web pages the developer visits away is the browser's
own rules, checked here on every request: the ``Host`` must be one of the emulator's
own names (against DNS rebinding), an ``Origin``, when there is one, the emulator's
own, and a POST must be JSON, which no other site can send without the emulator's
leave (forms and ``text/plain`` can be sent cross-site; the page's own forms carry the
page's origin). A DELETE needs no such check: no browser sends one cross-site without
a CORS preflight, which the emulator never grants.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from ..masking import mask
from .accounts import CHANGES, Accounts
from .calls import CallLog
from .directory import Directory, Taken, User
from .endpoint import Endpoint
from .faults import FaultQueue, check_retry_after, make_fault
from .methods import ConnectionMethods
from .pages import Dashboard, control_page
from .state import (
    API_KEY,
    KEEP,
    OAUTH,
    OWNERS,
    USER,
    Connection,
    Keep,
    UnknownConnection,
)
from .web import (
    OWN_FORMS_HEADERS,
    Handler,
    HttpError,
    Request,
    Response,
    Router,
    error_response,
    html_response,
    json_response,
    no_content,
    redirect,
)

PAGE = "/_emulator/"
RECENT_EVENTS = 20
NOTICES = {
    "needs_reauthorization": "Done: needs reauthorization.",
    "disconnect": "Done: disconnected.",
    "expire": "Token expired. No webhook (WorkOS sends none): the next token call gets a "
    "fresh token.",
    "revoke_at_provider": "Revoked at the provider: its API refuses the token now. No webhook "
    "yet: the next token call finds out, answers needs_reauthorization and sends one.",
}


class ControlApi:
    """Handlers for ``/_emulator/*``.

    ``connections``: the emulator, whose ``connect`` a subclass may wrap.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        accounts: Accounts,
        faults: FaultQueue,
        calls: CallLog,
        connections: ConnectionMethods,
        webhook_url: str | None,
        webhook_secret: str | None = None,
        *,
        directory: Directory,
    ) -> None:
        self.endpoint = endpoint
        self.directory = directory
        self.accounts = accounts
        self.faults = faults
        self.call_log = calls
        self.connections = connections
        self.webhook_url = webhook_url
        self._webhook_secret = webhook_secret

    def register(self, router: Router) -> None:
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/_emulator", self.page),
            ("GET", "/_emulator/state", self.state),
            ("POST", "/_emulator/connections", self.connect),
            ("POST", "/_emulator/connections/{action}", self.change),
            ("POST", "/_emulator/users", self.create_user),
            ("POST", "/_emulator/organizations", self.create_organization),
            ("POST", "/_emulator/settings", self.settings),
            ("POST", "/_emulator/faults", self.add_fault),
            ("DELETE", "/_emulator/faults", self.clear_faults),
            ("POST", "/_emulator/faults/clear", self.clear_faults),
            ("GET", "/_emulator/calls", self.calls),
            ("GET", "/_emulator/events", self.events),
            ("POST", "/_emulator/reset", self.reset),
        ]
        for method, pattern, handler in routes:
            router.add(method, pattern, self._guarded(handler))

    # Reading -----------------------------------------------------------------------

    def page(self, request: Request, params: Mapping[str, str]) -> Response:
        accounts = self.accounts
        board = Dashboard(
            base_url=self.endpoint.url,
            api_key=self.endpoint.shown_api_key,
            api_key_in_full=self.endpoint.shown_api_key == self.endpoint.api_key,
            webhook_url=self.webhook_url,
            # The emulator has no built-in webhook secret: the one it was given is masked.
            webhook_secret=mask(self._webhook_secret) if self._webhook_secret else None,
            token_calls=self.call_log.token_calls,
            listing_calls=self.call_log.listing_calls,
            provider_calls=self.call_log.provider_calls,
            providers=list(accounts.providers.values()),
            connections=accounts.all(),
            users=self.directory.all(),
            organizations=self.directory.organizations(),
            event_family=accounts.event_family,
            faults=self.faults.pending(),
            events=list(reversed(accounts.events[-RECENT_EVENTS:])),
            deliveries={str(d.event["id"]): d.to_json() for d in accounts.deliveries},
            notice=request.query.get("notice"),
            error=request.query.get("error"),
        )
        return html_response(200, control_page(board), OWN_FORMS_HEADERS)

    def state(self, request: Request, params: Mapping[str, str]) -> Response:
        accounts = self.accounts
        return json_response(
            200,
            {
                "url": self.endpoint.url,
                "api_key": self.endpoint.masked_api_key,
                "webhook_url": self.webhook_url,
                "token_lifetime": accounts.token_lifetime,
                "event_family": accounts.event_family,
                "providers": sorted(accounts.providers),
                "connections": [_connection_json(c) for c in accounts.all()],
                "faults": self.faults.pending(),
                "token_calls": self.call_log.token_calls,
                "listing_calls": self.call_log.listing_calls,
                "provider_calls": self.call_log.provider_calls,
                "users": [_user_json(user) for user in self.directory.all()],
                "organizations": [o.to_api() for o in self.directory.organizations()],
            },
        )

    def calls(self, request: Request, params: Mapping[str, str]) -> Response:
        log = self.call_log
        calls = [call._asdict() for call in log.calls]
        counts = {
            "token_calls": log.token_calls,
            "listing_calls": log.listing_calls,
            "provider_calls": log.provider_calls,
        }
        return json_response(200, {**counts, "counts": log.counts(), "calls": calls})

    def events(self, request: Request, params: Mapping[str, str]) -> Response:
        deliveries = [delivery.to_json() for delivery in self.accounts.deliveries]
        return json_response(200, {"events": self.accounts.events, "deliveries": deliveries})

    # Changing ----------------------------------------------------------------------

    def connect(self, request: Request, params: Mapping[str, str]) -> Response:
        """Connect an account (``auth_method: "oauth"``, the default) or install an API key
        (``"api_key"``, with ``api_key`` and ``config``), for a user or (``owner:
        "organization"``) an organization; ``connection_intent: "add"`` adds another."""

        def act(data: dict[str, Any]) -> Response:
            owner = _owner(data)
            user_id = _user(data, owner)
            common: dict[str, Any] = {
                "owner": owner,
                "account_display_name": _label(data, "account_display_name"),
                "connection_intent": _intent(data),
                "connected_account_id": _optional(data, "connected_account_id"),
                "config": _config(data.get("config")),
            }
            provider, organization_id = (
                _required(data, "provider"),
                _optional(data, "organization_id"),
            )
            method = _optional(data, "auth_method") or OAUTH
            if method == API_KEY:
                connection = self.connections.install_api_key(
                    provider,
                    user_id,
                    organization_id,
                    api_key=_optional(data, "api_key"),
                    **common,
                )
            elif method == OAUTH:
                scopes = data.get("scopes")
                connection = self.connections.connect(
                    provider,
                    user_id,
                    organization_id,
                    scopes=None if scopes in (None, "") else _scope_list(scopes),
                    missing_scopes=_scope_list(data.get("missing_scopes") or []),
                    **common,
                )
            else:
                raise ValueError("auth_method must be oauth or api_key")
            notice = "API key installed." if method == API_KEY else "Connected."
            return self._done(request, 201, _connection_json(connection), notice)

        return self._run(request, act)

    def change(self, request: Request, params: Mapping[str, str]) -> Response:
        action = params["action"]
        if action not in CHANGES:
            return error_response(404, f"Unknown action {action!r}.", "not_found")

        def act(data: dict[str, Any]) -> Response:
            owner = _owner(data)
            account_id = _optional(data, "connected_account_id")
            connection = self.accounts.change(
                action,
                _required(data, "provider"),
                _user(data, owner, required=account_id is None),
                _optional(data, "organization_id"),
                owner,
                account_id,
            )
            notice = NOTICES[action]
            return self._done(request, 200, _connection_json(connection), notice)

        return self._run(request, act)

    def create_organization(self, request: Request, params: Mapping[str, str]) -> Response:
        """An organization a site can link its own to (``name``, ``external_id``)."""

        def act(data: dict[str, Any]) -> Response:
            try:
                organization = self.directory.create_organization(
                    _required(data, "name"), _optional(data, "external_id")
                )
            except Taken as taken:
                raise _Conflict(f"{taken.field} is taken by another organization") from None
            return self._done(request, 201, organization.to_api(), "Organization created.")

        return self._run(request, act)

    def settings(self, request: Request, params: Mapping[str, str]) -> Response:
        """Switch the webhooks' event family (``event_family``)."""

        def act(data: dict[str, Any]) -> Response:
            family = _optional(data, "event_family")
            if family is not None:
                self.accounts.event_family = family
            body = {"event_family": self.accounts.event_family}
            return self._done(request, 200, body, f"Webhooks now named {family}.*.")

        return self._run(request, act)

    def create_user(self, request: Request, params: Mapping[str, str]) -> Response:
        """A user for the user-management endpoints (and its organizations)."""

        def act(data: dict[str, Any]) -> Response:
            fields = {
                name: _optional(data, name)
                for name in ("first_name", "last_name", "external_id")
                if _optional(data, name) is not None
            }
            try:
                user = self.directory.create(
                    _required(data, "email"), _organizations(data), **fields
                )
            except Taken as taken:
                raise _Conflict(f"{taken.field} is taken by another user") from None
            return self._done(request, 201, _user_json(user), "User created.")

        return self._run(request, act)

    def add_fault(self, request: Request, params: Mapping[str, str]) -> Response:
        def act(data: dict[str, Any]) -> Response:
            fault = make_fault(
                _required(data, "kind"),
                status=_integer(data, "status", 503),
                retry_after=_retry_after(data.get("retry_after")),
                delay=_decimal(data, "delay", 0.0),
                on=_optional(data, "on") or "token",
            )
            self.faults.add(fault, _integer(data, "count", 1))
            return self._done(request, 201, {"faults": self.faults.pending()}, "Fault queued.")

        return self._run(request, act)

    def clear_faults(self, request: Request, params: Mapping[str, str]) -> Response:
        self.faults.clear()
        return self._done(request, 204, None, "Faults cleared.")

    def reset(self, request: Request, params: Mapping[str, str]) -> Response:
        self.accounts.reset()
        self.directory.clear()
        self.faults.clear()
        self.call_log.clear()
        return self._done(request, 204, None, "Emulator reset.")

    # Shared steps ------------------------------------------------------------------

    def _guarded(self, handler: Handler) -> Handler:
        def guarded(request: Request, params: Mapping[str, str]) -> Response:
            refusal = self._refusal(request)
            return handler(request, params) if refusal is None else refusal

        return guarded

    def _refusal(self, request: Request) -> Response | None:
        """Why a web page, not the developer, may be behind this request; or ``None``."""
        host = request.headers.get("host")
        if host is not None and not self.endpoint.is_own_host(host):
            message = (
                f"Host {host[:100]!r} is not a name of this emulator, so the control API "
                f"won't answer it. Use {self.endpoint.url}/_emulator/, or start the "
                "emulator with --public-url naming this host."
            )
            return error_response(403, message, "forbidden_host")
        origin = request.headers.get("origin")
        if origin is not None and not self.endpoint.is_own_origin(origin, host):
            message = (
                f"Origin {origin[:100]!r} is not this emulator's own: the control API "
                "takes requests from its own page and from programs, not from other sites."
            )
            return error_response(403, message, "forbidden_origin")
        page_form = request.is_form and origin is not None
        if request.method == "POST" and request.media_type != "application/json" and not page_form:
            message = (
                "The control API takes JSON: send Content-Type: application/json "
                "(HTML forms are accepted from the control page itself only)."
            )
            return error_response(415, message, "unsupported_media_type")
        return None

    def _run(self, request: Request, act: Callable[[dict[str, Any]], Response]) -> Response:
        """Read the parameters (form or JSON), act, and turn mistakes into answers."""
        try:
            data: dict[str, Any] = (
                dict(request.form()) if request.is_form else request.json_object()
            )
            return act(data)
        except UnknownConnection as exc:
            return self._failed(request, 404, str(exc), "entity_not_found")
        except _Unsendable as exc:
            return self._failed(request, 400, str(exc), "bad_request")
        except _Conflict as exc:
            return self._failed(request, 409, str(exc), "conflict")
        except (ValueError, TypeError) as exc:
            return self._failed(request, 422, str(exc), "invalid_request_parameters")
        except HttpError as exc:
            return exc.response

    def _done(self, request: Request, status: int, data: Any, notice: str) -> Response:
        if request.is_form:
            return redirect(f"{PAGE}?{urlencode({'notice': notice})}", 303)
        return no_content() if data is None else json_response(status, data)

    def _failed(self, request: Request, status: int, message: str, code: str) -> Response:
        if request.is_form:
            return redirect(f"{PAGE}?{urlencode({'error': message})}", 303)
        return error_response(status, message, code)


def _connection_json(connection: Connection) -> dict[str, Any]:
    """The API object plus what only the emulator knows: the token and its expiry."""
    token = connection.token_answer()["access_token"]
    return {
        **connection.event_data(),
        "missing_scopes": list(connection.missing_scopes),
        "revoked_at_provider": connection.revoked_at_provider,
        "access_token": token["access_token"],
        "expires_at": token["expires_at"],
    }


def _owner(data: Mapping[str, Any]) -> str:
    owner = _optional(data, "owner") or USER
    if owner not in OWNERS:
        raise ValueError("owner must be user or organization")
    return owner


def _user(data: Mapping[str, Any], owner: str, *, required: bool = True) -> str | None:
    """The user: required for a user's account, optional (the member who set it up) for
    an organization's, or when the account is named by its id."""
    if owner == USER and required:
        return _required(data, "user_id")
    return _optional(data, "user_id")


def _intent(data: Mapping[str, Any]) -> str | None:
    intent = _optional(data, "connection_intent")
    if intent not in (None, "add"):
        raise ValueError("connection_intent must be add (or left out)")
    return intent


def _config(value: Any) -> dict[str, str] | None:
    """A config map as JSON, or as the page's "subdomain=acme, region=eu" text."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        pairs = [part.partition("=") for part in re.split(r"[,\n]+", value) if part.strip()]
        if any(not sep or not name.strip() for name, sep, _ in pairs):
            raise ValueError("config must be name=value pairs, separated by commas")
        return {name.strip(): val.strip() for name, _, val in pairs}
    if isinstance(value, dict) and all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()
    ):
        return dict(value)
    raise ValueError("config must map names to strings")


def _user_json(user: User) -> dict[str, Any]:
    return {**user.to_api(), "organization_ids": list(user.organization_ids)}


def _organizations(data: Mapping[str, Any]) -> list[str]:
    """Organization ids as a JSON list, or as the page's "org_1, org_2" text."""
    value = data.get("organization_ids") or []
    if isinstance(value, str):
        return [org for org in re.split(r"[\s,]+", value) if org]
    if isinstance(value, list) and all(isinstance(org, str) and org for org in value):
        return value
    raise ValueError("organization_ids must be a list of strings")


def _required(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} is required")
    return value.strip()


def _optional(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value.strip()


def _label(data: Mapping[str, Any], name: str) -> str | Keep | None:
    """A label: left out (or blank in a form) keeps the current one, null clears it."""
    if name not in data or data[name] == "":
        return KEEP
    value = data[name]
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string or null")
    return value


def _scope_list(value: Any) -> list[str]:
    """Scopes as a JSON list, or as the page's "a, b c" text."""
    if isinstance(value, str):
        return [scope for scope in re.split(r"[\s,]+", value) if scope]
    if isinstance(value, list) and all(isinstance(scope, str) for scope in value):
        return value
    raise ValueError("scopes must be a list of strings")


def _integer(data: Mapping[str, Any], name: str, default: int) -> int:
    value = data.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"{name} must be a whole number")


def _decimal(data: Mapping[str, Any], name: str, default: float) -> float:
    value = data.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be a number")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number") from None


class _Conflict(Exception):
    """The change clashes with what exists (a taken email): 409."""


class _Unsendable(ValueError):
    """A value that could never go out on the wire (400), not merely a wrong one (422)."""


def _retry_after(value: Any) -> int | str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("retry_after must be a number of seconds or an HTTP date")
    given: int | str = value
    if isinstance(given, str):
        given = given.strip(" ")  # typed into the page; any other blank is refused below
        if given.isascii() and given.isdigit():
            return int(given)
    try:
        check_retry_after(given)
    except ValueError as exc:
        raise _Unsendable(str(exc)) from None
    return given
