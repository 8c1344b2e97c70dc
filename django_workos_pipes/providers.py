"""Provider display names: what a person reads where the API has a slug.

``PROVIDER_NAMES`` (a setting) wins, then the names of well-known slugs
(``hubspot`` -> ``HubSpot``), then the slug in title case (``my-crm`` -> ``My Crm``).
"""

from __future__ import annotations

from . import wire
from .conf import app_settings


def provider_name(slug: str) -> str:
    """The name of the provider ``slug`` as the app's pages show it."""
    configured = app_settings.PROVIDER_NAMES.get(slug)
    if configured:
        return str(configured)
    known = wire.PROVIDER_NAMES.get(slug)
    if known:
        return known
    return " ".join(slug.replace("_", " ").replace("-", " ").split()).title() or slug
