"""What WorkOS answers and sends, built once for every test: token answers, connected
accounts and the providers listing, events and signature headers.

Built on :mod:`django_workos_pipes.wire`, the package's own WorkOS vocabulary, so a
stubbed answer has the shape the emulator and ``PipesFake`` give. Events come from the
public :func:`~django_workos_pipes.testing.webhook_event`, the builder users get.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from django_workos_pipes import wire
from django_workos_pipes.signatures import compute_digest
from django_workos_pipes.testing import sign_webhook, webhook_event

__all__ = [
    "CREATED",
    "EXPIRES_AT",
    "TOKEN",
    "UPDATED",
    "account",
    "ann_listing",
    "data_provider",
    "expiring_in",
    "inactive_answer",
    "listing",
    "numbered_tokens",
    "sdk_signature",
    "sign_webhook",
    "signature_at",
    "token_answer",
    "webhook_event",
]

TOKEN = "ya29.salesforce-secret-token"
EXPIRES_AT = datetime(2031, 5, 4, 3, 2, 1, tzinfo=timezone.utc)


def token_answer(
    token: str = TOKEN,
    *,
    scopes: Iterable[str] = ("api",),
    missing: Iterable[str] = (),
    expires_at: datetime | None = EXPIRES_AT,
) -> dict[str, Any]:
    """The token call's answer for an active connection; ``expires_at=None``: never."""
    return wire.active_token_answer(
        token, expires_at=expires_at, scopes=scopes, missing_scopes=missing
    )


def inactive_answer(error: str) -> dict[str, Any]:
    """The token call's answer for an inactive connection (``not_installed``...)."""
    return wire.inactive_token_answer(error)


def expiring_in(lifetime: timedelta) -> datetime:
    return datetime.now(timezone.utc) + lifetime


def numbered_tokens(
    prefix: str = "ya29.token-", expires_in: timedelta | None = timedelta(hours=1)
) -> Callable[[], dict[str, Any]]:
    """Answers handing out a new token each: ``ya29.token-1``, ``ya29.token-2``...

    Each expires ``expires_in`` after it is handed out (read from the clock then, so
    ``time_machine`` moves it), or never with ``None``.
    """
    counter = itertools.count(1)

    def answer() -> dict[str, Any]:
        expires_at = expiring_in(expires_in) if expires_in is not None else None
        return token_answer(f"{prefix}{next(counter)}", expires_at=expires_at)

    return answer


def signature_at(body: bytes, stamp_ms: int, secret: str) -> str:
    """A ``WorkOS-Signature`` header for ``body`` signed at ``stamp_ms`` (in ms)."""
    return f"t={stamp_ms}, v1={compute_digest(str(stamp_ms), body, secret)}"


def sdk_signature(body: bytes, secret: str, stamp_ms: int) -> str:
    """The header computed without the package, the way the official SDK's
    ``verify_header`` checks it: HMAC-SHA256 of ``"<t>.<body>"``."""
    unhashed = f"{stamp_ms}.{body.decode('utf-8')}".encode()
    digest = hmac.new(secret.encode(), unhashed, hashlib.sha256).hexdigest()
    return f"t={stamp_ms}, v1={digest}"


# Connected accounts and the providers listing, shaped like the official SDK's models
# (tests/test_connections.py checks them against the SDK itself).

CREATED = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
UPDATED = datetime(2030, 2, 3, 4, 5, 6, tzinfo=timezone.utc)


def account(
    state: str = "connected",
    *,
    account_id: str = "ca_01SALESFORCE",
    user_id: str | None = "user_ann",
    organization_id: str | None = None,
    scopes: Iterable[str] = ("api", "refresh_token"),
    **extra: Any,
) -> dict[str, Any]:
    """A ``connected_account`` object with every key the SDK requires."""
    return wire.connected_account(
        account_id,
        user_id=user_id,
        organization_id=organization_id,
        scopes=scopes,
        state=state,
        created_at=CREATED,
        updated_at=UPDATED,
        **extra,
    )


def data_provider(
    slug: str, name: str, connected: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """A ``data_provider`` item of the listing, with the user's account (or none)."""
    return {
        "object": "data_provider",
        "id": wire.stable_id("data_integration", slug),
        "name": name,
        "description": f"{name} for the tests",
        "slug": slug,
        "integration_type": slug,
        "credentials_type": "oauth2",
        "scopes": ["api"],
        "connection_owner": "user",
        "ownership": "userland_user",
        "created_at": wire.timestamp(CREATED),
        "updated_at": wire.timestamp(CREATED),
        "connected_account": connected,
        "connected_accounts": [connected] if connected is not None else [],
        "auth_methods": ["oauth"],
        **extra,
    }


def listing(*providers: dict[str, Any]) -> dict[str, Any]:
    return {"object": "list", "data": list(providers)}


def ann_listing() -> dict[str, Any]:
    """Ann: Salesforce connected, HubSpot to reauthorize, Slack never connected."""
    return listing(
        data_provider(
            "salesforce",
            "Salesforce",
            account(account_display_name="Acme Sales", account_identifier="00D5g000004"),
        ),
        data_provider(
            "hubspot",
            "HubSpot",
            account(
                "needs_reauthorization",
                account_id="ca_01HUBSPOT",
                scopes=["crm.objects.contacts.read"],
                account_identifier="portal-4242",
            ),
        ),
        data_provider("slack", "Slack"),
    )
