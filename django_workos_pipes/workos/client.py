"""The HTTP client for the WorkOS API: one ``requests.Session`` per process.

urllib3's ``Retry`` does the retrying (429, 5xx, connection errors, ``Retry-After``,
capped exponential backoff with jitter, POST included); this module only turns answers
into results and exceptions. Every POST carries an ``Idempotency-Key`` that stays the
same across its retries, so a retried call can't act twice.

``requests`` and urllib3 are imported on the first call to WorkOS, not at import: they
cost tens of milliseconds of every process start (``manage.py`` commands included) that
never talks to WorkOS.
"""

from __future__ import annotations

import functools
import logging
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from .. import __version__, wire
from ..exceptions import (
    InvalidPathSegment,
    PipesAPIError,
    PipesMalformedResponse,
    PipesUnavailable,
)
from ..masking import mask, mask_id
from ..owners import ORGANIZATION, USER, ConnectionRef
from ..results import (
    ACCOUNT_SELECTION_REQUIRED,
    ConnectedAccount,
    Connection,
    CredentialResult,
    TokenResult,
    WorkOSOrganization,
    WorkOSUser,
)

if TYPE_CHECKING:
    import requests
    from urllib3.util.retry import Retry

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@functools.lru_cache(maxsize=1)
def user_agent() -> str:
    import requests

    return f"django-workos-pipes/{__version__} python-requests/{requests.__version__}"


@functools.lru_cache(maxsize=1)
def _capped_retry_class() -> type[Retry]:
    """A ``Retry`` that waits at most ``backoff_max`` for a ``Retry-After``.

    urllib3 honours ``Retry-After`` as sent; inside a web request, a server asking for
    an hour must not hold a worker for an hour. Built on first use, with urllib3.
    """
    from urllib3.util.retry import Retry

    class CappedRetry(Retry):
        def parse_retry_after(self, retry_after: str) -> float:
            return min(super().parse_retry_after(retry_after), self.backoff_max)

    return CappedRetry


class _BearerAuth:
    """``Authorization: Bearer <API key>``, added as the request is sent (requests takes
    any callable as ``auth``).

    The key is then in no variable of a frame that a traceback could show (Django's
    error pages and HTML error e-mails print them), and ``~/.netrc`` can't replace it.
    """

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._api_key}"
        return request

    def __repr__(self) -> str:
        return f"_BearerAuth({mask(self._api_key)!r})"


@functools.lru_cache(maxsize=8)
def _session(
    pid: int, max_retries: int, backoff_factor: float, backoff_max: float
) -> requests.Session:
    """The process's session for one retry policy; ``pid`` keys it so a fork gets its own."""
    import requests
    from requests.adapters import HTTPAdapter

    retry = _capped_retry_class()(
        total=max_retries,
        connect=max_retries,
        read=max_retries,
        status=max_retries,
        other=0,
        redirect=0,
        allowed_methods=None,
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        backoff_jitter=backoff_factor,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=32)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass(frozen=True)
class PipesClient:
    """Calls the WorkOS Pipes endpoints; knows nothing of caching or Django requests."""

    api_key: str
    base_url: str
    timeout: float = 5.0
    max_retries: int = 3
    backoff_factor: float = 0.5
    backoff_max: float = 5.0

    def __repr__(self) -> str:
        return f"PipesClient(base_url={self.base_url!r})"

    def get_access_token(
        self, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> TokenResult:
        """The token answer; ``account_selection_required`` is an inactive answer whether
        WorkOS sends it as a 200 ``error`` or as an error status whose ``code`` it is."""
        parse, inactive = TokenResult.from_api, TokenResult.inactive
        return self._vend(ref, "token", supports_multiple_connections, parse, inactive)

    def get_credentials(
        self, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> CredentialResult:
        """The connection's credential (OAuth token, API key, client-credentials token)
        and the provider's config; fields left unset are left out, as the SDK does.
        ``account_selection_required`` is an inactive answer, as for tokens."""
        parse, inactive = CredentialResult.from_api, CredentialResult.inactive
        return self._vend(ref, "credentials", supports_multiple_connections, parse, inactive)

    def authorize_url(self, ref: ConnectionRef, *, return_to: str) -> str:
        """The WorkOS URL that starts the connect flow; with ``connected_account_id``,
        the flow reauthorizes that account. ``user_id`` is who gives consent, also for
        an organization's connection (which they then don't own)."""
        body = wire.authorize_body(
            ref.user, return_to, ref.organization_id, ref.owner, ref.connected_account_id
        )
        path = f"/data-integrations/{segment(ref.provider)}/authorize"
        labels = _pipe_labels(ref.provider, ref.user_id)
        return self._call("POST", path, _authorize_url, "authorize", labels=labels, json=body)

    def get_connected_account(
        self, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> ConnectedAccount | None:
        """The connected account, or None when WorkOS knows no such account (404).

        A user's account is under ``/user_management/users/{user_id}``, an
        organization's under ``/organizations/{organization_id}``.
        """
        parse = ConnectedAccount.from_api
        return self._on_account(
            "GET", "connected_account", ref, supports_multiple_connections, parse
        )

    def list_data_providers(
        self,
        user_id: str,
        *,
        organization_id: str | None = None,
        supports_multiple_connections: bool = False,
    ) -> tuple[Connection, ...]:
        """Every provider configured in WorkOS, with this user's connection to each."""
        query = {**_organization(organization_id), **_multiple(supports_multiple_connections)}
        path = f"/user_management/users/{segment(user_id)}/data_providers"
        return self._data_providers(path, query, "data_providers", _pipe_labels("*", user_id))

    def list_organization_data_providers(
        self, organization_id: str, *, supports_multiple_connections: bool = False
    ) -> tuple[Connection, ...]:
        """The organization-owned providers, with the organization's connection to each."""
        path = f"/organizations/{segment(organization_id)}/data_providers"
        labels = f"provider=* organization={mask_id(organization_id)}"
        query = _multiple(supports_multiple_connections)
        return self._data_providers(path, query, "organization_data_providers", labels)

    def delete_connected_account(
        self, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> bool:
        """Disconnect the account and drop its stored tokens; False when WorkOS knows no
        such account (404). The provider side is not revoked (WorkOS doesn't)."""
        multiple = supports_multiple_connections
        gone = self._on_account("DELETE", "delete_connected_account", ref, multiple, _done)
        return gone is not None

    def get_user_by_external_id(self, external_id: str) -> WorkOSUser | None:
        """``GET /user_management/users/external_id/{external_id}``; None on a 404."""
        path = f"/user_management/users/external_id/{segment(external_id)}"
        return self._by_external_id(path, external_id, WorkOSUser.from_api, "user")

    def get_organization_by_external_id(self, external_id: str) -> WorkOSOrganization | None:
        """``GET /organizations/external_id/{external_id}``; None on a 404."""
        path = f"/organizations/external_id/{segment(external_id)}"
        return self._by_external_id(path, external_id, WorkOSOrganization.from_api, "organization")

    def create_user(
        self,
        *,
        email: str,
        external_id: str,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> WorkOSUser:
        """``POST /user_management/users``: a new WorkOS user carrying ``external_id``.

        An e-mail address another WorkOS user already has is refused with a 400 whose
        ``errors`` hold the code ``email_not_available``: a :class:`PipesAPIError` with
        that code in ``error_codes``.
        """
        body: dict[str, Any] = {"email": email, "external_id": external_id}
        if first_name:
            body["first_name"] = first_name
        if last_name:
            body["last_name"] = last_name
        path, labels = "/user_management/users", _external_labels(external_id)
        parse = WorkOSUser.from_api
        return self._call(
            "POST", path, parse, "user", labels=labels, operation="create_user", json=body
        )

    def _vend(
        self,
        ref: ConnectionRef,
        what: str,
        supports_multiple_connections: bool,
        parse: Callable[[Any], T],
        inactive: Callable[[str], T],
    ) -> T:
        """``POST /data-integrations/{provider}/{what}``, parsed by ``parse``; the error
        ``account_selection_required`` is the ``inactive`` answer with that code."""
        path = f"/data-integrations/{segment(ref.provider)}/{what}"
        body = _vend_body(ref, supports_multiple_connections)
        labels = _pipe_labels(ref.provider, ref.user_id)
        try:
            return self._call("POST", path, parse, what, labels=labels, json=body)
        except PipesAPIError as exc:
            if exc.code == ACCOUNT_SELECTION_REQUIRED:
                return inactive(ACCOUNT_SELECTION_REQUIRED)
            raise

    def _on_account(
        self,
        method: str,
        operation: str,
        ref: ConnectionRef,
        supports_multiple_connections: bool,
        parse: Callable[[Any], T],
    ) -> T | None:
        """A call on the connected account's path; None on a 404 (no such account)."""
        return self._find(
            method,
            _account_path(ref),
            parse,
            "connected account",
            labels=_account_labels(ref),
            operation=f"organization_{operation}" if ref.owner == ORGANIZATION else operation,
            params=_account_query(ref, supports_multiple_connections),
        )

    def _by_external_id(
        self, path: str, external_id: str, parse: Callable[[Any], T], what: str
    ) -> T | None:
        """``GET`` of the user or organization carrying ``external_id``; None on a 404."""
        labels, operation = _external_labels(external_id), f"{what}_by_external_id"
        return self._find("GET", path, parse, what, labels=labels, operation=operation)

    def _find(
        self, method: str, path: str, parse: Callable[[Any], T], what: str, **request: Any
    ) -> T | None:
        """:meth:`_call` (``request`` is its keyword arguments), or None when WorkOS
        answers 404: it knows no such thing."""
        try:
            return self._call(method, path, parse, what, **request)
        except PipesAPIError as exc:
            if exc.status_code == 404:
                return None
            raise

    def _data_providers(
        self, path: str, query: dict[str, str], operation: str, labels: str
    ) -> tuple[Connection, ...]:
        """A ``data_providers`` listing (a user's or an organization's)."""
        parse = Connection.list_from_api
        return self._call(
            "GET", path, parse, "data providers", labels=labels, operation=operation, params=query
        )

    def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        what: str,
        *,
        labels: str,
        operation: str | None = None,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> T:
        """One call, its answer built by ``parse``; ``what`` names the answer (and the
        call's log line, unless ``operation`` does).

        An answer may hold a secret (a token), so it is a variable of no frame that
        raises (Django's error pages and e-mails print those): a body ``parse`` refuses
        is dropped before :class:`PipesMalformedResponse` is raised.
        """
        data, response = self._request(
            method,
            path,
            operation=operation or what,
            labels=labels,
            json=json,
            params=params or None,
        )
        try:
            return parse(data)
        except ValueError as exc:
            problem = str(exc)
        del data
        raise PipesMalformedResponse(
            f"unexpected {what} answer: {problem}",
            status_code=response.status_code,
            request_id=response.headers.get("X-Request-ID"),
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        operation: str,
        labels: str,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> tuple[Any, requests.Response]:
        """Send one call; the decoded JSON body (None for a DELETE's empty answer) and
        the response. Raises on anything but a 2xx."""
        import requests

        headers = {"User-Agent": user_agent(), "Accept": "application/json"}
        if method == "POST":
            headers["Idempotency-Key"] = str(uuid.uuid4())
        started = time.perf_counter()
        try:
            response = self._send(
                method,
                self.base_url + path,
                json=json,
                params=params,
                headers=headers,
                auth=_BearerAuth(self.api_key),
            )
        except requests.RequestException as exc:
            elapsed = (time.perf_counter() - started) * 1000
            _log_call(operation, labels, type(exc).__name__, None, elapsed)
            raise PipesUnavailable(f"WorkOS could not be reached ({type(exc).__name__})") from None
        elapsed = (time.perf_counter() - started) * 1000
        request_id = response.headers.get("X-Request-ID")
        _log_call(operation, labels, response.status_code, request_id, elapsed)
        return _decode(response, request_id, expect_body=method != "DELETE"), response

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Send the request and read its whole answer, within one budget of retries.

        urllib3 retries what fails before an answer's headers arrive; an answer whose
        body is cut short (the connection dropped halfway) fails later, while the body
        is read, so it is retried here, from what is left of the same budget.
        """
        import requests
        import urllib3
        from urllib3.exceptions import ProtocolError
        from urllib3.util.retry import Retry

        retries_left = self.max_retries
        while True:
            session = _session(os.getpid(), retries_left, self.backoff_factor, self.backoff_max)
            response = session.request(
                method, url, timeout=self.timeout, allow_redirects=False, stream=True, **kwargs
            )
            try:
                response.content  # noqa: B018 - reads the body here, where a cut is retried
                return response
            except requests.exceptions.ChunkedEncodingError:
                response.close()
                retry = response.raw.retries if response.raw is not None else None
                if not isinstance(retry, Retry):
                    raise
                try:
                    retry = retry.increment(method, url, error=ProtocolError("answer cut short"))
                except urllib3.exceptions.HTTPError:
                    raise requests.exceptions.ChunkedEncodingError("answer cut short") from None
                logger.warning("WorkOS answer cut short; retrying (%s left)", retry.total)
                retry.sleep()
                retries_left = int(retry.total or 0)


def segment(value: str) -> str:
    """One path segment, percent-encoded on its own (``/``, ``?``, ``#``, ``%``...).

    Empty, ``.`` and ``..`` are refused, as the official SDK does: requests and urllib3
    resolve dot segments, so ``/users/<id>/connected_accounts/..`` would be a GET of
    ``/users/<id>/``.
    """
    if value in ("", ".", ".."):
        raise InvalidPathSegment(f"{value!r} can't be a path segment of a WorkOS URL")
    return quote(value, safe="")


def _account_path(ref: ConnectionRef) -> str:
    """Where a connected account is: under the organization for its own connections,
    under the user otherwise."""
    if ref.owner == ORGANIZATION:
        root = f"/organizations/{segment(ref.organization_id or '')}"
    else:
        root = f"/user_management/users/{segment(ref.user_id or '')}"
    return f"{root}/connected_accounts/{segment(ref.provider)}"


def _account_labels(ref: ConnectionRef) -> str:
    """The log line's labels of a call on a connected account: its owner's id, masked."""
    if ref.owner == ORGANIZATION:
        return f"provider={ref.provider} organization={mask_id(ref.organization_id)}"
    return _pipe_labels(ref.provider, ref.user_id or "")


def _account_query(ref: ConnectionRef, supports_multiple_connections: bool) -> dict[str, str]:
    """The query of the connected-account endpoints (the organization's takes no
    ``organization_id``: it is in the path)."""
    query = _organization(ref.organization_id) if ref.owner == USER else {}
    if ref.connected_account_id:
        query["connected_account_id"] = ref.connected_account_id
    return {**query, **_multiple(supports_multiple_connections)}


def _vend_body(ref: ConnectionRef, supports_multiple_connections: bool) -> dict[str, Any]:
    """The body of the token and credentials calls. A field is left out when it says
    nothing new (as the official SDK does): the owner unless it is the organization, the
    account unless one is named, the multiple-connections flag unless it is on."""
    body: dict[str, Any] = {
        "user_id": ref.user,
        **wire.owner_fields(ref.organization_id, ref.owner),
    }
    if ref.connected_account_id is not None:
        body["connected_account_id"] = ref.connected_account_id
    if supports_multiple_connections:
        body["supports_multiple_connections"] = True
    return body


def _organization(organization_id: str | None) -> dict[str, str]:
    """The query of the user endpoints: ``organization_id`` when there is one."""
    return {"organization_id": organization_id} if organization_id else {}


def _multiple(supports_multiple_connections: bool) -> dict[str, str]:
    """WorkOS's ``supports_multiple_connections`` flag, in a query, when it is on."""
    return {"supports_multiple_connections": "true"} if supports_multiple_connections else {}


def _authorize_url(data: Any) -> str:
    """The consent URL of an authorize answer."""
    url = data.get("url") if isinstance(data, Mapping) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise ValueError("no 'url'")
    return url


def _done(data: Any) -> bool:
    """A DELETE's (empty) answer: it was done."""
    return True


def _decode(response: requests.Response, request_id: str | None, expect_body: bool = True) -> Any:
    status = response.status_code
    if status in RETRY_STATUSES:
        raise PipesUnavailable(
            f"WorkOS answered {status} after retries", status_code=status, request_id=request_id
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    if 200 <= status < 300:
        if data is None and expect_body:
            raise PipesMalformedResponse(
                "answer is not JSON", status_code=status, request_id=request_id
            )
        return data
    if status >= 500:
        raise PipesUnavailable(
            f"WorkOS answered {status}", status_code=status, request_id=request_id
        )
    message, code = _error_details(data, response.reason)
    raise PipesAPIError(
        message,
        status_code=status,
        request_id=request_id,
        code=code,
        error_codes=_error_codes(data),
    )


def _error_details(data: Any, reason: str | None) -> tuple[str, str | None]:
    """WorkOS error bodies use ``message``/``code``, sometimes ``error``/``error_description``."""
    if not isinstance(data, Mapping):
        return reason or "error", None
    message = data.get("message") or data.get("error_description") or data.get("error")
    code = data.get("code") or data.get("error")
    return (
        str(message) if message else (reason or "error"),
        str(code) if code else None,
    )


def _error_codes(data: Any) -> tuple[str, ...]:
    """The ``code`` of each entry of an error body's ``errors`` list."""
    errors = data.get("errors") if isinstance(data, Mapping) else None
    if not isinstance(errors, list):
        return ()
    codes = (item.get("code") for item in errors if isinstance(item, Mapping))
    return tuple(code for code in codes if isinstance(code, str) and code)


def _pipe_labels(provider: str, user_id: str | None) -> str:
    return f"provider={provider} user={mask_id(user_id)}"


def _external_labels(external_id: str) -> str:
    return f"external_id={mask_id(external_id)}"


def _log_call(
    operation: str,
    labels: str,
    status: int | str,
    request_id: str | None,
    elapsed_ms: float,
) -> None:
    logger.info(
        "WorkOS %s %s status=%s request_id=%s elapsed_ms=%.0f",
        operation,
        labels,
        status,
        request_id or "-",
        elapsed_ms,
    )
