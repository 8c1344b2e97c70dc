"""Small pieces of the WorkOS wire format: identifiers, timestamps and error bodies.

Kept apart from the state and the HTTP plumbing so every answer the emulator gives
formats ids and dates the same way WorkOS does.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A WorkOS-looking id (``ca_01HV…``): a ULID, so ids sort by creation time."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return f"{prefix}_{_base32(value, 26)}"


def stable_id(prefix: str, seed: str) -> str:
    """An id derived from ``seed``, the same on every run (data integration ids)."""
    digest = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest()[:17], "big")
    return f"{prefix}_{_base32(digest, 26)}"


def now() -> datetime:
    """The current UTC time, to the millisecond: the precision the wire format keeps."""
    moment = datetime.now(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def timestamp(moment: datetime) -> str:
    """``2024-03-02T16:30:00.123Z``: the form of WorkOS's ``created_at``/``updated_at``."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def expiry(moment: datetime | None) -> str | None:
    """``2024-03-02T16:30:00Z`` (or ``None``): the form of ``expires_at``."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value: str | None) -> datetime | None:
    """Read back a timestamp written by :func:`timestamp` or :func:`expiry`."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def error_body(message: str, code: str, **extra: Any) -> dict[str, Any]:
    """The ``{"message", "code"}`` error shape every WorkOS error answer uses."""
    return {"message": message, "code": code, **extra}


def status_code_name(status: int) -> str:
    """A WorkOS-style error code for an HTTP status (429 -> ``rate_limit_exceeded``)."""
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        return "rate_limit_exceeded"
    return re.sub(r"[^a-z0-9]+", "_", status_phrase(status).lower()).strip("_") or "error"


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
