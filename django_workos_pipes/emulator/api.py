"""The WorkOS Pipes endpoints, answering exactly in the wire format.

``POST /data-integrations/{provider}/token`` and ``/authorize``, and
``GET|DELETE /user_management/users/{user_id}/connected_accounts/{provider}``. Every
request is recorded for tests; token calls are counted and may suffer injected faults
before anything else (an outage answers whatever the request says).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .. import wire
from .accounts import Accounts, IssueToken
from .calls import CallLog
from .endpoint import Endpoint
from .faults import FaultQueue, cut_short, fault_response
from .state import CONNECTED, NEEDS_REAUTHORIZATION, UnknownConnection, make_key
from .web import (
    Handler,
    HttpError,
    Request,
    Response,
    Router,
    error_response,
    json_response,
    no_content,
)

CONNECTION_INTENTS = ("add", "reauthorize")


class PipesApi:
    """The handlers of the API surface a WorkOS client talks to.

    ``issue_token`` is :meth:`Accounts.issue_token` or a method wrapping it.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        accounts: Accounts,
        faults: FaultQueue,
        calls: CallLog,
        issue_token: IssueToken,
    ) -> None:
        self.endpoint = endpoint
        self.accounts = accounts
        self.faults = faults
        self.calls = calls
        self.issue_token = issue_token

    def register(self, router: Router) -> None:
        router.add("POST", "/data-integrations/{provider}/token", self.token)
        router.add("POST", "/data-integrations/{provider}/authorize", self.authorize)
        account = "/user_management/users/{user_id}/connected_accounts/{provider}"
        router.add("GET", account, self.get_account)
        router.add("DELETE", account, self.delete_account)

    def token(self, request: Request, params: Mapping[str, str]) -> Response:
        self._record(request)
        self.calls.count_token_call()
        fault = self.faults.take()
        if fault is not None:
            time.sleep(fault.delay)
            early = fault_response(fault)
            if early is not None:
                return early
        answer = self._answer(self._token, request, params)
        return (
            cut_short(answer) if fault is not None and fault.kind == "drop_mid_answer" else answer
        )

    def authorize(self, request: Request, params: Mapping[str, str]) -> Response:
        self._record(request)
        return self._answer(self._authorize, request, params)

    def get_account(self, request: Request, params: Mapping[str, str]) -> Response:
        self._record(request)
        return self._answer(self._get_account, request, params)

    def delete_account(self, request: Request, params: Mapping[str, str]) -> Response:
        self._record(request)
        return self._answer(self._delete_account, request, params)

    # The answers, once the request is recorded -------------------------------------

    def _token(self, request: Request, params: Mapping[str, str]) -> Response:
        provider = self._provider(params)
        user_id, organization_id = _identity(request.json_object())
        connection = self.issue_token(provider, user_id, organization_id)
        if connection is None:
            return json_response(200, wire.inactive_token_answer(wire.NOT_INSTALLED))
        if connection.state != CONNECTED:
            return json_response(200, wire.inactive_token_answer(NEEDS_REAUTHORIZATION))
        return json_response(200, connection.token_answer())

    def _authorize(self, request: Request, params: Mapping[str, str]) -> Response:
        provider = self._provider(params)
        body = request.json_object()
        user_id, organization_id = _identity(body)
        return_to = _optional_string(body, "return_to")
        if return_to is not None and not _is_web_url(return_to):
            raise _invalid("return_to", "must be an absolute http(s) URL")
        intent = _optional_string(body, "connection_intent")
        if intent is not None and intent not in CONNECTION_INTENTS:
            raise _invalid("connection_intent", "must be 'add' or 'reauthorize'")
        if body.get("code_challenge") is not None:
            raise _invalid("code_challenge", "is not supported by the emulator (finish flow)")
        account_id = _optional_string(body, "connected_account_id")
        if intent == "reauthorize" and account_id is None:
            raise _invalid("connected_account_id", "is required to reauthorize")
        consent = self.accounts.start_consent(
            provider, user_id, organization_id, return_to, intent, account_id
        )
        url = f"{self.endpoint.public_url}/consent/{consent.id}"
        return json_response(200, {"url": url, "state": consent.state})

    def _get_account(self, request: Request, params: Mapping[str, str]) -> Response:
        provider = self._provider(params)
        connection = self.accounts.get(
            provider, params["user_id"], request.query.get("organization_id")
        )
        if connection is None:
            raise _account_not_found(params)
        return json_response(200, connection.connected_account())

    def _delete_account(self, request: Request, params: Mapping[str, str]) -> Response:
        provider = self._provider(params)
        key = make_key(provider, params["user_id"], request.query.get("organization_id"))
        try:
            # Like WorkOS, the webhook goes out afterwards: the caller doesn't wait for it.
            self.accounts.remove(key, wait=False)
        except UnknownConnection:
            raise _account_not_found(params) from None
        return no_content()

    # Shared steps ------------------------------------------------------------------

    def _record(self, request: Request) -> None:
        try:
            body = request.json()
        except HttpError:
            body = None
        self.calls.record(request.method, request.target, request.headers, body)

    def _answer(self, step: Handler, request: Request, params: Mapping[str, str]) -> Response:
        """Check the API key, then run ``step``; an :class:`HttpError` becomes its answer."""
        if not self.endpoint.accepts(request.headers):
            return error_response(401, "Unauthorized", "unauthorized")
        try:
            return step(request, params)
        except HttpError as error:
            return error.response

    def _provider(self, params: Mapping[str, str]) -> str:
        slug = params["provider"]
        if slug not in self.accounts.providers:
            raise HttpError(
                error_response(
                    404,
                    f"Could not find a data integration for '{slug}'.",
                    "entity_not_found",
                    entity_id=slug,
                )
            )
        return slug


def _identity(body: dict[str, Any]) -> tuple[str, str | None]:
    user_id = body.get("user_id")
    if not isinstance(user_id, str) or not user_id:
        raise _invalid("user_id", "is required")
    return user_id, _optional_string(body, "organization_id")


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _invalid(name, "must be a string")
    return value


def _is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    printable = all(" " < char < "\x7f" for char in value)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and printable


def _invalid(field: str, problem: str) -> HttpError:
    """A 422 shaped like WorkOS's validation errors."""
    message = f"{field} {problem}"
    return HttpError(
        error_response(
            422,
            "Validation failed",
            "invalid_request_parameters",
            errors=[{"field": field, "code": f"{field}_invalid", "message": message}],
        )
    )


def _account_not_found(params: Mapping[str, str]) -> HttpError:
    return HttpError(
        error_response(
            404,
            f"No {params['provider']} connected account for user '{params['user_id']}'.",
            "entity_not_found",
        )
    )
