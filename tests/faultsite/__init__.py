"""The test site of the fault suite: ``@require_pipe`` views, served in-process by the
Django test client or by real server processes (``tests.faultsite.settings``)."""

from __future__ import annotations

from typing import Any


def pipes_settings(
    *,
    base_url: str,
    api_key: str,
    webhook_secret: str = "",
    timeout: float = 0.3,
    max_retries: int = 2,
    backoff_max: float = 0.1,
    token_ttl: float = 3600,
    breaker_seconds: float = 0,
) -> dict[str, Any]:
    """``WORKOS_PIPES`` for the site: short timeouts, no backoff but ``Retry-After``
    (capped at ``backoff_max``), and the user taken from ``?user=``.

    The circuit breakers are off unless ``breaker_seconds`` is given: most of the fault
    suite measures what one request does on its own (its attempts, its timeouts)."""
    return {
        "API_KEY": api_key,
        "BASE_URL": base_url,
        "WEBHOOK_SECRET": webhook_secret,
        "TIMEOUT": timeout,
        "MAX_RETRIES": max_retries,
        "BACKOFF_FACTOR": 0,
        "BACKOFF_MAX": backoff_max,
        "TOKEN_TTL": token_ttl,
        "WORKOS_BREAKER_SECONDS": breaker_seconds,
        "CACHE_BREAKER_SECONDS": breaker_seconds,
        "USER_ID_RESOLVER": "tests.faultsite.views.user_from_query",
        "ORGANIZATION_ID_RESOLVER": "tests.faultsite.views.no_organization",
    }
