"""Requests, responses and routing: the little web framework the emulator needs.

Handlers take a :class:`Request` and return a :class:`Response`; they never touch a
socket. That keeps them easy to read and lets the server alone decide how bytes go
out, including the deliberately broken answers of the fault injector.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, quote

from .. import wire

MAX_BODY = 1024 * 1024
# WorkOS request bodies are objects of strings, lists and small maps: three levels.
# Far deeper is an attack on the parser, and every later json.dumps of it.
MAX_JSON_DEPTH = 32
SERVER = "WorkOS-Pipes-Emulator"
_NO_BODY = {204, 304}
_CSP = "default-src 'none'; style-src 'unsafe-inline'"
_SECURITY_HEADERS = (
    ("Content-Security-Policy", _CSP),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)
# A page whose forms post to its own origin: browsers send ``Origin: null`` on POSTs
# from a ``no-referrer`` page, so this one keeps its origin for same-origin requests,
# and its forms may post nowhere else.
OWN_FORMS_HEADERS = (
    ("Content-Security-Policy", f"{_CSP}; form-action 'self'"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True)
class Request:
    """One HTTP request, read in full; header names are lower case."""

    method: str
    target: str
    path: str
    segments: tuple[str, ...]
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    request_id: str

    @property
    def media_type(self) -> str:
        """``application/json`` from ``Content-Type: Application/JSON; charset=utf-8``."""
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()

    @property
    def is_form(self) -> bool:
        return self.media_type == "application/x-www-form-urlencoded"

    def json(self) -> Any:
        """The parsed JSON body (``None`` when empty); a 400 when it is not JSON."""
        if not self.body.strip():
            return None
        try:
            data = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise _bad_json("The request body is not valid JSON.") from None
        except RecursionError:
            raise _bad_json("The request body is nested too deeply.") from None
        if _nested_deeper_than(data, MAX_JSON_DEPTH):
            raise _bad_json("The request body is nested too deeply.")
        return data

    def json_object(self) -> dict[str, Any]:
        """The JSON body as an object (an empty body counts as ``{}``)."""
        data = self.json()
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise _bad_json("The request body must be a JSON object.")
        return data

    def form(self) -> dict[str, str]:
        """An HTML form's fields (``application/x-www-form-urlencoded``)."""
        text = self.body.decode("utf-8", "replace")
        return dict(parse_qsl(text, keep_blank_values=True))


@dataclass(frozen=True)
class Response:
    """An answer to send; ``cut_after`` sends only that slice of it and hangs up.

    ``cut_after=0`` hangs up before a single byte; a negative value keeps all but that
    many bytes from the end, which cuts the body short after complete headers.
    """

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: Sequence[tuple[str, str]] = field(default_factory=tuple)
    cut_after: int | None = None

    def __post_init__(self) -> None:
        # A value from a request or the control API (a fault's Retry-After) must never
        # end a header early or fail to encode, which would lose the whole answer.
        for name, value in self.headers:
            if not _TOKEN.fullmatch(name) or not is_header_text(value):
                raise ValueError(f"refusing to send the header {name!r}: {value!r}")

    def encode(self, request_id: str, *, close: bool, head_only: bool = False) -> bytes:
        """The full answer as bytes on the wire, with ``X-Request-ID`` always set."""
        lines = [f"HTTP/1.1 {self.status} {wire.status_phrase(self.status)}"]
        lines += [f"Server: {SERVER}", f"Date: {formatdate(usegmt=True)}"]
        lines.append(f"X-Request-ID: {request_id}")
        if self.status not in _NO_BODY:
            if self.content_type:
                lines.append(f"Content-Type: {self.content_type}")
            lines.append(f"Content-Length: {len(self.body)}")
        lines += [f"{name}: {value}" for name, value in self.headers]
        if close:
            lines.append("Connection: close")
        head = "\r\n".join(lines) + "\r\n\r\n"
        skip_body = head_only or self.status in _NO_BODY
        return head.encode("latin-1") + (b"" if skip_body else self.body)


class HttpError(Exception):
    """Raised by a handler to answer with ``response`` right away."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(status: int, data: Any, headers: Sequence[tuple[str, str]] = ()) -> Response:
    body = json.dumps(data, separators=(",", ":")).encode("utf-8")
    return Response(status, body, "application/json", tuple(headers))


def error_response(status: int, message: str, code: str, **extra: Any) -> Response:
    return json_response(status, wire.error_body(message, code, **extra))


def html_response(
    status: int, html: str, headers: Sequence[tuple[str, str]] = _SECURITY_HEADERS
) -> Response:
    return Response(status, html.encode("utf-8"), "text/html; charset=utf-8", tuple(headers))


def redirect(location: str, status: int = 302) -> Response:
    """A redirect; the location is percent-encoded so no header can be smuggled in it."""
    safe = quote(location, safe=":/?#[]@!$&'()*+,;=%~")
    return Response(status, b"", None, (("Location", safe), ("Cache-Control", "no-store")))


def no_content() -> Response:
    return Response(204)


Handler = Callable[[Request, Mapping[str, str]], Response]


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: tuple[str, ...]
    handler: Handler

    def match(self, segments: tuple[str, ...]) -> dict[str, str] | None:
        if len(segments) != len(self.pattern):
            return None
        params: dict[str, str] = {}
        for part, segment in zip(self.pattern, segments, strict=True):
            if part.startswith("{"):
                if not segment:
                    return None
                params[part[1:-1]] = segment
            elif part != segment:
                return None
        return params


class Router:
    """Maps ``(method, "/a/{name}/b")`` to handlers; 404 or 405 for anything else."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append(_Route(method, split_path(pattern), handler))

    def dispatch(self, request: Request) -> Response:
        allowed: list[str] = []
        for route in self._routes:
            params = route.match(request.segments)
            if params is None:
                continue
            if route.method == request.method:
                return route.handler(request, params)
            allowed.append(route.method)
        if allowed:
            return json_response(
                405,
                wire.error_body("Method Not Allowed", "method_not_allowed"),
                (("Allow", ", ".join(sorted(set(allowed)))),),
            )
        return error_response(404, f"No route for {request.method} {request.path}.", "not_found")


def is_header_text(value: str) -> bool:
    """Whether ``value`` can be sent as a header value: printable ASCII only."""
    return all(" " <= char <= "~" for char in value)


def _bad_json(message: str) -> HttpError:
    return HttpError(error_response(400, message, "invalid_json"))


def _nested_deeper_than(data: Any, limit: int) -> bool:
    """Whether lists and objects in ``data`` nest deeper than ``limit`` (no recursion)."""
    todo: list[tuple[Any, int]] = [(data, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, (dict, list)):
            if depth > limit:
                return True
            children = value.values() if isinstance(value, dict) else value
            todo.extend((child, depth + 1) for child in children)
    return False


def split_path(path: str) -> tuple[str, ...]:
    """``/a/b/`` -> ``("a", "b")``: segments are still percent-encoded here."""
    return tuple(part for part in re.split(r"/+", path.strip("/")) if part) if path else ()
