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


# A connected account's state, as the connections listing gives it (None: no account).
CONNECTION_STATES = {
    "connected": ("Connected", "ok"),
    "needs_reauthorization": ("Needs reauthorization", "warn"),
    "disconnected": ("Disconnected", "off"),
    None: ("Not connected", "off"),
}


@register.filter
def connection_label(state: str | None) -> str:
    if state in CONNECTION_STATES:
        return CONNECTION_STATES[state][0]
    return str(state).replace("_", " ").capitalize()  # a state WorkOS added later


@register.filter
def connection_tone(state: str | None) -> str:
    return CONNECTION_STATES.get(state, ("", "error"))[1]
