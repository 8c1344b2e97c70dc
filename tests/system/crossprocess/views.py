"""Views of the cross-process test site."""

from __future__ import annotations

import hashlib

from django.http import HttpRequest, HttpResponse, JsonResponse

from django_workos_pipes import pipes


def ready(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


def token(request: HttpRequest, provider: str) -> JsonResponse:
    """The token this process would use, as a fingerprint: tests never see the token."""
    result = pipes.get_access_token(
        provider,
        user_id=request.GET["user"],
        organization_id=request.GET.get("organization"),
    )
    access = result.access_token
    return JsonResponse(
        {
            "active": result.active,
            "error": result.error,
            "fingerprint": fingerprint(access.access_token) if access else None,
        }
    )


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]
