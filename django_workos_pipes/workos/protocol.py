"""The shape of a WorkOS client, so that a test double needs no inheritance.

:class:`~django_workos_pipes.workos.client.PipesClient` is the real one; the testing
fake (:class:`~django_workos_pipes.testing.fakes.PipesFake`) is another. A service takes
either through ``PipesService(client=...)`` or ``service.use_client(...)``.

The calls about one connection take a :class:`~django_workos_pipes.owners.ConnectionRef`:
whose connection (the user's own, or the organization's, shared by its members), to
which provider, and which account of several. ``supports_multiple_connections`` is the
``SUPPORTS_MULTIPLE_CONNECTIONS`` setting, sent as WorkOS's flag of that name.
"""

from __future__ import annotations

from typing import Protocol

from ..owners import ConnectionRef
from ..results import (
    ConnectedAccount,
    Connection,
    CredentialResult,
    TokenResult,
    WorkOSOrganization,
    WorkOSUser,
)


class WorkOSClient(Protocol):
    """The WorkOS calls the service makes. Each raises
    :class:`~django_workos_pipes.exceptions.PipesUnavailable` when WorkOS can't answer
    and :class:`~django_workos_pipes.exceptions.PipesAPIError` when it refuses."""

    def get_access_token(
        self, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> TokenResult:
        """``POST /data-integrations/{provider}/token``; an ``account_selection_required``
        answer, in either of its forms, is an inactive result with that error."""
        ...

    def get_credentials(
        self, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> CredentialResult:
        """``POST /data-integrations/{provider}/credentials``: the token call's generic
        form, for OAuth, API-key and client-credentials connections alike."""
        ...

    def authorize_url(self, ref: ConnectionRef, *, return_to: str) -> str:
        """``POST /data-integrations/{provider}/authorize``: the consent URL (``user_id``
        gives consent; naming an account reauthorizes it)."""
        ...

    def get_connected_account(
        self, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> ConnectedAccount | None:
        """``GET /user_management/users/{user_id}/connected_accounts/{provider}``, or
        ``/organizations/{organization_id}/connected_accounts/{provider}`` for an
        organization's; None when WorkOS knows no such account."""
        ...

    def list_data_providers(
        self,
        user_id: str,
        *,
        organization_id: str | None = None,
        supports_multiple_connections: bool = False,
    ) -> tuple[Connection, ...]:
        """``GET /user_management/users/{user_id}/data_providers``: every provider
        configured in WorkOS, with the user's connection to each."""
        ...

    def list_organization_data_providers(
        self, organization_id: str, *, supports_multiple_connections: bool = False
    ) -> tuple[Connection, ...]:
        """``GET /organizations/{organization_id}/data_providers``: the organization-owned
        providers, with the organization's connection to each."""
        ...

    def delete_connected_account(
        self, ref: ConnectionRef, *, supports_multiple_connections: bool = False
    ) -> bool:
        """``DELETE`` on the connected account's path (see :meth:`get_connected_account`);
        False when WorkOS knows no such account."""
        ...

    def get_user_by_external_id(self, external_id: str) -> WorkOSUser | None:
        """``GET /user_management/users/external_id/{external_id}``; None when no WorkOS
        user has that ``external_id``."""
        ...

    def create_user(
        self,
        *,
        email: str,
        external_id: str,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> WorkOSUser:
        """``POST /user_management/users``. An e-mail address already taken is a
        :class:`~django_workos_pipes.exceptions.PipesAPIError` (400) whose
        ``error_codes`` hold ``email_not_available``."""
        ...

    def get_organization_by_external_id(self, external_id: str) -> WorkOSOrganization | None:
        """``GET /organizations/external_id/{external_id}``; None when there is none."""
        ...
