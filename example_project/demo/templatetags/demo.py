"""``{% load demo %}``: how the example's templates name providers and describe states."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

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
def scope_breaks(value: str) -> SafeString:
    """A scope with line-break opportunities after its separators only:
    ``crm.objects.contacts.read`` may wrap after a dot, never inside a word."""
    parts = re.split(r"(?<=[./:])(?!/)", str(value))
    return mark_safe("<wbr>".join(escape(part) for part in parts if part))


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
