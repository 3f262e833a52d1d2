"""Fixtures for the CleverTap emulator tests: a seeded world on a pinned clock, driven over HTTP in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx2
import pytest

from clevertap_mcp.sandbox.clevertap import CleverTapWorld, build_clevertap_app
from clevertap_mcp.sandbox.settings import (
    DEMO_CLEVERTAP_ACCOUNT_ID,
    DEMO_CLEVERTAP_PASSCODE,
)

NOW = 1767607200.0  # 2026-01-05 10:00:00 UTC
AUTH = {"X-CleverTap-Account-Id": DEMO_CLEVERTAP_ACCOUNT_ID, "X-CleverTap-Passcode": DEMO_CLEVERTAP_PASSCODE}


@pytest.fixture
def make_client() -> Callable[..., httpx2.AsyncClient]:
    """Clients of a world's emulator app; region and headers default to the demo account's."""

    def make(world: CleverTapWorld, region: str = "eu1", headers: dict[str, str] | None = None) -> httpx2.AsyncClient:
        transport = httpx2.ASGITransport(app=build_clevertap_app(world))
        return httpx2.AsyncClient(
            transport=transport, base_url=f"http://ct/{region}", headers=AUTH if headers is None else headers
        )

    return make


@pytest.fixture
async def client(
    world: CleverTapWorld, make_client: Callable[..., httpx2.AsyncClient]
) -> AsyncIterator[httpx2.AsyncClient]:
    async with make_client(world) as http:
        yield http
