"""The connect page in headless Chromium: what a user does with the link ensure_connection hands out."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, DEMO_WORKSPACE_KEY

from helpers import call, demo_token, mcp_client, ok

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.anyio

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def test_a_user_fixes_a_wrong_passcode_in_the_browser_and_the_connection_becomes_ready(
    browser_page: Page, sandbox: SandboxServer
) -> None:
    page = browser_page
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        asked = ok(await call(client, "ensure_connection"))
        assert asked["state"] == "CLIENT_ACTION_REQUIRED"
        conn_id = asked["connection_id"]

        await page.goto(asked["client_action"]["ui_url"])
        assert await page.title() == "Connect CleverTap"
        assert await page.inner_text("h1") == "Connect CleverTap"
        assert f"Workspace {DEMO_WORKSPACE_KEY} is asking to connect your CleverTap" in await page.inner_text(".lede")
        assert await page.input_value("#account_id") == DEMO_CLEVERTAP_ACCOUNT_ID
        assert await page.input_value("#region") == "eu1"

        await page.fill("#passcode", "NOT-THE-PASSCODE")
        await page.click("button[type=submit]")
        alert = await page.wait_for_selector("[role=alert]")
        assert alert is not None
        assert "CleverTap did not accept this account ID and passcode" in await alert.inner_text()
        assert await page.input_value("#passcode") == ""  # never echoed back
        assert await page.input_value("#account_id") == DEMO_CLEVERTAP_ACCOUNT_ID
        still = ok(await call(client, "ensure_connection", {"connection_id": conn_id}))
        assert still["state"] == "CLIENT_ACTION_REQUIRED"

        await page.fill("#passcode", DEMO_CLEVERTAP_PASSCODE)
        await page.click("button[type=submit]")
        await page.wait_for_selector(".done")
        assert await page.title() == "Connected"
        assert "Connected. You can return to your assistant." in await page.inner_text("main")
        ready = ok(await call(client, "ensure_connection", {"connection_id": conn_id}))
    assert ready["state"] == "READY"


async def test_a_screenshot_of_the_connect_page_is_a_real_image(
    browser_page: Page, sandbox: SandboxServer, tmp_path: Path
) -> None:
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        asked = ok(await call(client, "ensure_connection"))
    await browser_page.set_viewport_size({"width": 800, "height": 700})
    await browser_page.goto(asked["client_action"]["ui_url"])
    shot = tmp_path / "connect-page.png"
    await browser_page.screenshot(path=str(shot))
    width, height, colours = _png_summary(shot.read_bytes())
    assert (width, height) == (800, 700)
    assert colours > 20  # text, a button, a card on a background: not a blank page


def _png_summary(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values in the decoded scanlines of a PNG (checked chunk CRCs)."""
    assert data.startswith(PNG_SIGNATURE), "not a PNG"
    offset, width, height, pixels = len(PNG_SIGNATURE), 0, 0, b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunk = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + chunk) == crc, f"corrupt {kind!r} chunk"
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            pixels += chunk
        offset += 12 + length
    return width, height, len(set(zlib.decompress(pixels)))
