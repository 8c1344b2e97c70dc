"""The system tests: real server processes, the browser, packaging, the example project,
the fault suite and the soak.

Every test collected below this folder is marked ``system``, so ``pytest -m "not
system"`` is the fast unit suite and ``pytest -m system`` this one; nobody has to
remember the marker. The fixtures the fault suite shares live here too.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import django
import pytest
from django.core import mail
from django.test import override_settings
from django.utils.log import AdminEmailHandler

from django_workos_pipes.emulator import Emulator
from tests.environment import require_service
from tests.servers import free_port
from tests.system.browser.chromium import EXECUTABLE, LAUNCH_ARGS, missing_reason
from tests.system.browser.example_site import ExampleSite, Stack
from tests.system.faultkit import EmulatedWorkOS, LeakGuard, guarding
from tests.system.redis_server import RedisServer

if TYPE_CHECKING:
    from playwright.sync_api import Page

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests ``system`` before ``-m`` selects (hence ``tryfirst``)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.system)


@pytest.fixture
def leak_guard() -> Iterator[LeakGuard]:
    """Every log record, response body and server log of the test, searched at the end
    for the API key, the webhook secret and every token the emulator handed out."""
    with guarding() as guard:
        yield guard


@pytest.fixture
def emulated_workos(leak_guard: LeakGuard) -> Iterator[EmulatedWorkOS]:
    """The emulator standing in for WorkOS, its tokens watched by the leak guard; it can
    be taken down and brought back on the same port with its connections."""
    workos = EmulatedWorkOS(leak_guard)
    try:
        yield workos
    finally:
        workos.close()


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    """A ``redis-server`` of the test's own on a free port, to stop, kill or freeze (the
    shared Redis is never touched); always stopped and cleaned up."""
    server = RedisServer()
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture
def page() -> Iterator[Page]:
    """A page of Debian's headless Chromium, driven by Playwright (skips without them,
    fails under ``CI=true``)."""
    reason = missing_reason()
    require_service(reason is None, reason or "")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(EXECUTABLE), args=LAUNCH_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            page = context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


@pytest.fixture
def error_mail() -> Iterator[list[Any]]:
    """Error e-mails as Django sends them with ``include_html=True`` (locals included)."""
    handler = AdminEmailHandler(include_html=True)
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    # Django 6.0 deprecates (name, address) pairs, which older versions require.
    admins = ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]
    try:
        # The test environment already sends mail to the locmem outbox.
        with override_settings(ADMINS=admins):
            mail.outbox = []
            yield mail.outbox
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """The emulator (webhooks to the site) and the example site (tokens from the emulator),
    with a fresh API key and webhook secret."""
    port = free_port()
    api_key = "sk_test_" + secrets.token_hex(16)
    webhook_secret = "whsec_" + secrets.token_hex(16)
    emulator = Emulator(
        api_key=api_key,
        webhook_url=f"http://127.0.0.1:{port}/pipes/webhook/",
        webhook_secret=webhook_secret,
    ).start()
    env = {
        "WORKOS_API_KEY": api_key,
        "WORKOS_BASE_URL": emulator.url,
        "WORKOS_WEBHOOK_SECRET": webhook_secret,
        "EMULATOR_URL": emulator.url,
    }
    try:
        with ExampleSite(port, tmp_path / "site", env) as site:
            yield Stack(site, emulator, api_key, webhook_secret)
    finally:
        emulator.stop()
