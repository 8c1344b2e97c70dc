"""The emulator's connection methods, written once for Python callers and the handlers.

:class:`~.app.Emulator` inherits :class:`ConnectionMethods`, and the control API, the
consent page and the token calls are handed the emulator as one, so a subclass that
overrides ``connect`` or ``issue_token`` (``tests/system/faultkit.py``'s recording
emulator) sees every token, whether Python, the control API, the consent page or a
token call asked for it. The methods check their arguments and build the grant;
:class:`~.accounts.Accounts` applies, saves and announces the change.

Each method acts on a user's account by default. ``owner="organization"`` acts on the
organization's own (``user_id`` is then the member who sets it up, or None);
``connected_account_id`` names one account when the owner has several.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence

from .. import wire
from .accounts import Accounts
from .providers import Provider
from .state import API_KEY, KEEP, OAUTH, USER, Connection, ConsentRequest, Grant, Keep, make_key


class ConnectionMethods:
    """Connect, change and read tokens of accounts; the :class:`~.app.Emulator`'s own."""

    _accounts: Accounts

    def connect(
        self,
        provider: str,
        user_id: str | None,
        organization_id: str | None = None,
        scopes: Sequence[str] | None = None,
        missing_scopes: Sequence[str] = (),
        *,
        account_display_name: str | Keep | None = KEEP,
        owner: str = USER,
        connection_intent: str | None = None,
        connected_account_id: str | None = None,
        config: Mapping[str, str] | None = None,
        established_by_user_id: str | None = None,
    ) -> Connection:
        """Connect (or re-connect) an account with a fresh token; ``connected`` webhook.

        ``scopes=None`` grants the provider's default scopes. The account's display
        name is kept unless one is given; ``None`` clears it. ``connection_intent="add"``
        adds another account (a ``standard`` one, once the owner has one);
        ``connected_account_id`` re-connects that very account. ``config``: the
        connect-time config values it keeps.
        """
        accounts = self._accounts
        key = accounts.key(provider, user_id, organization_id, owner)
        default = accounts.providers[provider].scopes
        grant = Grant(
            scopes=default if scopes is None else _strings(scopes, "scopes"),
            missing_scopes=_strings(missing_scopes, "missing_scopes"),
            account_display_name=_label(account_display_name),
            config=_config(config),
            established_by_user_id=established_by_user_id or user_id,
        )
        return accounts.connect(key, grant, OAUTH, connection_intent, connected_account_id)

    def install_api_key(
        self,
        provider: str,
        user_id: str | None,
        organization_id: str | None = None,
        *,
        api_key: str | None = None,
        config: Mapping[str, str] | None = None,
        owner: str = USER,
        account_display_name: str | Keep | None = KEEP,
        connection_intent: str | None = None,
        connected_account_id: str | None = None,
    ) -> Connection:
        """Install an API key (made up when ``api_key`` is None) with its ``config``: an
        ``api_key`` connection, vended by ``/credentials`` with no expiry and no scopes;
        ``connected`` webhook."""
        accounts = self._accounts
        key = accounts.key(provider, user_id, organization_id, owner)
        if api_key is not None and (not isinstance(api_key, str) or len(api_key.strip()) < 8):
            raise ValueError("api_key must be a string of at least 8 characters")
        grant = Grant(
            account_display_name=_label(account_display_name),
            api_key=api_key.strip() if api_key else _made_up_key(accounts.providers[provider]),
            config=_config(config) or {},
            established_by_user_id=user_id,
        )
        return accounts.connect(key, grant, API_KEY, connection_intent, connected_account_id)

    def needs_reauthorization(
        self,
        provider: str,
        user_id: str | None,
        organization_id: str | None = None,
        *,
        owner: str = USER,
        connected_account_id: str | None = None,
    ) -> Connection:
        """Flip a connection to ``needs_reauthorization``; webhook on the transition."""
        return self._accounts.change(
            "needs_reauthorization", provider, user_id, organization_id, owner, connected_account_id
        )

    def disconnect(
        self,
        provider: str,
        user_id: str | None,
        organization_id: str | None = None,
        *,
        owner: str = USER,
        connected_account_id: str | None = None,
    ) -> Connection:
        """Remove a connection (token calls answer ``not_installed``); webhook."""
        return self._accounts.change(
            "disconnect", provider, user_id, organization_id, owner, connected_account_id
        )

    def expire(
        self,
        provider: str,
        user_id: str | None,
        organization_id: str | None = None,
        *,
        owner: str = USER,
        connected_account_id: str | None = None,
    ) -> Connection:
        """Make the current token expired, so the next token call rotates it (no webhook)."""
        return self._accounts.change(
            "expire", provider, user_id, organization_id, owner, connected_account_id
        )

    def revoke_at_provider(
        self,
        provider: str,
        user_id: str | None,
        organization_id: str | None = None,
        *,
        owner: str = USER,
        connected_account_id: str | None = None,
    ) -> Connection:
        """Revoke the grant at the provider: ``/_provider/{slug}/me`` refuses its token at
        once (no webhook); the next token call answers ``needs_reauthorization``, moves
        the connection there and sends ``reauthorization_needed``. Reauthorizing (a new
        consent) clears it."""
        return self._accounts.change(
            "revoke_at_provider", provider, user_id, organization_id, owner, connected_account_id
        )

    def issue_token(
        self,
        provider: str,
        user_id: str,
        organization_id: str | None,
        *,
        owner: str = USER,
        connected_account_id: str | None = None,
        multiple: bool = False,
    ) -> Connection | None:
        """The connection behind a token or credentials call, its token rotated first if
        it is due."""
        key = make_key(provider, user_id, organization_id, owner)
        return self._accounts.issue_token(key, connected_account_id, multiple)

    def start_consent(
        self,
        provider: str,
        user_id: str,
        organization_id: str | None,
        return_to: str | None,
        connection_intent: str | None = None,
        connected_account_id: str | None = None,
        account_display_name: str | Keep | None = KEEP,
        *,
        owner: str = USER,
        config: Mapping[str, str] | None = None,
    ) -> ConsentRequest:
        """What an authorize call starts: a consent waiting on its page;
        :class:`~.state.UnknownConnection` when asked to reauthorize an account the owner
        doesn't have."""
        self._accounts.key(provider, user_id, organization_id, owner)  # checks them
        consent = ConsentRequest(
            id=wire.new_id("consent").lower(),
            state=secrets.token_urlsafe(24),
            provider=provider,
            user_id=user_id,
            organization_id=organization_id or None,
            return_to=return_to,
            connection_intent=connection_intent,
            connected_account_id=connected_account_id,
            created_at=wire.now(),
            account_display_name=account_display_name,
            owner=owner,
            config=None if config is None else dict(config),
        )
        self._accounts.add_consent(consent)
        return consent


def _strings(values: Sequence[str], name: str) -> tuple[str, ...]:
    if isinstance(values, str) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{name} must be a list of strings")
    return tuple(values)


def _label(value: str | Keep | None) -> str | Keep | None:
    if not isinstance(value, (str, Keep, type(None))):
        raise ValueError("account_display_name must be a string or None")
    return value


def _config(config: Mapping[str, str] | None) -> dict[str, str] | None:
    if config is None:
        return None
    if not isinstance(config, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in config.items()
    ):
        raise ValueError("config must map names to strings")
    return dict(config)


def _made_up_key(provider: Provider) -> str:
    return f"{provider.token_prefix}key_{secrets.token_urlsafe(24)}"
