"""The test site of the system tests: ``@require_pipe`` views, served in-process by the
Django test client or by real server processes (``tests.system.faultsite.settings``),
for the fault suite, the soak and the cross-process tests."""

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
    encryption_keys: str = "",
    breaker_seconds: float = 0,
) -> dict[str, Any]:
    """``WORKOS_PIPES`` for the site: short timeouts, no backoff but ``Retry-After``
    (capped at ``backoff_max``), the user taken from ``?user=``, and tokens encrypted in
    the cache when ``encryption_keys`` (comma-separated) are given.

    The circuit breakers are off unless ``breaker_seconds`` is given: most of the fault
    suite measures what one request does on its own (its attempts, its timeouts)."""
    return {
        "ENCRYPTION_KEYS": encryption_keys,
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
        "USER_ID_RESOLVER": "tests.system.faultsite.views.user_from_query",
        "ORGANIZATION_ID_RESOLVER": "tests.system.faultsite.views.no_organization",
    }
