"""Headless Chromium for end-to-end tests, driven by Playwright.

The browser is Debian's ``chromium`` (``.ci/run`` installs it), never one Playwright downloads.
Every host name but 127.0.0.1 fails to resolve, so no page reaches the internet; OpenAI's CDN
included, which is what a locked-down network looks like to the example page.

``CHATKIT_SCREENSHOTS=docs/screenshots pytest tests/test_console_browser.py`` also writes the
README's screenshots (:func:`screenshot`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1280, "height": 860}

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the module; each test opens a context of its own."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright gives each launch a fresh, temporary profile (--user-data-dir).
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_context(chromium: Any) -> Iterator[Any]:
    """A fresh browser context: no cookies, no storage, its own session."""
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(20_000)
    try:
        yield context
    finally:
        context.close()


def screenshot(page: Any, name: str) -> None:
    """Save ``name``.png into ``$CHATKIT_SCREENSHOTS`` when that is set (for the README)."""
    folder = os.environ.get("CHATKIT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
