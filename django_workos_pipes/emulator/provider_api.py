"""A stand-in for the provider's own API: ``GET /_provider/{slug}/me``.

What a view does with a Pipes token is call Salesforce, HubSpot or Slack, and those
refuse a token that died early. This endpoint accepts only what the emulator issued
and still stands behind: the current token of a ``connected`` account of that
provider, not expired, not revoked at the provider. Anything else is the 401 a
provider sends (RFC 6750: ``WWW-Authenticate: Bearer error="invalid_token"``), saying
``expired``, ``revoked`` or ``unknown``. So "Expire token" (WorkOS hands out a fresh one
on the next token call) and "Revoke at provider" (WorkOS answers
``needs_reauthorization``) can be seen from the app's side.

It takes the provider's bearer token, not the API key; its calls are counted apart
(``provider``), and faults aimed at ``provider`` reach them. The token is never echoed:
the answer shows it masked, with a short fingerprint to tell two tokens apart.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

from .. import wire
from ..masking import mask
from .accounts import Accounts
from .calls import CallLog
from .faults import FaultQueue, cut_short, fault_response
from .state import CONNECTED, Connection
from .web import Request, Response, Router, error_response, json_response

OPERATION = "provider"


class ProviderApi:
    """``GET /_provider/{slug}/me`` for every configured provider."""

    def __init__(self, accounts: Accounts, faults: FaultQueue, calls: CallLog) -> None:
        self.accounts = accounts
        self.faults = faults
        self.calls = calls

    def register(self, router: Router) -> None:
        router.add("GET", "/_provider/{provider}/me", self.me)

    def me(self, request: Request, params: Mapping[str, str]) -> Response:
        self.calls.count(OPERATION)
        fault = self.faults.take(OPERATION)
        if fault is not None:
            time.sleep(fault.delay)
            early = fault_response(fault, OPERATION)
            if early is not None:
                return early
        answer = self._me(request, params["provider"])
        return (
            cut_short(answer) if fault is not None and fault.kind == "drop_mid_answer" else answer
        )

    def _me(self, request: Request, slug: str) -> Response:
        if slug not in self.accounts.providers:
            return error_response(404, f"No provider API for '{slug}'.", "not_found")
        token = _bearer(request.headers)
        connection = self.accounts.by_token(token) if token else None
        if connection is None or connection.provider != slug:
            return _refused("unknown")
        if connection.revoked_at_provider or connection.state != CONNECTED:
            return _refused("revoked")
        if connection.expires_at is not None and connection.expires_at <= wire.now():
            return _refused("expired")
        return json_response(200, _profile(connection))


def _profile(connection: Connection) -> dict[str, Any]:
    """Who the provider sees behind the token: the account, never the token itself."""
    return {
        "provider": connection.provider,
        "connected_account_id": connection.id,
        "user_id": connection.user_id,
        "organization_id": connection.organization_id,
        "scopes": list(connection.scopes),
        "token": mask(connection.access_token),
        "token_fingerprint": fingerprint(connection.access_token),
    }


def fingerprint(token: str) -> str:
    """Eight hex digits of the token's SHA-256: enough to tell two tokens apart on a
    page, nothing that helps to guess one."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:8]


def _bearer(headers: Mapping[str, str]) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _refused(reason: str) -> Response:
    challenge = f'Bearer error="invalid_token", error_description="{reason}"'
    return json_response(
        401,
        {"error": "invalid_token", "error_description": reason},
        (("WWW-Authenticate", challenge),),
    )
