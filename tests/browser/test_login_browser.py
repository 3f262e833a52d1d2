"""`clevertap-mcp login` end to end in headless Chromium: the sign-in page refuses a wrong password, then the browser
comes back to the command's loopback address and the command finishes on its own; the server then works with it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from clevertap_mcp.config import settings_from_env
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import DEMO_OAUTH_EMAIL, DEMO_OAUTH_PASSWORD

from helpers import call, mcp_client, ok
from login_support import command_env, finish, read_until_url, start

if TYPE_CHECKING:
    from playwright.async_api import Page


pytestmark = pytest.mark.anyio


async def test_login_in_chromium_refuses_a_wrong_password_then_signs_in_and_the_server_uses_it(
    browser_page: Page, sandbox: SandboxServer, tmp_path: Path
) -> None:
    page = browser_page
    config_dir = tmp_path / "config"
    # `true` stands for the desktop's browser opener: the command believes a browser opened, and Chromium goes there.
    env = command_env(sandbox.base_url, config_dir, BROWSER="true")
    process = await start(["login"], env)
    seen: list[str] = []
    async with process:
        url = await read_until_url(process, seen)
        assert "Opened your browser to sign in to Membrane" in "".join(seen)
        await page.goto(url)
        assert await page.title() == "Sign in to Membrane"
        assert await page.input_value("#email") == DEMO_OAUTH_EMAIL
        await page.fill("#password", "not-the-password")
        await page.click("button[value=allow]")
        alert = await page.wait_for_selector("[role=alert]")
        assert alert is not None
        assert await alert.inner_text() == "Wrong email or password."
        assert await page.input_value("#password") == ""

        await page.fill("#password", DEMO_OAUTH_PASSWORD)
        await page.fill("#tenant_key", "browser-tenant")
        await page.click("button[value=allow]")
        await page.wait_for_selector("text=Signed in")
        assert page.url.startswith("http://127.0.0.1:")
        assert "return to the terminal" in await page.inner_text("body")
        status = await finish(process, seen)
    output = "".join(seen)
    assert status == 0, output
    assert "Signed in to Membrane as demo@sandbox.test, workspace sandbox-workspace, tenant browser-tenant." in output
    settings = settings_from_env(env)
    async with mcp_client(sandbox.base_url, settings.token_source) as client:
        asked = ok(await call(client, "ensure_connection"))
    assert asked["state"] == "CLIENT_ACTION_REQUIRED"  # the new tenant's own, first connection
