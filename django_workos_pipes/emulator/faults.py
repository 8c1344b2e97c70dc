"""Faults for the next N calls: errors, slowness, and broken connections.

A client has to survive what the real API does on a bad day: 5xx and 429 answers
(with ``Retry-After``), slow answers, connections dropped before or halfway through
an answer, and bodies in the wrong shape. Faults queue up in the order they were
injected; each one serves ``count`` calls of its kind (``on``: token calls unless told
otherwise), then the next one takes over.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from .. import wire
from .web import Response, is_header_text, json_response

FaultKind = Literal["status", "latency", "drop", "drop_mid_answer", "malformed"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
# The calls a fault can spoil: the API's operations, ``any`` of them, or the stand-in
# provider API's (``provider``, which ``any`` leaves alone: it is not WorkOS).
FaultTarget = Literal[
    "token", "credentials", "data_providers", "users", "organizations", "provider", "any"
]
FAULT_TARGETS: tuple[str, ...] = get_args(FaultTarget)

# A body a careless client might accept: ``active`` is true, but the token is a bare
# string instead of the documented ``access_token`` object.
MALFORMED_BODY: dict[str, Any] = {"active": True, "access_token": "ya29.not-an-object"}
# For the other calls: a providers listing whose ``data`` is an object, not a list, and
# an object of no known shape.
MALFORMED_BODIES: Mapping[str, dict[str, Any]] = {
    "token": MALFORMED_BODY,
    "data_providers": {"object": "list", "data": {"salesforce": "connected"}},
}
MALFORMED_OTHER: dict[str, Any] = {"object": "mystery", "data": None}


@dataclass(frozen=True)
class Fault:
    """What to do to a token call instead of (or before) answering it normally."""

    kind: str
    status: int = 503
    retry_after: int | str | None = None
    delay: float = 0.0
    on: str = "token"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
        }
        if self.on != "token":  # token calls: the default, and all there was at first
            data["on"] = self.on
        return data

    def applies_to(self, operation: str) -> bool:
        return self.on == operation or (self.on == "any" and operation != "provider")


def make_fault(
    kind: str,
    status: int = 503,
    retry_after: int | str | None = None,
    delay: float = 0.0,
    on: str = "token",
) -> Fault:
    """Check the parameters once, when the fault is injected, not when it fires."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
    if on not in FAULT_TARGETS:
        expected = ", ".join(FAULT_TARGETS)
        raise ValueError(f"unknown calls {on!r} to spoil; expected one of {expected}")
    if kind == "status" and not 400 <= status <= 599:
        raise ValueError("a status fault needs an HTTP error status (400-599)")
    if not 0 <= delay <= 600:  # also refuses NaN
        raise ValueError("delay must be between 0 and 600 seconds")
    check_retry_after(retry_after)
    return Fault(kind, status, retry_after, float(delay), on)


def check_retry_after(value: object) -> None:
    """Refuse a ``Retry-After`` that can't go in a header as it is.

    Any text is allowed (a client must survive a bad value), but only printable ASCII:
    a line break or a control character would end the header early or break the
    answer, and every call the fault serves would get no answer at all.
    """
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return
    if not isinstance(value, str) or not is_header_text(value):
        raise ValueError(
            "retry_after must be a number of seconds or an HTTP date, in printable ASCII"
        )


class FaultQueue:
    """Thread-safe queue of faults, each with the number of calls it still applies to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[Fault, int]] = []

    def add(self, fault: Fault, count: int = 1) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._pending.append((fault, count))

    def take(self, operation: str = "token") -> Fault | None:
        """The fault for this call (of ``operation``, or a target such as ``users``), if
        any, counting the call against it.

        The first queued fault for such calls serves it: a fault for other calls
        neither serves nor blocks it.
        """
        with self._lock:
            for index, (fault, remaining) in enumerate(self._pending):
                if not fault.applies_to(operation):
                    continue
                if remaining <= 1:
                    self._pending.pop(index)
                else:
                    self._pending[index] = (fault, remaining - 1)
                return fault
            return None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**fault.to_json(), "remaining": n} for fault, n in self._pending]


def fault_response(fault: Fault, operation: str = "token") -> Response | None:
    """The answer a fault gives instead of the normal one; ``None``: answer normally.

    ``latency`` only delays the call and ``drop_mid_answer`` needs the normal answer to
    cut (see :func:`cut_short`), so both answer ``None`` here.
    """
    if fault.kind == "status":
        return _status_response(fault)
    if fault.kind == "drop":
        return Response(status=200, cut_after=0)
    if fault.kind == "malformed":
        return json_response(200, MALFORMED_BODIES.get(operation, MALFORMED_OTHER))
    return None


def cut_short(answer: Response) -> Response:
    """``answer`` with complete headers but only half its body, then a hang-up."""
    return replace(answer, cut_after=-max(1, len(answer.body) // 2))


def _status_response(fault: Fault) -> Response:
    body = wire.error_body(wire.status_phrase(fault.status), wire.status_code_name(fault.status))
    headers = [] if fault.retry_after is None else [("Retry-After", str(fault.retry_after))]
    return json_response(fault.status, body, headers)
