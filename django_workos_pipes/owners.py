"""Who owns a connection: a user (the default), or an organization whose members share it.

Every public entry point that takes ``owner`` (the service, ``require_pipe``, the mixin,
the template tags, the views) checks it here, so a typo fails loudly and the same way
everywhere instead of asking WorkOS for the wrong connection.
"""

from __future__ import annotations

from typing import Literal

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
