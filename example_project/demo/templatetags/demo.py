"""``{% load demo %}``: how the example's templates name providers and describe states."""

from __future__ import annotations

from django import template

from ..providers import BY_SLUG, Provider, display_name

register = template.Library()

STATES = {
    None: ("Connected", "ok"),
    "not_installed": ("Not connected", "off"),
    "needs_reauthorization": ("Needs reauthorization", "warn"),
    "unknown": ("Status unavailable", "error"),
}


@register.filter
def provider_name(slug: str) -> str:
    return display_name(slug)


@register.filter
def provider(slug: str) -> Provider | None:
    return BY_SLUG.get(slug)


@register.filter
def state_label(error: str | None) -> str:
    if error in STATES:
        return STATES[error][0]
    return str(error).replace("_", " ").capitalize()  # a code WorkOS added later


@register.filter
def state_tone(error: str | None) -> str:
    return STATES.get(error, ("", "error"))[1]
