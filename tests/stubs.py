"""WorkOS stubbed at the HTTP layer with ``responses``, answering with :mod:`tests.builders`:
the token call, the providers listing and the connected account's deletion.

``stub_token`` matches the exact JSON body the package must send: a request with any
other body finds no stub, fails like a network error, and the test sees a 503.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from typing import Any

import responses
from requests import PreparedRequest
from responses import matchers

from tests.builders import ann_listing, numbered_tokens

WORKOS = "https://api.workos.com"
USER_RESOLVER = "tests.views.workos_user_id"

# What a ``responses`` callback answers: status, headers, body.
Reply = tuple[int, dict[str, str], str]


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


class WorkOSTokens:
    """``POST /data-integrations/{provider}/token``: answers ``script`` in order (the last
    one again once it runs out), counting the calls: the figure the single-flight
    tests assert."""

    def __init__(
        self,
        mock: responses.RequestsMock,
        script: list[dict[str, Any]],
        provider: str = "salesforce",
    ) -> None:
        self.script = list(script)
        self.count = 0
        self.bodies: list[Any] = []
        self._lock = threading.Lock()
        mock.add_callback(responses.POST, token_url(provider), callback=self._answer)

    def _answer(self, request: PreparedRequest) -> Reply:
        with self._lock:
            self.count += 1
            self.bodies.append(json.loads(request.body or b"{}"))
            body = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    def then(self, *bodies: dict[str, Any]) -> None:
        """Answer ``bodies`` from now on, in order."""
        with self._lock:
            self.script = list(bodies)


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


def users_url(user_id: str = "user_ann") -> str:
    return f"{WORKOS}/user_management/users/{user_id}"


def listing_url(user_id: str = "user_ann") -> str:
    return f"{users_url(user_id)}/data_providers"


def account_url(provider: str, user_id: str = "user_ann") -> str:
    return f"{users_url(user_id)}/connected_accounts/{provider}"


def stub_listing(
    workos: responses.RequestsMock,
    body: Any = None,
    *,
    user_id: str = "user_ann",
    organization_id: str | None = None,
    status: int = 200,
) -> None:
    """Answer the listing of exactly this user (and organization, as a query parameter)."""
    query = {"organization_id": organization_id} if organization_id else {}
    workos.get(
        listing_url(user_id),
        json=ann_listing() if body is None else body,
        status=status,
        match=[matchers.query_param_matcher(query)],
    )


def stub_delete(
    workos: responses.RequestsMock,
    provider: str,
    *,
    user_id: str = "user_ann",
    organization_id: str | None = None,
    status: int = 204,
    body: Any = None,
) -> None:
    query = {"organization_id": organization_id} if organization_id else {}
    workos.delete(
        account_url(provider, user_id),
        status=status,
        body=b"" if body is None else body,
        match=[matchers.query_param_matcher(query)],
    )


def listing_calls(workos: responses.RequestsMock) -> int:
    return sum(
        1 for call in workos.calls if call.request.url.split("?")[0].endswith("/data_providers")
    )
