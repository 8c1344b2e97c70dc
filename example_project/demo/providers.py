"""The providers the dashboard lists, with what a person needs to recognise them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    slug: str  # the WorkOS Pipes provider slug
    name: str
    colour: str
    blurb: str
    page: str | None = None  # the URL name of the page that needs this connection


PROVIDERS = (
    Provider("salesforce", "Salesforce", "#00a1e0", "Accounts and opportunities", "salesforce"),
    Provider("hubspot", "HubSpot", "#ff7a59", "Contacts and companies", "crm_and_chat"),
    Provider("slack", "Slack", "#4a154b", "Channels and messages", "crm_and_chat"),
    Provider("google", "Google", "#4285f4", "Calendar and Drive"),
    Provider("microsoft", "Microsoft", "#00a4ef", "Outlook calendar and profile"),
    Provider("jira", "Jira", "#0052cc", "Issues and projects", "jira"),
)

BY_SLUG = {provider.slug: provider for provider in PROVIDERS}


def display_name(slug: str) -> str:
    provider = BY_SLUG.get(slug)
    return provider.name if provider else slug.replace("-", " ").title()
