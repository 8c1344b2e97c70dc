"""End to end in a real browser: the example site, the emulator, and a person clicking.

Headless Debian Chromium (through Playwright's bundled driver) logs in to the example
site, is sent through connect -> the emulator's consent page -> Allow and back to the
Salesforce page, which shows the token masked. The emulator then flips the connection
to ``needs_reauthorization``; its signed webhook reaches the site, so the very next load
shows it, and the Salesforce page sends the browser to reauthorize. Denying that consent
lands on the site's "not granted" page.

The site runs as its own process (runserver, as ``run.py`` starts it); the emulator runs
in this process so the test can read and change its state directly. Screenshots of every
step go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pytest

from django_workos_pipes.emulator import CONNECTED, NEEDS_REAUTHORIZATION
from django_workos_pipes.masking import mask
from example_project.demo import accounts
from tests.system.browser.consent import assert_asked_to_connect_salesforce, consent_shown
from tests.system.browser.example_site import ROOT, Stack

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.processes]

ARTIFACTS = ROOT / "test-artifacts" / "browser"
USER_ID = accounts.WORKOS_USER_ID


class Pages:
    """Screenshots in order, and every page's HTML kept for the secrets check."""

    def __init__(self, page: Page) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("*.png"):
            old.unlink()
        self.page = page
        self.seen: list[tuple[str, str]] = []
        self.count = 0

    def snap(self, name: str) -> str:
        """Save ``NN-name.png``; return the page's HTML."""
        self.page.wait_for_load_state("load")
        self.count += 1
        path = ARTIFACTS / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        html = self.page.content()
        self.seen.append((path.name, html))
        return html


def test_connect_allow_flip_reauthorize_deny(stack: Stack, page: Page) -> None:
    from playwright.sync_api import expect

    site, emulator = stack.site, stack.emulator
    shots = Pages(page)

    # 1. The Salesforce page needs a logged-in user first.
    page.goto(f"{site.url}/salesforce/")
    assert urlsplit(page.url).path == "/login/"
    assert parse_qs(urlsplit(page.url).query)["next"] == ["/salesforce/"]
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    shots.snap("login")

    # 2. Logging in comes back to it; not connected yet, so on to the consent page.
    page.get_by_label("Username").fill(accounts.USERNAME)
    page.get_by_label("Password").fill(accounts.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    assert_asked_to_connect_salesforce(page, emulator, USER_ID)
    expect(page.get_by_text(USER_ID)).to_be_visible()
    shots.snap("consent-connect")

    # 3. Allow: connected, the webhook delivered, back on the page with a masked token.
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{site.url}/salesforce/")
    connection = emulator.connection("salesforce", USER_ID)
    assert connection is not None and connection.state == CONNECTED
    assert [d.status for d in emulator.deliveries] == [200]
    expect(page.get_by_role("heading", name="Salesforce accounts")).to_be_visible()
    expect(page.locator(".token-value")).to_have_text(mask(connection.access_token))
    expect(page.locator(".token-card .chip")).to_have_text(list(connection.scopes))
    html = shots.snap("salesforce-connected")
    assert connection.access_token not in html

    # 4. The dashboard shows it too, through the template tag.
    page.get_by_role("link", name="Connections").click()
    salesforce_card = page.locator('[data-provider="salesforce"]')
    expect(salesforce_card.locator(".badge")).to_have_text("Connected")
    expect(page.locator('[data-provider="hubspot"] .badge')).to_have_text("Not connected")
    shots.snap("dashboard-connected")

    # 5. Flip it in the emulator: its webhook invalidates the cached token, so the very
    # next load shows the new state although the token had most of an hour to live.
    calls_before = emulator.token_calls
    emulator.needs_reauthorization("salesforce", USER_ID)
    assert [d.status for d in emulator.deliveries] == [200, 200]
    page.reload()
    expect(salesforce_card.locator(".badge")).to_have_text("Needs reauthorization")
    assert emulator.token_calls > calls_before
    shots.snap("dashboard-needs-reauthorization")

    # 6. The Salesforce page now sends the browser to reauthorize that account.
    page.goto(f"{site.url}/salesforce/")
    consent = consent_shown(page, emulator)
    assert consent.connection_intent == "reauthorize"
    assert consent.connected_account_id == connection.id
    expect(page.get_by_role("heading", name="Connect your Salesforce account")).to_be_visible()
    shots.snap("consent-reauthorize")

    # 7. Deny: back on the Salesforce page, which says access was not granted (and does
    # not send the browser to the consent again).
    with page.expect_response(re.compile(r"/salesforce/\?error=access_denied")) as answer:
        page.get_by_role("button", name="Deny").click()
    assert answer.value.status == 403
    expect(page.get_by_role("heading", name="Salesforce is not connected")).to_be_visible()
    expect(page.get_by_text("Access to Salesforce was not granted")).to_be_visible()
    retry = urlsplit(page.get_by_role("link", name="Try again").get_attribute("href") or "")
    assert retry.path == "/pipes/reauthorize/salesforce/"
    (next_url,) = parse_qs(retry.query)["next"]
    assert urlsplit(next_url).path == "/salesforce/" and "error" not in next_url
    shots.snap("denied")
    final = emulator.connection("salesforce", USER_ID)
    assert final is not None and final.state == NEEDS_REAUTHORIZATION

    # Nothing the browser was shown holds a token, the API key or the webhook secret.
    secrets_ = {
        "access token": connection.access_token,
        "API key": stack.api_key,
        "webhook secret": stack.webhook_secret,
    }
    for name, html in shots.seen:
        for what, value in secrets_.items():
            assert value not in html, f"{name} shows the {what}"
    assert sorted(p.name for p in ARTIFACTS.glob("*.png")) == [name for name, _ in shots.seen]
