"""Masking of secrets and identifiers for logs, reprs and error messages.

Every place that could show an API key, a webhook secret or an access token shows
``mask(value)`` instead: at most the first four characters and an ellipsis.
"""

from __future__ import annotations

ELLIPSIS = "\u2026"


def mask(value: str | None, *, keep: int = 4) -> str:
    """``"ya29.a0Af..."`` -> ``"ya29…"``; short values lose everything but the ellipsis.

    A value shorter than three times ``keep`` would give too much of itself away, so
    only the ellipsis is shown for it.
    """
    if not value:
        return ELLIPSIS
    keep = max(0, min(keep, 4))
    if len(value) < 3 * keep:
        return ELLIPSIS
    return value[:keep] + ELLIPSIS


def mask_id(value: str | None) -> str:
    """Identifiers (``user_01H...``) are not secret, but logs need only their prefix."""
    if not value:
        return "-"
    prefix, sep, rest = value.partition("_")
    if sep and rest:
        return f"{prefix}_{rest[:4]}{ELLIPSIS}"
    return mask(value)
