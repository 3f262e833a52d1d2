"""The control plane's request log as an eval harness reads it: JSON bodies on both sides, never a secret."""

from __future__ import annotations

import pytest

from clevertap_mcp.sandbox.control import MAX_LOGGED_BODY_BYTES
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_PASSCODE

from helpers import in_process_sandbox

pytestmark = pytest.mark.anyio

PROFILES = {"d": [{"identity": "u-1", "type": "profile", "profileData": {"Name": "Ada", "Plan": "gold"}}]}


async def test_the_log_shows_what_an_agent_sent_and_what_membrane_sent_clevertap() -> None:
    async with in_process_sandbox() as (_, api):
        conn = (await api.post("/_sandbox/connections", json={})).json()["id"]
        uploaded = await api.post(f"/connections/{conn}/proxy/1/upload", json=PROFILES)
        entries = (await api.get("/_sandbox/requests")).json()["items"]
    assert uploaded.status_code == 200, uploaded.text
    assert [(e["side"], e["method"], e["path"], e.get("body")) for e in entries] == [
        ("membrane", "POST", f"/connections/{conn}/proxy/1/upload", PROFILES),
        ("clevertap", "POST", "/clevertap/eu1/1/upload", PROFILES),
    ]
    assert entries[0]["bodyBytes"] == entries[1]["bodyBytes"] > 0


async def test_secret_looking_body_fields_are_redacted_at_any_depth() -> None:
    sent = {
        "key": "real-time-user-count",
        "input": {"passcode": DEMO_CLEVERTAP_PASSCODE, "nested": [{"api_key": "k-1", "Password": "p"}], "n": 1},
        "client_secret": "s",
    }
    async with in_process_sandbox() as (_, api):
        await api.post("/act", json=sent)
        log = await api.get("/_sandbox/requests")
    assert log.json()["items"][0]["body"] == {
        "key": "real-time-user-count",
        "input": {"passcode": "***", "nested": [{"api_key": "***", "Password": "***"}], "n": 1},
        "client_secret": "***",
    }
    assert DEMO_CLEVERTAP_PASSCODE not in log.text


async def test_a_json_body_over_the_limit_is_logged_by_its_size_only() -> None:
    big = b'{"padding": "' + b"x" * MAX_LOGGED_BODY_BYTES + b'"}'
    async with in_process_sandbox() as (_, api):
        await api.post("/act", content=big, headers={"content-type": "application/json"})
        entry = (await api.get("/_sandbox/requests")).json()["items"][0]
    assert (entry["bodyBytes"], "body" in entry) == (len(big), False)


async def test_bodies_that_are_not_json_are_never_read() -> None:
    async with in_process_sandbox() as (_, api):
        pending = (await api.post("/connections/ensure", json={"appUrl": "clevertap.com"})).json()
        form = {"account_id": "TEST-1", "passcode": "WRONG-PASSCODE", "region": "eu1"}
        await api.post(f"/ui/connect/{pending['id']}", data=form)
        log = await api.get("/_sandbox/requests", params={"side": "membrane"})
    connect = log.json()["items"][-1]
    assert (connect["path"], "body" in connect, "bodyBytes" in connect) == (
        f"/ui/connect/{pending['id']}",
        False,
        False,
    )
    assert "WRONG-PASSCODE" not in log.text


async def test_a_body_that_claims_json_but_is_not_keeps_only_its_size() -> None:
    async with in_process_sandbox() as (_, api):
        refused = await api.post("/act", content=b'{"key": NaN}', headers={"content-type": "application/json"})
        entry = (await api.get("/_sandbox/requests")).json()["items"][0]
    assert refused.status_code == 400
    assert (entry["bodyBytes"], "body" in entry) == (12, False)
