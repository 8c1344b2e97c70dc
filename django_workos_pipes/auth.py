"""``PipesAuth``: ``requests`` authentication with a Pipes token that survives its death.

Tokens die before their ``expires_at``: revoked at the provider, a password changed, an
admin's policy. The provider then answers 401. This auth asks the service for the token
on every request (a cache hit, usually), and on a 401 renews it once through the
service's single flight (any number of threads meeting one dead token cost one WorkOS
call) and sends the request again with the new token. When WorkOS has nothing better,
or the provider refuses the new token too, only the user can help:
:class:`~django_workos_pipes.exceptions.PipesReauthorizationRequired`.

This module imports ``requests``; nothing in the package imports it until a session is
asked for.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import requests
from requests.auth import AuthBase

from .exceptions import PROVIDER_REJECTED_TOKEN, PipesReauthorizationRequired
from .masking import mask_id
from .owners import Owner, check_owner
from .results import AccessToken

logger = logging.getLogger(__name__)

BEARER = "Bearer "


class TokenSource(Protocol):
    """What ``PipesAuth`` needs from :class:`~django_workos_pipes.service.PipesService`."""

    def require_access_token(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        owner: Owner = "user",
        connected_account_id: str | None = None,
    ) -> AccessToken: ...

    def renew_access_token(
        self,
        provider: str,
        *,
        user_id: str,
        rejected: str,
        organization_id: str | None = None,
        owner: Owner = "user",
        connected_account_id: str | None = None,
    ) -> AccessToken: ...

    def reauthorization_required(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        error: str,
        owner: Owner = "user",
        connected_account_id: str | None = None,
    ) -> PipesReauthorizationRequired: ...


class PipesAuth(AuthBase):
    """``Authorization: Bearer <token>`` for one ``provider`` connection: the user's, or
    with ``owner="organization"`` their organization's, which ``user_id`` is a member of.

    Usable on any ``requests`` call (``requests.get(url, auth=PipesAuth(...))``) or
    session; ``pipes.session(...)`` builds a session with one. It holds ids, never a
    token: each request asks ``service`` (by default ``django_workos_pipes.pipes``),
    whose cache answers.

    On a 401 the request is sent once more with a renewed token, unless its body is a
    stream (a generator, an iterator, a file) that was consumed by the first attempt:
    that 401 is returned as it is, the token renewed for the caller's own retry.
    """

    def __init__(
        self,
        provider: str,
        *,
        user_id: str,
        organization_id: str | None = None,
        owner: Owner = "user",
        connected_account_id: str | None = None,
        service: TokenSource | None = None,
    ) -> None:
        self.provider = provider
        self.user_id = user_id
        self.organization_id = organization_id
        self.owner: Owner = check_owner(owner)
        self.connected_account_id = connected_account_id
        self._service = service

    def __repr__(self) -> str:
        return (
            f"PipesAuth(provider={self.provider!r}, user_id={mask_id(self.user_id)!r}, "
            f"owner={self.owner!r})"
        )

    @property
    def _whose(self) -> dict[str, Any]:
        """The connection, as the service's keyword arguments."""
        return {
            "user_id": self.user_id,
            "organization_id": self.organization_id,
            "owner": self.owner,
            "connected_account_id": self.connected_account_id,
        }

    @property
    def service(self) -> TokenSource:
        if self._service is not None:
            return self._service
        from . import pipes

        return pipes

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.service.require_access_token(self.provider, **self._whose)
        request.headers["Authorization"] = BEARER + token.access_token
        request.register_hook("response", self._on_response)  # type: ignore[no-untyped-call]
        return request

    def _on_response(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        """Renew a refused token and resend once; see the class docstring."""
        used = _bearer(response.request)
        if response.status_code != 401 or used is None:
            # A redirect to another host drops the header: that 401 is not about our token.
            return response
        fresh = self.service.renew_access_token(self.provider, rejected=used, **self._whose)
        if not _replayable(response.request.body):
            logger.warning(
                "%s answered 401; token renewed for user=%s, but the request body is a "
                "stream that can't be sent twice: the 401 is returned",
                self.provider,
                mask_id(self.user_id),
            )
            return response
        return self._resend(response, fresh, kwargs)

    def _resend(
        self, refused: requests.Response, token: AccessToken, kwargs: dict[str, Any]
    ) -> requests.Response:
        """What ``HTTPDigestAuth`` does on its 401: the same request through the same
        adapter, the refused answer kept in ``history``."""
        refused.content  # noqa: B018 - read the body, so the connection can be reused
        refused.close()
        retry = refused.request.copy()
        retry.headers["Authorization"] = BEARER + token.access_token
        answer: requests.Response = refused.connection.send(retry, **kwargs)
        answer.history.append(refused)
        answer.request = retry
        if answer.status_code == 401:
            answer.close()
            raise self.service.reauthorization_required(
                self.provider, error=PROVIDER_REJECTED_TOKEN, **self._whose
            )
        return answer


def _bearer(request: requests.PreparedRequest) -> str | None:
    value = request.headers.get("Authorization")
    if isinstance(value, str) and value.startswith(BEARER):
        return value[len(BEARER) :]
    return None


def _replayable(body: object) -> bool:
    """Bytes and text can be sent again; a stream was consumed by the first attempt."""
    return body is None or isinstance(body, (bytes, str))
