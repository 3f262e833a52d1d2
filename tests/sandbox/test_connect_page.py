"""What the connect page says, read over HTTP (tests/browser drives it in Chromium)."""

from __future__ import annotations

import re

import pytest

from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, SandboxSettings

from helpers import in_process_sandbox

pytestmark = pytest.mark.anyio


async def test_the_sign_in_screen_names_the_app_and_the_workspace_being_connected() -> None:
    async with in_process_sandbox(SandboxSettings(workspace_key="acme-prod")) as (_, api):
        pending = (await api.post("/connections/ensure", json={"appUrl": "clevertap.com"})).json()
        page = (await api.get(pending["clientAction"]["uiUrl"])).text
    assert "<title>Connect CleverTap</title>" in page
    assert "<h1>Connect CleverTap</h1>" in page
    assert "Workspace <strong>acme-prod</strong> is asking to connect your CleverTap project" in page
    assert '<option value="eu1" selected>Europe (eu1)</option>' in page
    assert '<option value="mec1">Middle East (UAE) (mec1)</option>' in page


async def test_the_page_loads_nothing_from_anywhere_else() -> None:
    async with in_process_sandbox() as (_, api):
        pending = (await api.post("/connections/ensure", json={"appUrl": "clevertap.com"})).json()
        response = await api.get(pending["clientAction"]["uiUrl"])
    assert re.search(r"(src|href)\s*=", response.text) is None
    assert "<script" not in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'none'; style-src 'unsafe-inline'")


async def test_a_refused_passcode_is_flagged_on_the_fields_and_success_says_to_return_to_the_assistant() -> None:
    async with in_process_sandbox() as (_, api):
        pending = (await api.post("/connections/ensure", json={"appUrl": "clevertap.com"})).json()
        url = pending["clientAction"]["uiUrl"]
        refused = await api.post(url, data={"account_id": "TEST-1", "passcode": "WRONG", "region": "eu1"})
        state = (await api.get(f"/connections/{pending['id']}")).json()["state"]
        accepted = await api.post(
            url, data={"account_id": DEMO_CLEVERTAP_ACCOUNT_ID, "passcode": DEMO_CLEVERTAP_PASSCODE, "region": "eu1"}
        )
    assert refused.status_code == 400
    assert '<p class="error" id="error" role="alert">' in refused.text
    assert (
        'id="passcode" name="passcode" type="password" required autocomplete="off" value="" aria-describedby="error"'
        in (refused.text)
    )
    assert state == "CLIENT_ACTION_REQUIRED"
    assert accepted.status_code == 200
    assert "<strong>Connected.</strong> You can return to your assistant." in accepted.text
