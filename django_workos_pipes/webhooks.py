"""Placeholder for the WorkOS webhook endpoint, replaced by the webhook work.

It exists only so ``django_workos_pipes.views`` (and the URL conf) can be imported
before the real endpoint lands.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse


def webhook(request: HttpRequest) -> HttpResponse:
    """Refuse every delivery (503) until the real, signature-checking view replaces this."""
    return HttpResponse(status=503)
