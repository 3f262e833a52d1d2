"""The connect page at /ui/connect/{id}: where the user finishes the `connect` clientAction (§10 #3)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from membrane_sandbox_support import InProcessSandbox, open_sandbox

from clevertap_mcp.sandbox.settings import (
    DEMO_CLEVERTAP_ACCOUNT_ID,
    DEMO_CLEVERTAP_PASSCODE,
    DEMO_CLEVERTAP_REGION,
    SandboxSettings,
)

DEMO_FORM = {"account_id": DEMO_CLEVERTAP_ACCOUNT_ID, "passcode": DEMO_CLEVERTAP_PASSCODE, "region": "eu1"}


async def _pending(client: httpx2.AsyncClient) -> dict[str, Any]:
    return (await client.post("/connections/ensure", json={"appUrl": "clevertap.com"})).json()


@pytest.mark.anyio
async def test_the_connect_page_shows_a_form_prefilled_with_the_demo_account(sandbox: InProcessSandbox) -> None:
    conn = await _pending(sandbox.client)
    async with sandbox.client_for(None) as browser:  # the link is the capability: no bearer token
        response = await browser.get(conn["clientAction"]["uiUrl"])
    page = response.text
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert '<form method="post">' in page
    assert "CleverTap" in page and "sandbox-workspace" in page
    assert f'name="account_id" required autocomplete="off" value="{DEMO_CLEVERTAP_ACCOUNT_ID}"' in page
    assert f'value="{DEMO_CLEVERTAP_PASSCODE}"' in page
    assert f'<option value="{DEMO_CLEVERTAP_REGION}" selected>' in page


@pytest.mark.anyio
async def test_the_connect_page_escapes_what_it_renders() -> None:
    async with open_sandbox(SandboxSettings(workspace_key='<script>alert("x")</script>')) as sandbox:
        conn = await sandbox.ready_connection()
        await sandbox.force_state(conn["id"], state="CLIENT_ACTION_REQUIRED")
        page = (await sandbox.client.get(f"/ui/connect/{conn['id']}")).text
        refused = await sandbox.client.post(
            f"/ui/connect/{conn['id']}", data={**DEMO_FORM, "account_id": '"><img src=x>'}
        )
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert '"><img' not in refused.text
    assert "&quot;&gt;&lt;img src=x&gt;" in refused.text


@pytest.mark.anyio
async def test_a_wrong_passcode_shows_the_form_again_and_leaves_the_connection_waiting(
    api: httpx2.AsyncClient,
) -> None:
    conn = await _pending(api)
    response = await api.post(f"/ui/connect/{conn['id']}", data={**DEMO_FORM, "passcode": "WRONG-PASSCODE"})
    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert "did not accept" in response.text
    assert "WRONG-PASSCODE" not in response.text
    after = (await api.get(f"/connections/{conn['id']}")).json()
    assert after == {**conn, "updatedAt": after["updatedAt"]}
    assert after["state"] == "CLIENT_ACTION_REQUIRED"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "fields", [{"region": "mars1"}, {"passcode": ""}, {"account_id": "  "}], ids=["region", "passcode", "account"]
)
async def test_an_incomplete_form_is_refused_without_calling_clevertap(
    sandbox: InProcessSandbox, fields: dict[str, str]
) -> None:
    conn = await _pending(sandbox.client)
    response = await sandbox.client.post(f"/ui/connect/{conn['id']}", data={**DEMO_FORM, **fields})
    assert response.status_code == 400
    log = (await sandbox.client.get("/_sandbox/requests")).json()["items"]
    assert not [e for e in log if e["path"].startswith("/clevertap/")]


@pytest.mark.anyio
async def test_the_right_credentials_make_the_connection_ready(sandbox: InProcessSandbox) -> None:
    conn = await _pending(sandbox.client)
    response = await sandbox.client.post(f"/ui/connect/{conn['id']}", data=DEMO_FORM)
    assert response.status_code == 200
    assert "Connected" in response.text and "return to your assistant" in response.text
    after = (await sandbox.client.get(f"/connections/{conn['id']}")).json()
    assert (after["state"], after["connected"], "clientAction" in after) == ("READY", True, False)
    again = await sandbox.client.get(f"/ui/connect/{conn['id']}")
    assert "Connected" in again.text
    run = await sandbox.client.post(
        "/actions/real-time-user-count/run", params={"connectionId": conn["id"]}, json={"input": {}}
    )
    assert run.status_code == 200


@pytest.mark.anyio
async def test_a_form_that_is_not_url_encoded_is_refused(api: httpx2.AsyncClient) -> None:
    conn = await _pending(api)
    response = await api.post(f"/ui/connect/{conn['id']}", json=DEMO_FORM)
    assert response.status_code == 415
    assert (await api.get(f"/connections/{conn['id']}")).json()["state"] == "CLIENT_ACTION_REQUIRED"


@pytest.mark.anyio
async def test_an_unknown_connect_link_is_a_404_page(api: httpx2.AsyncClient) -> None:
    unknown = await api.get("/ui/connect/conn_0404")
    other_app = (await api.post("/connections/ensure", json={"appUrl": "example.com"})).json()
    no_connector = await api.post(f"/ui/connect/{other_app['id']}", data=DEMO_FORM)
    for response in (unknown, no_connector):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")


@pytest.mark.anyio
@pytest.mark.parametrize("region", ["../..", "eu1/../../_sandbox", "api"])
async def test_the_connect_form_refuses_a_region_clevertap_does_not_have(
    sandbox: InProcessSandbox, region: str
) -> None:
    conn = await _pending(sandbox.client)
    response = await sandbox.client.post(f"/ui/connect/{conn['id']}", data={**DEMO_FORM, "region": region})
    assert response.status_code == 400
    assert 'role="alert"' in response.text and "eu1" in response.text
    assert (await sandbox.client.get(f"/connections/{conn['id']}")).json()["state"] == "CLIENT_ACTION_REQUIRED"
    log = (await sandbox.client.get("/_sandbox/requests")).json()["items"]
    assert not [e for e in log if e["path"].startswith("/clevertap/")]


@pytest.mark.anyio
@pytest.mark.parametrize("fields", [{"passcode": "caf\u00e9"}, {"account_id": "\U0001f600"}])
async def test_the_connect_form_refuses_credentials_that_cannot_travel_as_headers(
    sandbox: InProcessSandbox, fields: dict[str, str]
) -> None:
    conn = await _pending(sandbox.client)
    response = await sandbox.client.post(f"/ui/connect/{conn['id']}", data={**DEMO_FORM, **fields})
    assert response.status_code == 400
    assert 'role="alert"' in response.text and "ASCII" in response.text
    log = (await sandbox.client.get("/_sandbox/requests")).json()["items"]
    assert not [e for e in log if e["path"].startswith("/clevertap/")]
