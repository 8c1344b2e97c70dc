"""Debian's Chromium, driven by Playwright's bundled driver (no browser download)."""

from __future__ import annotations

import os
from pathlib import Path

EXECUTABLE = Path(os.environ.get("PLAYWRIGHT_CHROMIUM_EXECUTABLE", "/usr/bin/chromium"))

# Headless, and quiet: no GPU, no calls home, nothing to update or sync on this machine.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def missing_reason() -> str | None:
    """Why the browser test can't run here, or None when it can."""
    if not EXECUTABLE.is_file() or not os.access(EXECUTABLE, os.X_OK):
        return f"no Chromium at {EXECUTABLE} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None
