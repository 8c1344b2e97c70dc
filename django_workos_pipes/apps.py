"""The Django app: registers the system checks when the app registry is ready."""

from __future__ import annotations

from django.apps import AppConfig


class WorkOSPipesConfig(AppConfig):
    name = "django_workos_pipes"
    label = "workos_pipes"
    verbose_name = "WorkOS Pipes"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the checks
