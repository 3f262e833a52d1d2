"""Headless Chromium for the browser tests: Debian's `chromium`, driven through Playwright's Python API.

Playwright's own browser downloads are never used (no `playwright install`): the tests launch the system Chromium,
with a fresh profile in the test's temp folder and the flags a headless CI machine needs. A machine without Chromium
fails these tests with the command that installs it; `CLEVERTAP_MCP_SKIP_BROWSER=1` skips them on purpose.
`CLEVERTAP_MCP_CHROMIUM` names another Chromium binary.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Page

SKIP_VARIABLE = "CLEVERTAP_MCP_SKIP_BROWSER"
CHROMIUM_VARIABLE = "CLEVERTAP_MCP_CHROMIUM"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",  # the sandbox is on loopback; proxy variables of the environment must not reroute it
]
ACTION_TIMEOUT_MS = 20_000
INSTALL_HINT = (
    "install it with `apt-get install -y chromium` (Debian/Ubuntu; .ci/run does this), or point "
    f"{CHROMIUM_VARIABLE} at a Chromium binary; set {SKIP_VARIABLE}=1 to skip the browser tests on purpose"
)


def chromium_path() -> str:
    """The Chromium to launch; fails the test (or skips it, when asked to) if there is none."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{SKIP_VARIABLE}=1: browser tests skipped on purpose")
    configured = os.environ.get(CHROMIUM_VARIABLE)
    found = configured or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found or not Path(found).is_file():
        pytest.fail(f"Chromium was not found ({configured or 'chromium on PATH'}): {INSTALL_HINT}", pytrace=False)
    return found


@pytest.fixture
async def browser_page(tmp_path: Path) -> AsyncGenerator[Page]:
    """A fresh page in headless Chromium (own profile under tmp_path), closed after the test."""
    executable = chromium_path()
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("The Python package playwright is missing: pip install -e '.[dev]'", pytrace=False)
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            tmp_path / "chromium-profile", executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            page = await context.new_page()
            page.set_default_timeout(ACTION_TIMEOUT_MS)
            yield page
        finally:
            await context.close()
