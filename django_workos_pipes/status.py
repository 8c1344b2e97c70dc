"""What a template may know about a connection: everything but the token.

Tokens never reach client-side code, so :class:`PipeStatus` is built from a result
without keeping its :class:`~django_workos_pipes.results.AccessToken` (or
:class:`~django_workos_pipes.results.Credential`): no attribute, method, ``str``,
``repr`` or lookup can lead a template to the token string or the API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .providers import provider_name
from .results import Credential, CredentialResult, ReadOnlyDict, TokenResult

# ``error`` values that don't come from WorkOS.
UNKNOWN = "unknown"  # WorkOS could not answer: the state is not known right now
ANONYMOUS = "anonymous"  # no WorkOS user behind the request, so no connection to look up
ORGANIZATION_REQUIRED = "organization_required"  # an organization's connection, and none
NOT_LINKED = "not_linked"  # a logged-in user the linker refused to link (see LinkRefused)


@dataclass(frozen=True, slots=True)
class PipeStatus:
    """The state of one user's connection to ``provider``.

    ``error`` is None when ``active``; otherwise a WorkOS code (``not_installed``,
    ``needs_reauthorization``, ``account_selection_required``...), ``"unknown"``,
    ``"anonymous"``, ``"not_linked"`` or ``"organization_required"`` (an organization's
    connection, asked for without an organization).
    ``name`` is the provider's display name. Built from a credentials answer, an active
    status also has the ``auth_method`` and the provider's non-secret ``config``.
    """

    provider: str
    active: bool
    error: str | None = None
    scopes: tuple[str, ...] = ()
    missing_scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None
    auth_method: str | None = field(default=None, repr=False)
    config: Mapping[str, str] = field(default_factory=ReadOnlyDict, repr=False)

    @property
    def name(self) -> str:
        return provider_name(self.provider)

    @classmethod
    def from_result(cls, provider: str, result: TokenResult | CredentialResult) -> PipeStatus:
        granted = result.granted
        if granted is None:
            return cls(provider, active=False, error=result.error or UNKNOWN)
        credential = granted if isinstance(granted, Credential) else None
        return cls(
            provider,
            active=True,
            scopes=granted.scopes,
            missing_scopes=granted.missing_scopes,
            expires_at=granted.expires_at,
            auth_method=credential.auth_method if credential is not None else None,
            config=credential.config if credential is not None else ReadOnlyDict(),
        )

    @classmethod
    def unknown(cls, provider: str) -> PipeStatus:
        return cls(provider, active=False, error=UNKNOWN)

    @classmethod
    def anonymous(cls, provider: str) -> PipeStatus:
        return cls(provider, active=False, error=ANONYMOUS)

    @classmethod
    def not_linked(cls, provider: str) -> PipeStatus:
        return cls(provider, active=False, error=NOT_LINKED)

    @classmethod
    def organization_required(cls, provider: str) -> PipeStatus:
        return cls(provider, active=False, error=ORGANIZATION_REQUIRED)
