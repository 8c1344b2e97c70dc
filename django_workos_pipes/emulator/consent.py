"""The consent page an authorize URL points at: Allow connects, Deny doesn't.

It stands in for the provider's own screen: OAuth consent, or, for an API-key provider,
a form asking for the key and the provider's config fields. It says whose account is
being connected (a user's, or an organization's, set up by one of its members). Each
link can be answered once. Allow connects the account and sends the signed
``connected`` webhook; Deny sends ``connection_failed`` (``add_failed`` when adding
another account, in the family that has it). Either waits (bounded) for its delivery
before sending the browser back to ``return_to``, so the app has seen the webhook by
the time the user lands on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

from .accounts import Accounts, await_delivery
from .methods import ConnectionMethods
from .pages import consent_page, message_page
from .state import ConsentRequest
from .web import Request, Response, Router, html_response, redirect

NOT_FOUND_TITLE = "This link is not valid"
NOT_FOUND_TEXT = (
    "The consent link is unknown or has already been used. Start the connection again "
    "from your app."
)
CONFIG_PREFIX = "config_"


class ConsentPages:
    """``GET /consent/{id}`` shows the page; ``POST`` records the decision.

    ``connections``: the emulator, whose ``connect`` a subclass may wrap.
    """

    def __init__(self, accounts: Accounts, connections: ConnectionMethods) -> None:
        self.accounts = accounts
        self.connections = connections

    def register(self, router: Router) -> None:
        router.add("GET", "/consent/{consent_id}", self.show)
        router.add("POST", "/consent/{consent_id}", self.decide)

    def show(self, request: Request, params: Mapping[str, str]) -> Response:
        consent = self.accounts.pending_consent(params["consent_id"])
        if consent is None:
            return html_response(404, message_page(NOT_FOUND_TITLE, NOT_FOUND_TEXT))
        provider = self.accounts.providers[consent.provider]
        scopes = self.accounts.consent_scopes(consent)
        return html_response(200, consent_page(consent, provider, scopes))

    def decide(self, request: Request, params: Mapping[str, str]) -> Response:
        form = request.form()
        decision = form.get("decision")
        if decision not in ("allow", "deny"):
            return html_response(
                400, message_page("Choose Allow or Deny", "The form was missing its decision.")
            )
        pending = self.accounts.pending_consent(params["consent_id"])
        if pending is not None and decision == "allow":
            refusal = _api_key_refusal(self.accounts, pending, form)
            if refusal is not None:
                return html_response(400, message_page("Check the API key", refusal))
        consent = answer_consent(
            self.accounts, self.connections, params["consent_id"], decision == "allow", form
        )
        if consent is None:
            return html_response(404, message_page(NOT_FOUND_TITLE, NOT_FOUND_TEXT))
        if decision == "deny":
            if consent.return_to:
                denied = with_query(consent.return_to, error="access_denied", state=consent.state)
                return redirect(denied)
            return html_response(200, message_page("Access denied", "Nothing was connected."))
        if consent.return_to:
            return redirect(consent.return_to)
        name = self.accounts.providers[consent.provider].name
        return html_response(200, message_page(f"{name} connected", "You can close this tab."))


def answer_consent(
    accounts: Accounts,
    connections: ConnectionMethods,
    consent_id: str,
    allow: bool,
    form: Mapping[str, str] | None = None,
) -> ConsentRequest | None:
    """Allow (connect the account) or deny a consent; ``None`` if already answered.

    ``form``: what the page sent, for an API-key provider (``api_key``,
    ``config_<field>``); without it, a key is made up.
    """
    consent = accounts.take_consent(consent_id)
    if consent is None:
        return None
    if not allow:
        await_delivery(accounts.connection_failed(consent))
        return consent
    provider = accounts.providers[consent.provider]
    if provider.takes_api_key:
        config = {**(consent.config or {}), **_config_fields(form or {})}
        connections.install_api_key(
            consent.provider,
            consent.user_id,
            consent.organization_id,
            api_key=(form or {}).get("api_key") or None,
            config=config,
            owner=consent.owner,
            account_display_name=consent.account_display_name,
            connection_intent=consent.connection_intent,
            connected_account_id=consent.connected_account_id,
        )
        return consent
    connections.connect(
        consent.provider,
        consent.user_id,
        consent.organization_id,
        scopes=accounts.consent_scopes(consent),
        account_display_name=consent.account_display_name,
        owner=consent.owner,
        connection_intent=consent.connection_intent,
        connected_account_id=consent.connected_account_id,
        config=consent.config,
    )
    return consent


def _config_fields(form: Mapping[str, str]) -> dict[str, str]:
    return {
        name[len(CONFIG_PREFIX) :]: value.strip()
        for name, value in form.items()
        if name.startswith(CONFIG_PREFIX) and value.strip()
    }


def _api_key_refusal(
    accounts: Accounts, consent: ConsentRequest, form: Mapping[str, str]
) -> str | None:
    """Why the API-key form can't be accepted as sent; ``None`` when it can."""
    provider = accounts.providers[consent.provider]
    if not provider.takes_api_key:
        return None
    key = form.get("api_key", "").strip()
    if key and len(key) < 8:
        return "An API key has at least 8 characters. Go back and try again."
    given = {**(consent.config or {}), **_config_fields(form)}
    missing = [name for name in provider.config_fields if not given.get(name)]
    if missing:
        return f"Fill in {', '.join(missing)}. Go back and try again."
    return None


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string, keeping what is there."""
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return urlunsplit(parts._replace(query=query))
