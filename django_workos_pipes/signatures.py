"""WorkOS webhook signatures: ``WorkOS-Signature: t=<unix ms>, v1=<hex HMAC-SHA256>``.

Pure functions with no Django in them, so the emulator, the test helpers and the
webhook view all sign and check the same way. The digest covers ``"<t>.<raw body>"``
with the timestamp string exactly as sent.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

HEADER = "WorkOS-Signature"
DEFAULT_TOLERANCE = 180
# WorkOS sends about 85 characters; anything far longer is not a signature header, and
# refusing it early bounds the work an anonymous sender can ask for.
MAX_HEADER_LENGTH = 1024
# Milliseconds since 1970 have 13 digits until the year 2286. A longer "timestamp" would
# only exercise int()'s digit limit or overflow the float conversion.
MAX_TIMESTAMP_DIGITS = 16


class SignatureError(ValueError):
    """The header is missing, malformed, stale, or matches none of the secrets."""


def compute_digest(timestamp: str, body: bytes, secret: str) -> str:
    """Lower-case hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    message = timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: float | None = None) -> str:
    """The header value WorkOS would send for ``body``; ``timestamp`` in seconds."""
    issued = time.time() if timestamp is None else timestamp
    stamp = str(int(issued * 1000))
    return f"t={stamp}, v1={compute_digest(stamp, body, secret)}"


def parse_header(header: str) -> tuple[str, list[str]]:
    """Split a header into its timestamp string and its ``v1`` digests.

    Raises :class:`SignatureError` for anything that can't be a WorkOS header, so callers
    never meet ``ValueError`` or ``OverflowError`` from a hostile value.
    """
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError("signature header too long")
    timestamp = ""
    digests: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            timestamp = value
        elif key == "v1":
            digests.append(value)
    valid_timestamp = timestamp.isascii() and timestamp.isdigit()
    if not valid_timestamp or len(timestamp) > MAX_TIMESTAMP_DIGITS or not digests:
        raise SignatureError("malformed signature header")
    return timestamp, digests


def verify(
    body: bytes,
    header: str | None,
    secrets: Iterable[str],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Raise :class:`SignatureError` unless ``header`` signs ``body`` with one of ``secrets``.

    The timestamp must lie within ``tolerance`` seconds of ``now``, in the past or the
    future, so a captured request can't be replayed later. Every comparison is
    constant-time.
    """
    if not header:
        raise SignatureError("missing signature header")
    timestamp, digests = parse_header(header)
    current = time.time() if now is None else now
    if abs(current - int(timestamp) / 1000) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    expected = [compute_digest(timestamp, body, secret) for secret in secrets if secret]
    matched = False
    for candidate in expected:
        for digest in digests:
            matched |= hmac.compare_digest(candidate.encode(), digest.encode("utf-8", "replace"))
    if not matched:
        raise SignatureError("signature does not match")
