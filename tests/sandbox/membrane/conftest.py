"""Fixtures of the Membrane sandbox tests: an in-process sandbox with a tenant client."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx2
import pytest
from membrane_sandbox_support import InProcessSandbox, open_sandbox

from clevertap_mcp.sandbox.settings import SandboxSettings


@pytest.fixture
async def sandbox() -> AsyncGenerator[InProcessSandbox]:
    async with open_sandbox(SandboxSettings()) as opened:
        yield opened


@pytest.fixture
async def integration_sandbox() -> AsyncGenerator[InProcessSandbox]:
    """A sandbox whose CleverTap connections belong to the `clevertap` integration (§11 R2's other reading)."""
    async with open_sandbox(SandboxSettings(ensure_sets_integration=True)) as opened:
        yield opened


@pytest.fixture
def api(sandbox: InProcessSandbox) -> httpx2.AsyncClient:
    """A client of the in-process sandbox carrying the demo tenant's SDK-style token."""
    return sandbox.client
