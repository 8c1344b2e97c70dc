"""A background job that calls Salesforce as a user, outside any request: ids in.

Any worker runs it (Celery, RQ, a Django task, cron, a management command). A dead token
is renewed by the session. A connection that needs its user ends the run quietly and
pauses that user's runs until WorkOS reports the connection back, so nothing retries in
a loop; WorkOS or Salesforce being down raises, for the worker's own retry with backoff.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.dispatch import receiver

from django_workos_pipes import pipes
from django_workos_pipes.exceptions import PipesReauthorizationRequired
from django_workos_pipes.signals import connection_changed, reauthorization_required


def sync_accounts(user_id: str, instance_url: str, organization_id: str | None = None) -> str:
    """Fetch the user's Salesforce objects; returns how the run ended."""
    if cache.get(paused_key("salesforce", user_id)):
        return "paused"  # Waiting for the user: no call to WorkOS or Salesforce.
    session = pipes.session("salesforce", user_id=user_id, organization_id=organization_id)
    try:
        response = session.get(f"{instance_url}/services/data/v60.0/sobjects/", timeout=30)
    except PipesReauthorizationRequired:
        return "needs the user"  # Final: a retry can't help. pause_syncs has run.
    response.raise_for_status()
    store(user_id, response.json())
    return "synced"


def store(user_id: str, objects: Any) -> None:
    """Your project saves what it fetched."""


def paused_key(provider: str, user_id: str | None) -> str:
    return f"sync-paused:{provider}:{user_id}"


@receiver(reauthorization_required, dispatch_uid="jobs.pause_syncs")
def pause_syncs(sender: Any, provider: str, user_id: str, **kwargs: Any) -> None:
    """Stop this user's runs (and tell them, by e-mail or a banner) until they reconnect.
    A field on your own model does as well as the cache."""
    cache.set(paused_key(provider, user_id), True, timeout=None)


@receiver(connection_changed, dispatch_uid="jobs.resume_syncs")
def resume_syncs(sender: Any, provider: str, user_id: str | None, **kwargs: Any) -> None:
    """WorkOS says the connection is back (``pipes.*.connected``): runs start again."""
    if kwargs["event_type"].endswith(".connected"):
        cache.delete(paused_key(provider, user_id))
