"""The example site in a real browser against the emulator: its "Connected apps" page
(issue 11) and its provider pages calling the provider's API (issue 14).

Connected apps: headless Chromium logs in, connects Salesforce from the page (consent ->
Allow -> back), sees the new state, sees a change made in the emulator arrive by
webhook, disconnects through the page, and is then sent by the Salesforce page to
connect again. Between the steps it renders the page 100 times and counts the
emulator's providers-listing calls: the listing is cached per user until something
changes, so 100 renders cost 1 call.

Provider pages: each calls the emulator's stand-in provider API through
``request.pipes.session(...)``. After "Expire token" the page shows the provider's 401
and the resend with the fresh token WorkOS handed out; after "Revoke at provider" the
browser is sent to reauthorize.

Screenshots go to a temporary directory whose files are printed (``pytest -s``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

from django_workos_pipes.masking import mask
from example_project.demo import accounts
from tests.system.browser.consent import assert_asked_to_connect_salesforce, consent_shown
from tests.system.browser.example_site import ExampleSite, Stack

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.processes]

USER_ID = accounts.WORKOS_USER_ID
RENDERS = 100


class Shots:
    """Numbered full-page screenshots in ``folder``, and every page's HTML kept."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page, self.folder = page, folder
        self.seen: list[tuple[Path, str]] = []

    def snap(self, name: str) -> str:
        self.page.wait_for_load_state("load")
        path = self.folder / f"{len(self.seen) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        html = self.page.content()
        self.seen.append((path, html))
        return html


def render_many(page: Page, url: str, times: int) -> None:
    """Render the page ``times`` more times in the browser's session (its cookies)."""
    for _ in range(times):
        answer = page.request.get(url)
        assert answer.status == 200
        assert 'data-provider="salesforce"' in answer.text()


def test_connect_see_render_disconnect_and_connect_again(
    stack: Stack, page: Page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from playwright.sync_api import expect

    site, emulator = stack.site, stack.emulator
    shots = Shots(page, tmp_path_factory.mktemp("connected-apps-screenshots"))
    apps = f"{site.url}/connected-apps/"
    card = page.locator('[data-provider="salesforce"]')
    figures: dict[str, int] = {}

    # 1. Log in, land on the page: every provider the emulator has, none connected.
    page.goto(apps)
    assert urlsplit(page.url).path == "/login/"
    page.get_by_label("Username").fill(accounts.USERNAME)
    page.get_by_label("Password").fill(accounts.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(apps)
    expect(page.get_by_role("heading", name="Connected apps", exact=True)).to_be_visible()
    expect(page.locator("article.provider")).to_have_count(len(emulator.providers))
    expect(card.locator(".badge")).to_have_text("Not connected")
    shots.snap("connected-apps-none")

    # 2. Connect from the page: the consent page, Allow, and back with the new state.
    before = emulator.listing_calls
    card.get_by_role("link", name="Connect Salesforce").click()
    page.wait_for_url(f"{emulator.url}/consent/*")
    shots.snap("consent")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(apps)
    connection = emulator.connection("salesforce", USER_ID)
    assert connection is not None and connection.state == "connected"
    expect(card).to_have_attribute("data-state", "connected")
    expect(card.locator(".badge")).to_have_text("Connected")
    expect(card.locator(".account-name")).to_have_text(f"{USER_ID.lower()}@salesforce.example.com")
    expect(card.locator(".chip")).to_have_text(list(connection.scopes))
    shots.snap("connected-apps-connected")

    # 3. That render and 99 more by the same user: one listing call.
    render_many(page, apps, RENDERS - 1)
    figures["listing calls for 100 renders after connecting"] = emulator.listing_calls - before

    # 4. A change made in the emulator arrives by webhook: the next render shows it.
    before = emulator.listing_calls
    emulator.needs_reauthorization("salesforce", USER_ID)
    page.reload()
    expect(card.locator(".badge")).to_have_text("Needs reauthorization")
    expect(card.get_by_role("link", name="Reconnect")).to_be_visible()
    shots.snap("connected-apps-needs-reauthorization")
    render_many(page, apps, RENDERS - 1)
    figures["listing calls for 100 renders after the emulator's change"] = (
        emulator.listing_calls - before
    )

    # 5. Disconnect through the page: WorkOS forgets the account, the page says so.
    before = emulator.listing_calls
    card.get_by_role("button", name="Disconnect Salesforce").click()
    page.wait_for_url(apps)
    expect(card.locator(".badge")).to_have_text("Not connected")
    expect(card.get_by_role("link", name="Connect Salesforce")).to_be_visible()
    assert emulator.connection("salesforce", USER_ID) is None
    assert emulator.wait_for_webhooks(5)
    assert [d.event["event"] for d in emulator.deliveries][-1].endswith(".disconnected")
    shots.snap("connected-apps-disconnected")
    render_many(page, apps, RENDERS - 1)
    figures["listing calls for 100 renders after disconnecting"] = emulator.listing_calls - before

    # 6. The Salesforce page now sends the user to connect again (not to reauthorize).
    page.goto(f"{site.url}/salesforce/")
    assert_asked_to_connect_salesforce(page, emulator, USER_ID)
    shots.snap("salesforce-connect-again")

    for name, value in figures.items():
        print(f"{name}: {value}")
    for path, _ in shots.seen:
        print(f"screenshot: {path}")
    assert set(figures.values()) == {1}

    # Nothing the browser was shown holds a token, the API key or the webhook secret.
    for path, html in shots.seen:
        for secret in (connection.access_token, stack.api_key, stack.webhook_secret):
            assert secret not in html, f"{path.name} shows a secret"
        assert mask(stack.api_key) not in html


def login(page: Page, site: ExampleSite, path: str) -> None:
    page.goto(f"{site.url}{path}")
    page.get_by_label("Username").fill(accounts.USERNAME)
    page.get_by_label("Password").fill(accounts.PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_provider_pages_survive_a_dead_token_and_send_a_revoked_one_to_reauthorize(
    stack: Stack, page: Page, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from playwright.sync_api import expect

    site, emulator = stack.site, stack.emulator
    shots = Shots(page, tmp_path_factory.mktemp("provider-api-screenshots"))
    figures: dict[str, tuple[int, int]] = {}
    for slug in ("salesforce", "hubspot", "slack", "jira"):
        emulator.connect(slug, USER_ID)
    api = page.locator('[data-provider="salesforce"] .provider-api')

    def counts() -> tuple[int, int]:
        return emulator.provider_calls, emulator.token_calls

    def since(before: tuple[int, int]) -> tuple[int, int]:
        now = counts()
        return now[0] - before[0], now[1] - before[1]

    # 1. The sync view calls the provider with the token it was granted: 200, no resend.
    login(page, site, "/salesforce/")
    page.wait_for_url(f"{site.url}/salesforce/")
    expect(api.locator(".api-status")).to_have_text("200")
    expect(api.locator(".api-resent")).to_have_text("no")
    first_seen = api.locator(".api-token").inner_text()
    shots.snap("salesforce-provider-200")

    # 2. "Expire token": the provider refuses the cached token, the session asks WorkOS
    # once (a fresh token), resends, and the page shows both answers.
    emulator.expire("salesforce", USER_ID)
    before = counts()
    page.reload()
    expect(api.locator(".api-status")).to_have_text("200")
    expect(api.locator(".api-resent")).to_contain_text("yes, 1 time: 401 (expired)")
    assert api.locator(".api-token").inner_text() != first_seen
    figures["expired token, one page load"] = since(before)
    shots.snap("salesforce-provider-resent")

    # 3. The async page (two providers) and the class-based view do the same: loaded
    # once (the site caches the tokens), a token expired, loaded again.
    page.goto(f"{site.url}/crm-and-chat/")
    emulator.expire("hubspot", USER_ID)
    page.reload()
    hubspot = page.locator('[data-provider="hubspot"] .provider-api')
    slack = page.locator('[data-provider="slack"] .provider-api')
    expect(hubspot.locator(".api-resent")).to_contain_text("401 (expired)")
    expect(slack.locator(".api-resent")).to_have_text("no")
    expect(slack.locator(".api-status")).to_have_text("200")
    shots.snap("crm-and-chat-provider")
    page.goto(f"{site.url}/jira/")
    emulator.expire("jira", USER_ID)
    page.reload()
    jira = page.locator('[data-provider="jira"] .provider-api')
    expect(jira.locator(".api-status")).to_have_text("200")
    expect(jira.locator(".api-resent")).to_contain_text("401 (expired)")
    shots.snap("jira-provider")

    # 4. "Revoke at provider": the provider refuses, WorkOS says needs_reauthorization,
    # and the page sends the browser to reauthorize that account.
    connection = emulator.connection("salesforce", USER_ID)
    assert connection is not None
    emulator.revoke_at_provider("salesforce", USER_ID)
    before = counts()
    page.goto(f"{site.url}/salesforce/")
    consent = consent_shown(page, emulator)
    figures["revoked grant, one page load"] = since(before)
    assert (consent.connection_intent, consent.connected_account_id) == (
        "reauthorize",
        connection.id,
    )
    shots.snap("salesforce-revoked-reauthorize")

    # 5. Allow: a new grant, a new token, the provider answers again.
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{site.url}/salesforce/")
    expect(api.locator(".api-status")).to_have_text("200")
    expect(api.locator(".api-resent")).to_have_text("no")
    shots.snap("salesforce-reauthorized")

    for name, (provider_calls, token_calls) in figures.items():
        print(f"{name}: provider calls {provider_calls}, token calls {token_calls}")
    for path, _ in shots.seen:
        print(f"screenshot: {path}")
    assert figures == {
        "expired token, one page load": (2, 1),
        "revoked grant, one page load": (1, 1),
    }
    tokens = [c.access_token for c in emulator.connections()] + [connection.access_token]
    for path, html in shots.seen:
        for secret in (*tokens, stack.api_key, stack.webhook_secret):
            assert secret not in html, f"{path.name} shows a secret"
