"""Views and resolvers used by the view, decorator and template-tag tests.

Each view answers the tokens it was given as JSON, so a test sees exactly what
``request.pipes`` held.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View

from django_workos_pipes.decorators import require_pipe
from django_workos_pipes.mixins import PipeRequiredMixin


def workos_user_id(request: HttpRequest) -> str | None:
    """The test resolver: Django user ``ann`` is WorkOS user ``user_ann``."""
    user = request.user
    return f"user_{user.get_username()}" if user.is_authenticated else None


def granted(request: HttpRequest) -> JsonResponse:
    tokens = getattr(request, "pipes", {})
    return JsonResponse({provider: token.access_token for provider, token in tokens.items()})


@require_pipe("salesforce")
def sync_view(request: HttpRequest) -> HttpResponse:
    return granted(request)


@require_pipe("salesforce", scopes=["api", "refresh_token"])
def scoped_view(request: HttpRequest) -> HttpResponse:
    return granted(request)


@require_pipe("salesforce")
async def async_view(request: HttpRequest) -> HttpResponse:
    return granted(request)


@require_pipe("hubspot", scopes=["crm.read"])
@require_pipe("slack")
def stacked_view(request: HttpRequest) -> HttpResponse:
    return granted(request)


@require_pipe("hubspot", scopes=["crm.read"])
@require_pipe("slack")
async def stacked_async_view(request: HttpRequest) -> HttpResponse:
    return granted(request)


class MixinView(PipeRequiredMixin, View):
    pipe_provider = "salesforce"
    pipe_scopes = ["api"]

    def get(self, request: HttpRequest) -> HttpResponse:
        return granted(request)


class MultiMixinView(PipeRequiredMixin, View):
    pipe_providers = {"hubspot": ["crm.read"], "slack": []}

    def get(self, request: HttpRequest) -> HttpResponse:
        return granted(request)


class AsyncMixinView(PipeRequiredMixin, View):
    pipe_provider = "salesforce"

    async def get(self, request: HttpRequest) -> HttpResponse:
        return granted(request)


@method_decorator(require_pipe("salesforce", scopes=["api"]), name="dispatch")
class DecoratedView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return granted(request)


class AsyncDecoratedView(View):
    @method_decorator(require_pipe("salesforce"))
    async def get(self, request: HttpRequest) -> HttpResponse:
        return granted(request)


def status_page(request: HttpRequest) -> HttpResponse:
    return render(request, "status.html", {"providers": request.GET.getlist("provider")})


def connections(request: HttpRequest, provider: str | None = None) -> HttpResponse:
    """Stands in for a project's own connections page (custom ``CONNECT_URL``)."""
    return HttpResponse(provider or "all")
