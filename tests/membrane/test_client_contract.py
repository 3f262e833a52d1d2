"""The Membrane client against a Membrane: the sandbox always, and real Membrane when MEMBRANE_LIVE_TOKEN is set.

Running the same checks against both keeps the emulator honest (style.md habit 12). The live target is skipped
offline and in CI; set MEMBRANE_LIVE_TOKEN (and MEMBRANE_LIVE_API_URL for a self-hosted Membrane) to run it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator, Callable
from typing import Any

import pytest

from clevertap_mcp.membrane.auth import StaticToken, TokenSource
from clevertap_mcp.membrane.client import DEFAULT_API_URL, MembraneClient
from clevertap_mcp.membrane.errors import AuthenticationError, BadRequestError, NotFoundError
from clevertap_mcp.membrane.models import Connection
from clevertap_mcp.sandbox.server import SandboxServer

from helpers import demo_token

pytestmark = pytest.mark.anyio

KNOWN_STATES = {"BUILDING", "CLIENT_ACTION_REQUIRED", "CONFIGURATION_ERROR", "SETUP_FAILED", "READY", "DISCONNECTING"}


@pytest.fixture(params=["sandbox", "live"])
def target(request: pytest.FixtureRequest, sandbox_factory: Callable[..., SandboxServer]) -> tuple[str, TokenSource]:
    if request.param == "live":
        token = os.environ.get("MEMBRANE_LIVE_TOKEN")
        if not token:
            pytest.skip("MEMBRANE_LIVE_TOKEN is not set: the live Membrane target runs only on request")
        return os.environ.get("MEMBRANE_LIVE_API_URL", DEFAULT_API_URL), StaticToken(
            token, origin="MEMBRANE_LIVE_TOKEN"
        )
    return sandbox_factory().base_url, demo_token()


@pytest.fixture
async def client(target: tuple[str, TokenSource]) -> AsyncGenerator[MembraneClient]:
    async with MembraneClient(*target) as opened:
        yield opened


async def ensure(client: MembraneClient) -> Connection:
    conn = await client.ensure_connection("clevertap.com")
    assert conn.effective_state in KNOWN_STATES
    return conn


async def test_ensure_is_find_or_create(client: MembraneClient) -> None:
    first = await ensure(client)
    second = await ensure(client)
    assert first.id == second.id
    assert (first.client_action is not None) == (first.effective_state == "CLIENT_ACTION_REQUIRED")


async def test_a_bare_domain_and_a_url_name_the_same_app(client: MembraneClient) -> None:
    assert (await client.ensure_connection("https://www.clevertap.com/")).id == (await ensure(client)).id


async def test_get_returns_the_ensured_connection(client: MembraneClient) -> None:
    conn = await ensure(client)
    again = await client.get_connection(conn.id, wait_seconds=1)
    assert again.id == conn.id


async def test_an_invalid_app_url_is_a_400(client: MembraneClient) -> None:
    with pytest.raises(BadRequestError) as info:
        await client.ensure_connection("not a domain")
    assert info.value.status == 400


async def test_an_unknown_connection_is_a_404_with_key_not_found(client: MembraneClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.get_connection("conn-that-does-not-exist-0000")
    assert info.value.key == "not_found"


async def test_connections_list_is_a_page(client: MembraneClient) -> None:
    conn = await ensure(client)
    page = await client.list_connections(limit=100)
    assert conn.id in [c.id for c in page.items]


async def test_a_bad_token_is_a_401(target: tuple[str, Any]) -> None:
    async with MembraneClient(target[0], StaticToken("not-a-valid-token", origin="test")) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.list_connections()
    assert info.value.status == 401
