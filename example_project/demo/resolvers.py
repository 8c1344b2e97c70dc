"""Who administers an organization here: the app's ``ORGANIZATION_ADMIN_RESOLVER``.

The user and organization ids need no resolver of the site's own: the app's defaults
read ``request.user.workos_user_id`` and ``request.user.workos_organization_id``.
"""

from __future__ import annotations

from django.http import HttpRequest


def organization_admin(request: HttpRequest) -> bool:
    """Administrators of their organization connect and disconnect its shared
    connections; members only use them."""
    user = request.user
    return bool(
        user.is_authenticated
        and getattr(user, "workos_organization_id", "")
        and getattr(user, "organization_admin", False)
    )
