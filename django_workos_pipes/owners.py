"""Who owns a connection: a user (the default), or an organization whose members share it;
and :class:`ConnectionRef`, which names one connection (owner, provider, account).

Every public entry point that takes ``owner`` (the service, ``require_pipe``, the mixin,
the template tags, the views) checks it here, so a typo fails loudly and the same way
everywhere instead of asking WorkOS for the wrong connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypedDict

Owner = Literal["user", "organization"]

USER: Owner = "user"
ORGANIZATION: Owner = "organization"
OWNERS: tuple[Owner, ...] = (USER, ORGANIZATION)
"""The values of ``connection_owner`` (:data:`~django_workos_pipes.wire.OWNER_USER` and
:data:`~django_workos_pipes.wire.OWNER_ORGANIZATION` on the wire)."""


def check_owner(owner: object) -> Owner:
    """``owner`` itself when it is ``"user"`` or ``"organization"``; ValueError otherwise."""
    if owner == USER:
        return USER
    if owner == ORGANIZATION:
        return ORGANIZATION
    raise ValueError(f"owner must be 'user' or 'organization', not {owner!r}")


class Whose(TypedDict):
    """A connection's owner and account, as keyword arguments: those of the service's
    methods, of the signals and of
    :class:`~django_workos_pipes.exceptions.PipesReauthorizationRequired`."""

    user_id: str | None
    organization_id: str | None
    owner: Owner
    connected_account_id: str | None


@dataclass(frozen=True)
class ConnectionRef:
    """One connection at WorkOS: whose it is (``owner``: the user's, or the
    organization's that ``organization_id`` names), to which ``provider``, and which
    account of several (``connected_account_id``; None for the one WorkOS picks).

    What the :class:`~django_workos_pipes.workos.protocol.WorkOSClient` methods about one
    connection take; the service builds it from its checked arguments. ``user_id`` is
    the user, or for an organization's connection the member a token is vended to (or
    who consents); None where no user is needed (reading or removing an organization's
    account). ``organization_id`` scopes a user's connection to an organization.
    """

    provider: str
    user_id: str | None = None
    organization_id: str | None = None
    owner: Owner = USER
    connected_account_id: str | None = None

    @property
    def user(self) -> str:
        """``user_id``, for the calls that can't go without one (a token, a credential,
        a consent): a ValueError when it is None."""
        if self.user_id is None:
            raise ValueError("a token, a credential or a consent needs a user_id")
        return self.user_id

    @property
    def whose(self) -> Whose:
        """Everything but the provider, as keyword arguments."""
        return {
            "user_id": self.user_id,
            "organization_id": self.organization_id,
            "owner": self.owner,
            "connected_account_id": self.connected_account_id,
        }
