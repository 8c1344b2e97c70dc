"""The control page in a real browser: its own forms work, another site's page can't.

What a browser sends (``Origin``, ``Content-Type``) decides both, and a plain HTTP
client can't say what that is: with the page's old ``Referrer-Policy: no-referrer``,
Chromium sent ``Origin: null`` on the page's own form posts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from django_workos_pipes.emulator import NEEDS_REAUTHORIZATION, Emulator
from tests.servers import LoopbackServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


class OtherSite:
    """A page on another origin (``localhost`` vs ``127.0.0.1``) that attacks the
    control API the ways a page can without asking: a form, and a ``no-cors`` fetch."""

    def __init__(self, emulator_url: str) -> None:
        html = (
            "<!doctype html><body>"
            f'<form id="f" method="post" action="{emulator_url}/_emulator/reset"></form>'
            f'<form id="g" method="post" action="{emulator_url}/_emulator/connections">'
            '<input name="provider" value="slack"><input name="user_id" value="mallory">'
            "</form><script>"
            f'fetch("{emulator_url}/_emulator/connections/disconnect", {{method: "POST",'
            ' mode: "no-cors", headers: {"Content-Type": "text/plain"},'
            ' body: JSON.stringify({provider: "salesforce", user_id: "user_1"})})'
            '.finally(() => { document.title = "fetched"; });'
            "</script></body>"
        ).encode()
        self.server = LoopbackServer(lambda request: (200, {"Content-Type": "text/html"}, html))
        self.url = self.server.url.replace("127.0.0.1", "localhost") + "/"

    def close(self) -> None:
        self.server.close()


def test_the_control_page_forms_work_in_a_browser(page: Page) -> None:
    with Emulator() as emu:
        page.goto(f"{emu.url}/_emulator/")
        page.select_option("select[name=provider]", "salesforce")
        page.fill("input[name=user_id]", "user_1")
        page.click("form[action='/_emulator/connections'] button")
        assert "notice=Connected" in page.url
        assert emu.connection("salesforce", "user_1") is not None

        page.click("text=Needs reauth")
        assert emu.connection("salesforce", "user_1").state == NEEDS_REAUTHORIZATION  # type: ignore[union-attr]

        page.fill("input[name=retry_after]", "7")
        page.click("form[action='/_emulator/faults'] button")
        assert [f["retry_after"] for f in emu.faults] == [7]
        page.click("text=Clear faults")
        assert emu.faults == []

        page.click("text=Reset the emulator")
        assert "notice=Emulator+reset" in page.url
        assert emu.connections() == []


def test_another_sites_page_cannot_drive_the_control_api(page: Page) -> None:
    with Emulator() as emu:
        emu.connect("salesforce", "user_1")
        other = OtherSite(emu.url)
        try:
            page.goto(other.url)
            page.wait_for_function("document.title === 'fetched'")
            for form in ("f", "g"):
                page.goto(other.url)
                with page.expect_navigation():
                    page.evaluate(f"document.getElementById('{form}').submit()")
                assert "forbidden_origin" in page.content()
        finally:
            other.close()
        assert [c.user_id for c in emu.connections()] == ["user_1"]
        assert emu.connection("salesforce", "user_1").state == "connected"  # type: ignore[union-attr]
