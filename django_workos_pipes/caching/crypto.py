"""Encryption at rest of cached secrets: AES-256-GCM, each value bound to its cache key.

With ``WORKOS_PIPES['ENCRYPTION_KEYS']`` set, a value that holds a secret is stored as
``version byte | 12-byte nonce | ciphertext and tag``, with the version and the cache
key as associated data. A value that was altered, copied under another key (another
user's) or sealed with a key no longer listed does not open: it reads as a miss, and
the caller fetches it again. Without keys, values pass through unchanged.

The first key seals; every listed key opens, so keys rotate without a flush: list the
new key first, and drop the old one once the entries it sealed have expired.

``cryptography`` is imported only when keys are set: it is the optional extra
``django-workos-pipes[encryption]``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import re
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..conf import app_settings
from ..exceptions import PipesConfigurationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SETTING = "ENCRYPTION_KEYS"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
VERSION = b"\x01"
MEMO_SIZE = 1024
"""Opened values remembered per keyring: a cache hit then costs a dictionary lookup,
not a decryption. Safe, since a given ciphertext under a given cache key always opens
to the same value (it is authenticated), and a new keyring starts a new memo."""

_KEY_PATTERN = re.compile(r"[A-Za-z0-9+/_-]{43}=?")


def generate_key() -> str:
    """A fresh key: 32 random bytes, URL-safe base64 (the format of a Fernet key)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def decode_key(value: object) -> bytes | None:
    """The 32 bytes of a key in base64 (URL-safe or standard), or None if it is not one."""
    if not isinstance(value, str) or not _KEY_PATTERN.fullmatch(value.strip()):
        return None
    text = value.strip().rstrip("=").replace("-", "+").replace("_", "/") + "="
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == KEY_BYTES else None


def configured_keys() -> tuple[bytes, ...]:
    """The keys of the current settings, first (the sealing one) first.

    Raises :class:`PipesConfigurationError` naming the setting and the key's position,
    never its value.
    """
    keys: list[bytes] = []
    for position, value in enumerate(app_settings.ENCRYPTION_KEYS, start=1):
        key = decode_key(value)
        if key is None:
            raise PipesConfigurationError(
                f"Key #{position} of {app_settings.source(SETTING)} is not a key: 32 random "
                "bytes in base64 are expected, as `manage.py workos_pipes_generate_key` "
                "prints."
            )
        keys.append(key)
    return tuple(keys)


class Keyring:
    """The listed keys: the first seals, each one opens, in order."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        except ImportError:
            raise PipesConfigurationError(
                f"{app_settings.source(SETTING)} needs the cryptography package: "
                "pip install 'django-workos-pipes[encryption]'."
            ) from None
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._ciphers: tuple[AESGCM, ...] = tuple(AESGCM(key) for key in keys)
        self.unseal = functools.lru_cache(maxsize=MEMO_SIZE)(self._unseal)

    def __repr__(self) -> str:
        return f"Keyring({len(self._ciphers)} keys)"

    def seal(self, context: str, value: Any) -> bytes:
        """``value`` (JSON-able) encrypted with the first key, bound to ``context``."""
        plaintext = json.dumps(value, separators=(",", ":")).encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[0].encrypt(nonce, plaintext, VERSION + context.encode())
        return VERSION + nonce + sealed

    def _unseal(self, context: str, stored: bytes) -> Any:
        """The value sealed under ``context``, or None if no key opens it there.

        JSON arrays come back as tuples: values stay hashable, as the cached tuples are.
        """
        from cryptography.exceptions import InvalidTag

        if len(stored) < 1 + NONCE_BYTES + TAG_BYTES or stored[:1] != VERSION:
            return None
        nonce, sealed = stored[1 : 1 + NONCE_BYTES], stored[1 + NONCE_BYTES :]
        associated = VERSION + context.encode()
        for cipher in self._ciphers:
            try:
                plaintext = cipher.decrypt(nonce, sealed, associated)
            except InvalidTag:
                continue
            try:
                return _tuples(json.loads(plaintext))
            except ValueError:  # sealed by a version that wrote something else
                return None
        return None


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    return value


_current: tuple[int, Keyring | None] | None = None


def keyring() -> Keyring | None:
    """The keyring of the current settings (None: encryption is off), built once until
    Django settings change. A malformed key raises :class:`PipesConfigurationError`."""
    global _current
    memo = _current
    if memo is None or memo[0] != app_settings.generation:
        keys = configured_keys()
        memo = _current = (app_settings.generation, Keyring(keys) if keys else None)
    return memo[1]


def seal(context: str, value: Any) -> Any:
    """What the cache stores under the key ``context``: ``value`` itself when encryption
    is off, else its sealed bytes. ``value`` must then be JSON-able."""
    ring = keyring()
    return value if ring is None else ring.seal(context, value)


def unseal(context: str, stored: Any) -> Any:
    """The value :func:`seal` stored under ``context``; None when it can't be read.

    With encryption on, anything but sealed bytes that open under ``context`` (a value
    written before encryption was turned on, one sealed with a key since removed, or
    copied from another key) is None: a miss. With encryption off, ``stored`` is
    returned as it is, and its reader refuses what it did not write.
    """
    ring = keyring()
    if ring is None:
        return stored
    if not isinstance(stored, bytes):
        return None
    return ring.unseal(context, stored)
