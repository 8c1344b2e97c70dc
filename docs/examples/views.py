"""Views of the how-to guides. Each is shown on its page by ``literalinclude`` and
driven by ``tests/test_docs_examples.py`` through Django's test client."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpResponse, JsonResponse
from django.views import View

from django_workos_pipes.decorators import PipesHttpRequest, require_pipe
from django_workos_pipes.mixins import PipeRequiredMixin

SALESFORCE = "https://acme.my.salesforce.com/services/data/v60.0"


@require_pipe("salesforce", owner="organization")
def pipeline(request: PipesHttpRequest) -> HttpResponse:
    """Every member of the organization uses the token its administrator connected."""
    token = request.pipes["salesforce"]
    return HttpResponse(f"Your organization's Salesforce (token {token.masked})")


@require_pipe("zendesk", credentials=True)
def tickets(request: PipesHttpRequest) -> HttpResponse:
    """An API-key provider: the Credential, with the provider's non-secret config."""
    zendesk = request.pipes["zendesk"]
    url = f"https://{zendesk.config['subdomain']}.zendesk.com/api/v2/tickets.json"
    return HttpResponse(f"{zendesk.auth_method} credential for {url} ({zendesk.masked})")


@require_pipe("salesforce")
def objects(request: PipesHttpRequest) -> JsonResponse:
    """A provider call: a token that died early is renewed once, and the call resent."""
    response = request.pipes.session("salesforce").get(f"{SALESFORCE}/sobjects/", timeout=10)
    response.raise_for_status()
    return JsonResponse(response.json())


@require_pipe("salesforce")
async def objects_async(request: PipesHttpRequest) -> JsonResponse:
    """The same call from an async view: ``requests`` runs in a worker thread."""
    session = request.pipes.session("salesforce")
    get = sync_to_async(session.get, thread_sensitive=False)
    response = await get(f"{SALESFORCE}/sobjects/", timeout=10)
    response.raise_for_status()
    return JsonResponse(response.json())


class Reports(PipeRequiredMixin, View):
    """The class-based twin of ``require_pipe``: Salesforce with the ``api`` scope."""

    pipe_provider = "salesforce"
    pipe_scopes = ["api"]

    def get(self, request: PipesHttpRequest) -> HttpResponse:
        token = request.pipes["salesforce"]
        return HttpResponse(f"Reports with {token.masked}")
