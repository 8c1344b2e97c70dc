"""WorkOS stubbed at the HTTP layer with ``responses``, answering with :mod:`tests.builders`.

``stub_token`` matches the exact JSON body the package must send: a request with any
other body finds no stub, fails like a network error, and the test sees a 503.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import responses
from responses import matchers

from tests.builders import numbered_tokens

WORKOS = "https://api.workos.com"
USER_RESOLVER = "tests.views.workos_user_id"


def token_url(provider: str) -> str:
    return f"{WORKOS}/data-integrations/{provider}/token"


def stub_token(
    workos: responses.RequestsMock,
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
    workos.post(
        token_url(provider),
        json=body,
        status=status,
        match=[matchers.json_params_matcher(expected)],
    )


def issue_tokens(
    workos: responses.RequestsMock,
    provider: str | None = "salesforce",
    *,
    expires_in: timedelta | None = timedelta(hours=1),
) -> None:
    """Answer every token call of ``provider`` (``None``: of any provider) with a new
    token: ``ya29.token-1``, ``ya29.token-2``... (see :func:`~tests.builders.numbered_tokens`)."""
    url: str | re.Pattern[str] = (
        token_url(provider)
        if provider is not None
        else re.compile(rf"{re.escape(WORKOS)}/data-integrations/[^/]+/token")
    )
    answers = numbered_tokens(expires_in=expires_in)
    workos.add_callback(
        responses.POST, url, callback=lambda request: (200, {}, json.dumps(answers()))
    )
