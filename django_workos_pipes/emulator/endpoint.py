"""Where the emulator listens and which API key it accepts.

The handlers need the emulator's own URL (consent links, the control page) and the
key check, but not the rest of the emulator, so they get this small object. Its port
is known only once the server is bound: :class:`~.app.Emulator` sets it on start.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from ..masking import mask

# Bound to every interface: loopback is the address that surely reaches it.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


class Endpoint:
    """The emulator's address (host, port, public URL) and the API key it accepts."""

    def __init__(self, api_key: str, host: str, public_url: str | None = None) -> None:
        self.api_key = api_key
        self.host = host
        self.port: int | None = None
        self._public_url = public_url.rstrip("/") if public_url else None

    @property
    def url(self) -> str:
        """The base URL to give a WorkOS client, without a trailing slash."""
        if self.port is None:
            raise RuntimeError("the emulator is not running; call start() first")
        host = _WILDCARDS.get(self.host, self.host)
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

    def accepts(self, headers: Mapping[str, str]) -> bool:
        """Whether ``headers`` carry ``Authorization: Bearer <our API key>``."""
        scheme, _, key = headers.get("authorization", "").partition(" ")
        expected = self.api_key.encode("utf-8")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            key.strip().encode("utf-8"), expected
        )
