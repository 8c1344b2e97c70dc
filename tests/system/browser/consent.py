"""The emulator's consent page, as the browser tests reach it."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django_workos_pipes.emulator import Emulator
from django_workos_pipes.emulator.state import ConsentRequest

if TYPE_CHECKING:
    from playwright.sync_api import Page


def consent_shown(page: Page, emulator: Emulator) -> ConsentRequest:
    """Wait until the browser is on the emulator's consent page; the consent it shows."""
    page.wait_for_url(f"{emulator.url}/consent/*")
    assert page.url.startswith(emulator.url + "/consent/"), page.url
    consent = emulator.pending_consent(urlsplit(page.url).path.rsplit("/", 1)[-1])
    assert consent is not None
    return consent


def assert_asked_to_connect_salesforce(page: Page, emulator: Emulator, user_id: str) -> None:
    """The browser is on the consent page of a plain connect (no reauthorization) of
    Salesforce for ``user_id``, and the page says so."""
    from playwright.sync_api import expect

    consent = consent_shown(page, emulator)
    assert (consent.provider, consent.user_id, consent.connection_intent) == (
        "salesforce",
        user_id,
        None,
    )
    expect(page.get_by_role("heading", name="Connect your Salesforce account")).to_be_visible()
