"""The documentation site, built as CI builds it and read in a real browser.

``sphinx-build -W --keep-going -n`` (warnings are errors, every reference must resolve)
builds the site into a temporary directory; a loopback HTTP server serves it, and
Debian's headless Chromium (through Playwright) opens the index, the tutorial and the
settings reference, checks that they render with their navigation, then visits every
page reachable from the index: each must load, show its images, and every internal
link (page, file or ``#anchor``) must resolve. Under ``CI=true``, a missing Sphinx or
Chromium fails these tests instead of skipping them.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

from django_workos_pipes.conf import SETTINGS
from tests.environment import require_service
from tests.system.browser.chromium import EXECUTABLE, LAUNCH_ARGS, missing_reason

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.processes]

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "docs"


def sphinx_missing() -> str | None:
    try:
        import furo  # noqa: F401
        import myst_parser  # noqa: F401
        import sphinx  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install -e '.[docs]')"
    if shutil.which("dot") is None:
        return "Graphviz's dot is not installed (apt-get install graphviz)"
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The site, built with warnings as errors and served on a free loopback port."""
    reason = sphinx_missing()
    require_service(reason is None, reason or "")
    html = tmp_path_factory.mktemp("docs") / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q"]
    built = subprocess.run(
        [*command, str(ROOT / "docs"), str(html)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, f"the docs build failed:\n{built.stdout}\n{built.stderr}"
    handler = functools.partial(QuietHandler, directory=str(html))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()
            thread.join(10)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = missing_reason()
    require_service(reason is None, reason or "")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(EXECUTABLE), args=LAUNCH_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def open_page(page: Page, url: str, name: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def navigation(page: Page) -> list[str]:
    """The captions and entries of furo's sidebar."""
    return [
        text.strip()
        for text in page.locator(".sidebar-tree a, .sidebar-tree .caption").all_inner_texts()
    ]


def test_the_index_renders_with_its_navigation(site: str, page: Page) -> None:
    open_page(page, site, "index")

    nav = navigation(page)
    for caption in ("TUTORIAL", "HOW-TO GUIDES", "REFERENCE", "EXPLANATION"):
        assert caption in [entry.upper() for entry in nav], nav
    assert page.locator("h1").first.inner_text().startswith("django-workos-pipes")
    page.get_by_role("link", name="Tutorial", exact=False).first.click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/tutorial.html")


def test_the_tutorial_shows_each_step_and_its_code(site: str, page: Page) -> None:
    open_page(page, site + "tutorial.html", "tutorial")

    headings = page.locator("h2").all_inner_texts()
    assert [h.split(". ", 1)[0] for h in headings[:8]] == [str(n) for n in range(1, 9)]
    code = page.locator("div.highlight-python pre").all_inner_texts()
    assert [block.splitlines()[0] for block in code[:3]] == [
        "# settings.py",
        "# views.py (a new file, beside urls.py)",
        "# urls.py",
    ]
    assert "Tutorial" in " ".join(navigation(page))


def test_the_settings_reference_lists_every_setting(site: str, page: Page) -> None:
    open_page(page, site + "reference/settings.html", "settings")

    rows = page.locator("table.settings-table tbody tr")
    names = [rows.nth(i).locator("td").first.inner_text().strip() for i in range(rows.count())]
    assert names == [setting.name for setting in SETTINGS]
    # Each setting is a link target: a {setting} reference from another page lands on it.
    page.goto(site + "howto/identity.html")
    page.locator("a", has_text="USER_ID_RESOLVER").first.click()
    page.wait_for_load_state("load")
    address, fragment = urldefrag(page.url)
    assert address == site + "reference/settings.html"
    assert fragment.startswith("setting-")
    assert page.locator(f"[id='{fragment}']").count() == 1


def test_no_page_has_a_broken_internal_link(site: str, page: Page) -> None:
    """Every page reachable from the index loads, shows its images, and every internal
    link resolves: the page or file exists, and so does the ``#anchor`` on it."""
    pages_seen: dict[str, set[str]] = {}  # page URL -> ids on it
    links: list[tuple[str, str]] = []  # (from page, to URL)
    to_visit = [site]
    while to_visit:
        url = to_visit.pop()
        if url in pages_seen:
            continue
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        found = page.evaluate(
            """() => ({
                ids: [...document.querySelectorAll('[id]')].map(e => e.id),
                links: [...document.querySelectorAll('a[href]')].map(a => a.href),
                assets: [...document.querySelectorAll(
                    'img[src], object[data], script[src], link[href]')]
                    .map(e => e.src || e.data || e.href),
                broken: [...document.querySelectorAll('img')]
                    .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
            })"""
        )
        assert found["broken"] == [], f"{url}: images that don't load: {found['broken']}"
        pages_seen[url] = set(found["ids"])
        for href in [*found["links"], *found["assets"]]:
            target = urljoin(url, href)
            if not target.startswith(site):
                continue  # another site: not ours to check, and no network here anyway
            links.append((url, target))
            address = urldefrag(target).url
            if address.endswith(".html") or address.endswith("/"):
                to_visit.append(address)

    assert len(pages_seen) > 30, sorted(pages_seen)
    broken = []
    statuses: dict[str, int] = {}  # files that are not pages: stylesheets, scripts, images
    for origin, target in links:
        address, fragment = urldefrag(target)
        if address in pages_seen:
            if fragment and fragment not in pages_seen[address]:
                broken.append(f"{origin} -> {target} (no such anchor)")
            continue
        if address not in statuses:
            statuses[address] = page.request.get(address).status
        if statuses[address] != 200:
            broken.append(f"{origin} -> {target} ({statuses[address]})")
    assert broken == []
    assert all(urlsplit(url).path.endswith((".html", "/")) for url in pages_seen)
