"""Which of several accounts a user chose, remembered in their Django session.

With ``SUPPORTS_MULTIPLE_CONNECTIONS``, a user (or their organization) may hold several
accounts of one provider; WorkOS then answers ``account_selection_required`` until a
call names one. The user picks it on the connections page, and ``require_pipe``, the
template tags and the reauthorize flow use that account from then on, for this session:
a choice is per person and per browser, like a language preference, and needs no
model. The session holds account ids only (never a token), keyed by provider, owner
and organization, so a choice made for one organization is not used in another.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .exceptions import PipesConfigurationError
from .owners import USER, Owner

SESSION_KEY = "workos_pipes_accounts"


def chosen_account(
    request: HttpRequest,
    provider: str,
    *,
    owner: Owner = USER,
    organization_id: str | None = None,
) -> str | None:
    """The account id this request's user chose for ``provider``, or None (no choice, or
    no session)."""
    session = getattr(request, "session", None)
    chosen = session.get(SESSION_KEY) if session is not None else None
    value = (
        chosen.get(_slot(provider, owner, organization_id)) if isinstance(chosen, dict) else None
    )
    return value if isinstance(value, str) and value else None


def choose_account(
    request: HttpRequest,
    provider: str,
    account_id: str | None,
    *,
    owner: Owner = USER,
    organization_id: str | None = None,
) -> None:
    """Remember ``account_id`` for ``provider`` (None forgets the choice)."""
    session = _session(request)
    chosen: dict[str, Any] = dict(session.get(SESSION_KEY) or {})
    slot = _slot(provider, owner, organization_id)
    if account_id:
        chosen[slot] = account_id
    else:
        chosen.pop(slot, None)
    session[SESSION_KEY] = chosen


def forget_account(
    request: HttpRequest,
    provider: str,
    *,
    owner: Owner = USER,
    organization_id: str | None = None,
    account_id: str | None = None,
) -> None:
    """Forget the choice for ``provider`` (only if it is ``account_id``, when given):
    the account was removed, or WorkOS no longer knows it."""
    chosen = chosen_account(request, provider, owner=owner, organization_id=organization_id)
    if chosen is not None and account_id in (None, chosen):
        choose_account(request, provider, None, owner=owner, organization_id=organization_id)


def _slot(provider: str, owner: Owner, organization_id: str | None) -> str:
    return f"{owner}:{organization_id or ''}:{provider}"


def _session(request: HttpRequest) -> Any:
    session = getattr(request, "session", None)
    if session is None:
        raise PipesConfigurationError(
            "Choosing an account needs Django's sessions: add "
            "'django.contrib.sessions.middleware.SessionMiddleware' to MIDDLEWARE."
        )
    return session
