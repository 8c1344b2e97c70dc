"""What every call to the WorkOS API surface goes through, and how its parameters are read.

Each call is recorded and counted, may meet an injected fault before anything else (an
outage answers whatever the request says), then needs the API key; a handler's
:class:`~.web.HttpError` becomes its answer. The readers below turn a bad parameter into
the 422 WorkOS answers, so every endpoint refuses the same mistakes the same way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from .calls import CallLog
from .endpoint import Endpoint
from .faults import FaultQueue, cut_short, fault_response
from .web import Handler, HttpError, Request, Response, error_response


class ApiGuard:
    """Records, counts, spoils (faults) and checks the key of each API call."""

    def __init__(self, endpoint: Endpoint, faults: FaultQueue, calls: CallLog) -> None:
        self.endpoint = endpoint
        self.faults = faults
        self.calls = calls

    def serve(
        self,
        operation: str,
        step: Handler,
        request: Request,
        params: Mapping[str, str],
        *,
        target: str | None = None,
    ) -> Response:
        """Answer one call of ``operation`` (``token``, ``get_user``...) with ``step``.

        ``target`` is what faults aim at to reach it (``users`` for every user
        endpoint); by default, the operation's own name.
        """
        self._record(request)
        self.calls.count(operation)
        fault = self.faults.take(target or operation)
        if fault is not None:
            time.sleep(fault.delay)
            early = fault_response(fault, target or operation)
            if early is not None:
                return early
        answer = self._answer(step, request, params)
        if fault is not None and fault.kind == "drop_mid_answer":
            return cut_short(answer)
        return answer

    def route(self, operation: str, step: Handler, target: str | None = None) -> Handler:
        """``step`` behind the guard, as a route handler (see :meth:`serve`)."""

        def handler(request: Request, params: Mapping[str, str]) -> Response:
            return self.serve(operation, step, request, params, target=target)

        return handler

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


# Reading parameters ------------------------------------------------------------------


def required_string(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise invalid(name, "is required")
    return value


def optional_string(data: Mapping[str, Any], name: str) -> str | None:
    """A string field; absent, null and ``""`` all read as ``None``."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(name, "must be a string")
    return value


def flag(data: Mapping[str, Any], name: str) -> bool:
    """A boolean: JSON ``true``/``false`` in a body, ``true``/``false`` in a query."""
    value = data.get(name)
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise invalid(name, "must be true or false")


def invalid(field: str, problem: str) -> HttpError:
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


def not_found(message: str, **extra: Any) -> HttpError:
    return HttpError(error_response(404, message, "entity_not_found", **extra))
