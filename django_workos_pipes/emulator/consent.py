"""The consent page an authorize URL points at: Allow connects, Deny doesn't.

It stands in for the provider's own OAuth screen. Each link can be answered once;
Allow connects the account, sends the signed ``connected`` webhook, waits (bounded)
for its delivery and then sends the browser back to ``return_to``, so the app has
seen the webhook by the time the user lands on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

from .accounts import Accounts, Connect
from .pages import consent_page, message_page
from .state import ConsentRequest
from .web import Request, Response, Router, html_response, redirect

NOT_FOUND_TITLE = "This link is not valid"
NOT_FOUND_TEXT = (
    "The consent link is unknown or has already been used. Start the connection again "
    "from your app."
)


class ConsentPages:
    """``GET /consent/{id}`` shows the page; ``POST`` records the decision.

    ``connect`` is :meth:`Accounts.connect` or a method wrapping it.
    """

    def __init__(self, accounts: Accounts, connect: Connect) -> None:
        self.accounts = accounts
        self.connect = connect

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
        decision = request.form().get("decision")
        if decision not in ("allow", "deny"):
            return html_response(
                400, message_page("Choose Allow or Deny", "The form was missing its decision.")
            )
        allow = decision == "allow"
        consent = answer_consent(self.accounts, self.connect, params["consent_id"], allow)
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
    accounts: Accounts, connect: Connect, consent_id: str, allow: bool
) -> ConsentRequest | None:
    """Allow (connect the account) or deny a consent; ``None`` if already answered."""
    consent = accounts.take_consent(consent_id)
    if consent is not None and allow:
        scopes = accounts.consent_scopes(consent)
        connect(consent.provider, consent.user_id, consent.organization_id, scopes=scopes)
    return consent


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query string, keeping what is there."""
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return urlunsplit(parts._replace(query=query))
