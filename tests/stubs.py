"""WorkOS answers for the view, decorator and template-tag tests, stubbed with ``responses``.

Every stub matches the exact JSON body the package must send: a request with any other
body finds no stub, fails like a network error, and the test sees a 503.
"""

from __future__ import annotations

from typing import Any

import responses
from responses import matchers

from tests.conftest import WORKOS

USER_RESOLVER = "tests.views.workos_user_id"


def token_url(provider: str) -> str:
    return f"{WORKOS}/data-integrations/{provider}/token"


def active(
    token: str = "ya29.salesforce-secret-token",
    scopes: tuple[str, ...] = ("api",),
    missing: tuple[str, ...] = (),
    expires_at: str | None = "2031-05-04T03:02:01Z",
) -> dict[str, Any]:
    return {
        "active": True,
        "access_token": {
            "object": "access_token",
            "access_token": token,
            "expires_at": expires_at,
            "scopes": list(scopes),
            "missing_scopes": list(missing),
        },
    }


def inactive(error: str) -> dict[str, Any]:
    return {"active": False, "error": error}


def stub_token(
    upstream: responses.RequestsMock,
    provider: str,
    body: dict[str, Any] | None = None,
    *,
    user_id: str = "user_ann",
    organization_id: str | None = None,
    status: int = 200,
) -> None:
    """Answer ``body`` to the token request of exactly this user (and organization)."""
    expected: dict[str, Any] = {"user_id": user_id}
    if organization_id is not None:
        expected["organization_id"] = organization_id
    upstream.post(
        token_url(provider),
        json=body,
        status=status,
        match=[matchers.json_params_matcher(expected)],
    )
