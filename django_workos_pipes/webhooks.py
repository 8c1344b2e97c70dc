"""The WorkOS webhook endpoint: verify, acknowledge once, invalidate cached tokens.

``path("pipes/", include("django_workos_pipes.urls"))`` routes it as
``workos_pipes:webhook``; :func:`webhook` (also importable from
``django_workos_pipes.views``) or ``WebhookView.as_view(...)`` serve custom routes.

A delivery is answered:

- 405 for any method but POST;
- 503 while no webhook secret is configured (system check ``workos_pipes.W002``), so
  WorkOS keeps the events and retries them once the secret is set;
- 400, with a short plain-text reason and a warning in the log, when the signature is
  missing, malformed, wrong or outside ``WEBHOOK_TOLERANCE``, or when the verified body
  is not an event envelope;
- 200 once the event is handled, and 200 again, without handling it twice, for every
  later delivery of the same event id;
- 409 while another delivery of the same id is being handled, so WorkOS retries later;
- 503 when the cache can't be written, so the cached token could not be invalidated:
  WorkOS delivers the event again (acknowledging it would leave the token served once
  the cache answers again);
- 500 when a signal receiver raises: the event is not marked handled and WorkOS retries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import decorators as auth_decorators
from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from . import signatures
from .caching.keys import invalidation_keys
from .caching.ledger import CLAIM_TIMEOUT, IDEMPOTENCY_TTL, Claim, EventLedger
from .conf import app_settings
from .events import (
    EnvelopeError,
    Event,
    connection_change,
    log_change,
    parse_event,
    send_signals,
)
from .service import PipesService, pipes

logger = logging.getLogger(__name__)


def _login_not_required(view_func: Any) -> Any:
    """Exempt the view from Django 5.1+'s ``LoginRequiredMiddleware``: WorkOS never logs in.

    Older Django has no such middleware, and nothing to exempt the view from.
    """
    exempt = getattr(auth_decorators, "login_not_required", None)
    return exempt(view_func) if exempt is not None else view_func


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(_login_not_required, name="dispatch")
class WebhookView(View):
    """Receives WorkOS webhooks. Attributes left as None follow ``settings.WORKOS_PIPES``.

    ``WebhookView.as_view(secrets=[...], tolerance=..., service=...)`` serves a custom
    route, e.g. a second WorkOS environment with its own secret and token service.
    """

    http_method_names = ["post"]
    secrets: Sequence[str] | None = None
    """Accepted secrets; default ``WORKOS_PIPES["WEBHOOK_SECRET"]``. Give several to rotate."""
    tolerance: float | None = None
    """Seconds a signature's timestamp may differ from now; default ``WEBHOOK_TOLERANCE``."""
    service: PipesService | None = None
    """The token service to invalidate; default the package's ``pipes``."""
    idempotency_ttl: float = IDEMPOTENCY_TTL
    claim_timeout: float = CLAIM_TIMEOUT

    def get_secrets(self) -> tuple[str, ...]:
        if self.secrets is None:
            return app_settings.WEBHOOK_SECRETS
        # One string may hold several, comma-separated, as in the setting.
        values = self.secrets.split(",") if isinstance(self.secrets, str) else self.secrets
        return tuple(secret.strip() for secret in values if secret and secret.strip())

    def get_tolerance(self) -> float:
        return app_settings.WEBHOOK_TOLERANCE if self.tolerance is None else self.tolerance

    def get_service(self) -> PipesService:
        return pipes if self.service is None else self.service

    def post(self, request: HttpRequest) -> HttpResponse:
        secrets = self.get_secrets()
        if not secrets:
            logger.warning(
                "WorkOS webhook refused: no webhook secret is configured "
                "(set WORKOS_PIPES['WEBHOOK_SECRET']; see check workos_pipes.W002)."
            )
            return _plain("webhook secret not configured", status=503)
        try:
            payload = request.body
        except RawPostDataException:  # a middleware consumed a form body before us
            return self.reject(request, "body already consumed")
        try:
            signatures.verify(
                payload,
                request.headers.get(signatures.HEADER),
                secrets,
                tolerance=self.get_tolerance(),
            )
            event = parse_event(payload)
        except (signatures.SignatureError, EnvelopeError) as exc:
            return self.reject(request, str(exc))
        return self.deliver(event, payload)

    def deliver(self, event: Event, payload: bytes) -> HttpResponse:
        """Handle a verified event once per id, marking it handled only if that succeeds.

        Two round trips with Redis: the claim together with the event's invalidation,
        then the "handled" mark (see :mod:`~django_workos_pipes.caching.ledger`).
        """
        service = self.get_service()
        ledger = EventLedger(
            service.cache, ttl=self.idempotency_ttl, claim_timeout=self.claim_timeout
        )
        event_id: str = event["id"]
        change = connection_change(event)
        invalidate = (
            ()
            if change is None or change.failed  # a failed attempt changed nothing
            else invalidation_keys(change.provider, change.user_id, change.organization_id)
        )
        claim, stored = ledger.claim(event_id, invalidate=invalidate)
        if not stored:
            ledger.release(event_id)
            logger.warning(
                "WorkOS event %s (%s): the cache is unavailable, so the cached token was not "
                "invalidated; answering 503 so WorkOS delivers it again.",
                event_id,
                event["event"],
            )
            return _plain("cache unavailable; deliver again later", status=503)
        if claim is Claim.HANDLED:
            logger.info("WorkOS event %s (%s) already handled.", event_id, event["event"])
            return _plain("already handled")
        if claim is Claim.IN_PROGRESS:
            logger.info("WorkOS event %s is being handled by another delivery.", event_id)
            return _plain("event is being handled; retry later", status=409)
        if change is not None:
            log_change(event, change)
        try:
            send_signals(event, payload, change, sender=type(self))
        except BaseException as exc:
            ledger.release(event_id)
            logger.warning(
                "WorkOS event %s (%s) failed (%s); answering 500 so WorkOS delivers it again.",
                event_id,
                event["event"],
                type(exc).__name__,
            )
            raise
        ledger.mark_handled(event_id)
        return _plain("ok")

    def reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        """400 with ``reason``; the log names the reason and the sender, never the body."""
        logger.warning(
            "WorkOS webhook rejected: %s (from %s)", reason, request.META.get("REMOTE_ADDR", "-")
        )
        return _plain(reason, status=400)


def _plain(text: str, *, status: int = 200) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


webhook = WebhookView.as_view()
"""The endpoint as a view function, for ``path("...", webhook)``."""
