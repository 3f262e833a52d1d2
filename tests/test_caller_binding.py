"""What one caller was given stays theirs: a confirmation's sealed state works only for the caller it was issued
to, and a caller whose own token Membrane refuses is told it is their token, not the server's configuration."""

from __future__ import annotations

import time
import warnings
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning
from mcp import Client, MCPError
from mcp.client.context import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp_types import (
    CallToolResult,
    ElicitRequestFormParams,
    ElicitRequestParams,
    ElicitResult,
    ErrorData,
    InputRequiredResult,
    InputResponses,
)

from clevertap_mcp.http import HttpSettings
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings
from test_http_stress import replica

from helpers import call, control, error_text, ok, tenant_token

pytestmark = pytest.mark.anyio


async def accept(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
    assert isinstance(params, ElicitRequestFormParams)
    return ElicitResult(action="accept", content={"confirm": True})


@asynccontextmanager
async def caller(port: int, token: str) -> AsyncGenerator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(
            streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http),
            mode="auto",
            elicitation_callback=accept,
        ) as client,
    ):
        yield client


async def test_a_confirmation_issued_to_one_caller_cannot_be_replayed_by_another(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    async with replica(sandbox, HttpSettings(require_client_token=True)) as port:
        with anyio.fail_after(60):
            async with caller(port, tenant_token("tenant-a")) as a:
                connection = ok(await call(a, "ensure_connection"))["connection_id"]
                delete = {
                    "action_id": "delete-user-profile",
                    "input": {"identity": ["u-1"]},
                    "connection_id": connection,
                }
                pending = await a.session.call_tool("run_action", delete, allow_input_required=True)
                assert isinstance(pending, InputRequiredResult) and pending.request_state
            async with caller(port, tenant_token("tenant-b")) as b:
                ok(await call(b, "ensure_connection"))
                accepted: InputResponses = {"confirm": ElicitResult(action="accept", content={"confirm": True})}
                try:
                    replayed = await b.session.call_tool(
                        "run_action",
                        delete,
                        input_responses=accepted,
                        request_state=pending.request_state,
                        allow_input_required=True,
                    )
                    assert isinstance(replayed, CallToolResult)
                    refusal = error_text(replayed)
                except MCPError as exc:
                    refusal = exc.error.message
    assert "another caller" in refusal and "nothing was sent" in refusal, refusal
    log = await control(sandbox, "GET", "/requests")
    assert not [entry for entry in log["items"] if str(entry["path"]).endswith("/run")]


def expired_token(tenant_key: str) -> str:
    s = SandboxSettings()
    claims = {"id": tenant_key, "iss": s.workspace_key, "exp": int(time.time()) - 3600}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the sandbox's demo secret is short
        return jwt.encode(claims, s.workspace_secret, algorithm="HS256")


async def test_a_callers_own_expired_token_is_reported_as_theirs(sandbox: SandboxServer) -> None:
    async with replica(sandbox, HttpSettings(require_client_token=True)) as port:
        with anyio.fail_after(30):
            async with caller(port, expired_token("tenant-late")) as late:
                text = error_text(await call(late, "ensure_connection"))
    assert "your Authorization header" in text and "MEMBRANE_TOKEN" not in text, text
    assert "this server's credentials" not in text
