"""The providers the emulator answers for, with the scopes its consent page grants.

A real WorkOS environment answers only for the data integrations set up in its
dashboard and gives a 404 for any other slug, so the emulator keeps a list too. Each
provider also says what its tokens look like, so masked tokens in a demo read like
the real thing (``ya29…``, ``xoxp…``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Provider:
    """One data integration: its slug, display name, default scopes and token prefix,
    the description the providers listing gives (``None``: none was written), how it
    authenticates (``oauth``, ``api_key``) and the config fields its install asks for."""

    slug: str
    name: str
    scopes: tuple[str, ...] = ()
    token_prefix: str = "tok_"
    description: str | None = None
    auth_methods: tuple[str, ...] = ("oauth",)
    config_fields: tuple[str, ...] = ()

    @property
    def credentials_type(self) -> str:
        """What the listing calls it: ``oauth2``, or ``api_key`` for a key-only provider."""
        return "oauth2" if "oauth" in self.auth_methods else self.auth_methods[0]

    @property
    def takes_api_key(self) -> bool:
        """Whether its connect flow asks for an API key instead of OAuth consent."""
        return "oauth" not in self.auth_methods


BUILTIN: tuple[Provider, ...] = (
    Provider(
        "salesforce",
        "Salesforce",
        ("api", "refresh_token", "id"),
        "00D",
        "Accounts, contacts and opportunities from Salesforce.",
    ),
    Provider(
        "hubspot",
        "HubSpot",
        ("oauth", "crm.objects.contacts.read", "crm.objects.companies.read"),
        "CJT",
        "Contacts and companies from HubSpot CRM.",
    ),
    Provider(
        "slack",
        "Slack",
        ("channels:read", "chat:write", "users:read"),
        "xoxp-",
        "Read channels and post messages in Slack.",
    ),
    Provider(
        "google",
        "Google",
        (
            "openid",
            "email",
            "https://www.googleapis.com/auth/calendar.readonly",
            "https://www.googleapis.com/auth/drive.readonly",
        ),
        "ya29.",
        "Calendar and Drive, read-only.",
    ),
    Provider(
        "microsoft",
        "Microsoft",
        ("offline_access", "User.Read", "Calendars.Read"),
        "EwBo",
        "Your Microsoft 365 profile and calendar.",
    ),
    Provider(
        "jira",
        "Jira",
        ("read:jira-work", "read:jira-user", "offline_access"),
        "eyJh",
        "Issues and projects from Jira.",
    ),
    Provider(
        "github",
        "GitHub",
        ("repo", "read:user"),
        "gho_",
        "Repositories and your GitHub profile.",
    ),
    Provider(
        "notion",
        "Notion",
        ("read_content",),
        "ntn_",
        "Pages and databases from Notion.",
    ),
    Provider(
        "asana",
        "Asana",
        ("default",),
        "2/12",
        "Tasks and projects from Asana.",
    ),
    Provider(
        "dropbox",
        "Dropbox",
        ("account_info.read", "files.metadata.read", "files.content.read"),
        "sl.B",
        "Files and folders from Dropbox.",
    ),
    Provider(
        "apollo-oauth",
        "Apollo",
        ("read_user_profile", "contacts_search"),
        "apo_",
        "Contact search and your Apollo profile.",
    ),
    # An API-key provider, with an install-time config field (its connect flow asks
    # for the key and the subdomain instead of OAuth consent).
    Provider(
        "zendesk",
        "Zendesk",
        (),
        "zd_",
        "Tickets and users from Zendesk, with an API token.",
        auth_methods=("api_key",),
        config_fields=("subdomain",),
    ),
)


def custom(slug: str, scopes: Sequence[str] = ()) -> Provider:
    """A provider the built-in list lacks, named after its slug (``my-crm`` -> ``My Crm``)."""
    if not slug or slug != slug.strip() or "/" in slug:
        raise ValueError(f"invalid provider slug {slug!r}")
    return Provider(slug, slug.replace("-", " ").replace("_", " ").title(), tuple(scopes))


def parse_spec(spec: str) -> Provider:
    """Read ``--provider slug[=scope,scope]`` from the command line."""
    slug, _, scopes = spec.partition("=")
    return custom(slug.strip(), [s.strip() for s in scopes.split(",") if s.strip()])


def registry(
    extra: Mapping[str, Sequence[str]] | Iterable[Provider] | None = None,
) -> dict[str, Provider]:
    """The built-in providers plus ``extra`` ones (same slug: the extra one wins)."""
    providers = {provider.slug: provider for provider in BUILTIN}
    if extra is None:
        return providers
    if isinstance(extra, Mapping):
        added = [_merge(providers.get(slug), slug, scopes) for slug, scopes in extra.items()]
    else:
        added = list(extra)
    providers.update((provider.slug, provider) for provider in added)
    return providers


def _merge(known: Provider | None, slug: str, scopes: Sequence[str]) -> Provider:
    if isinstance(scopes, str):
        raise TypeError(f"scopes for {slug!r} must be a list of strings, not a string")
    if known is None:
        return custom(slug, scopes)
    return replace(known, scopes=tuple(scopes))
