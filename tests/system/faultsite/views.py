"""Views of the site: ``/<provider>/?user=<WorkOS user id>`` behind ``@require_pipe``,
and ``/token/<provider>/`` and ``/direct/<provider>/`` calling the service itself.

A granted view answers the token's fingerprint, never the token, so response bodies
can be searched for leaked tokens.
"""

from __future__ import annotations

import hashlib

from django.http import HttpRequest, HttpResponse, JsonResponse

from django_workos_pipes import pipes
from django_workos_pipes.decorators import require_pipe


def user_from_query(request: HttpRequest) -> str | None:
    """The ``USER_ID_RESOLVER`` of the site: the ``user`` query parameter."""
    return request.GET.get("user") or None


def no_organization(request: HttpRequest) -> str | None:
    return None


def fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def granted(request: HttpRequest, provider: str) -> JsonResponse:
    token = request.pipes[provider]  # type: ignore[attr-defined]
    return JsonResponse({"provider": provider, "fingerprint": fingerprint(token.access_token)})


def ready(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@require_pipe("salesforce")
def salesforce(request: HttpRequest) -> HttpResponse:
    return granted(request, "salesforce")


@require_pipe("hubspot")
def hubspot(request: HttpRequest) -> HttpResponse:
    return granted(request, "hubspot")


@require_pipe("slack")
def slack(request: HttpRequest) -> HttpResponse:
    return granted(request, "slack")


@require_pipe("salesforce")
async def async_salesforce(request: HttpRequest) -> HttpResponse:
    return granted(request, "salesforce")


def token(request: HttpRequest, provider: str) -> JsonResponse:
    """The answer this process would use for ``?user=`` (and ``&organization=``), with
    the token as a fingerprint."""
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


def direct(request: HttpRequest, provider: str) -> JsonResponse:
    """Project code calling the service itself, letting any error become a 500."""
    result = pipes.get_access_token(provider, user_id=request.GET["user"])
    token = result.access_token
    return JsonResponse({"fingerprint": fingerprint(token.access_token) if token else None})
