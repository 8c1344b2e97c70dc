"""Where the emulator listens, which API key it accepts, and which names are its own.

The handlers need the emulator's own URL (consent links, the control page), the key
check, and (for the control API) which ``Host`` and ``Origin`` headers are the
emulator's own, but not the rest of the emulator, so they get this small object. Its
port is known only once the server is bound: :class:`~.app.Emulator` sets it on start.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from ..masking import mask

# The key the emulator accepts unless told otherwise. It is public (it is in the
# README), so it is shown in full where a developer needs to copy it.
DEFAULT_API_KEY = "sk_test_emulator"

# Bound to every interface: loopback is the address that surely reaches it.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104
# A Host header: a name or IPv4 address, or a bracketed IPv6 address, and a port.
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


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

    @property
    def shown_api_key(self) -> str:
        """The key for a person to read: in full if it is the built-in default."""
        return shown(self.api_key, DEFAULT_API_KEY)

    def accepts(self, headers: Mapping[str, str]) -> bool:
        """Whether ``headers`` carry ``Authorization: Bearer <our API key>``."""
        scheme, _, key = headers.get("authorization", "").partition(" ")
        expected = self.api_key.encode("utf-8")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            key.strip().encode("utf-8"), expected
        )

    def is_own_host(self, host_header: str) -> bool:
        """Whether a ``Host`` header names this emulator, not some other site.

        Loopback names and addresses, the address it is bound to, and the host of
        ``public_url``. A page whose own domain was re-pointed at 127.0.0.1 (DNS
        rebinding) sends that domain in ``Host``, and is refused.
        """
        name = _hostname(host_header)
        if name is None:
            return False
        if name == "localhost" or name.endswith(".localhost"):
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            pass
        else:
            mapped = getattr(address, "ipv4_mapped", None)
            if address.is_loopback or (mapped is not None and mapped.is_loopback):
                return True
        return name in self._own_names()

    def is_own_origin(self, origin: str, host_header: str | None) -> bool:
        """Whether an ``Origin`` header is this emulator's (its page, as browsers see it).

        Browsers send ``Origin`` with every cross-site POST and with the page's own
        form posts; a program such as ``curl`` sends none, and is not asked for one.
        """
        own = {_origin(self.url), _origin(self.public_url)}
        if host_header and self.is_own_host(host_header):
            own.add(f"http://{host_header.lower()}")
        return origin.strip().lower().rstrip("/") in own

    def _own_names(self) -> set[str]:
        names = {_hostname(urlsplit(self.public_url).netloc)}
        if self.host not in _WILDCARDS:
            names.add(_hostname(self.host if ":" not in self.host else f"[{self.host}]"))
        return {name for name in names if name}


def shown(secret: str, builtin: str | None) -> str:
    """``secret`` in full when it is the emulator's public built-in value, else masked.

    A key or secret the developer chose (on the command line or in the environment)
    may be a real one, and is never printed.
    """
    return secret if builtin is not None and secret == builtin else mask(secret)


def _hostname(host_header: str) -> str | None:
    """``"LocalHost.:4100"`` -> ``"localhost"``; ``None`` for what is not a host."""
    if not _HOST.fullmatch(host_header):
        return None
    name = urlsplit(f"//{host_header}").hostname
    return name.rstrip(".") if name else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
