"""A resolver of your own (the third choice of "Who is asking")."""

from __future__ import annotations

from django.http import HttpRequest


def session_user_id(request: HttpRequest) -> str | None:
    """The WorkOS user id your AuthKit callback stored in the session at sign-in."""
    if not request.user.is_authenticated:
        return None
    user_id = request.session.get("workos_user_id")
    return user_id if isinstance(user_id, str) else None
