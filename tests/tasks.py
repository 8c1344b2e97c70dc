"""The same job as a Django task (Django 6.0+): ``sync_accounts_task.enqueue(...)``.

Its arguments are ids and strings, as a task's must be, and it returns how the run
ended: a connection that needs its user is a successful run, never a failure to retry.
"""

from __future__ import annotations

from django.tasks import task

from .jobs import sync_accounts


@task
def sync_accounts_task(user_id: str, instance_url: str, organization_id: str | None = None) -> str:
    return sync_accounts(user_id, instance_url, organization_id)
