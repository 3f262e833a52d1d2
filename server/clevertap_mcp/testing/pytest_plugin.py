"""pytest fixtures for eval and agent tests (registered through the `pytest11` entry point as `clevertap_mcp`).

    clevertap_settings   the SandboxSettings of the environment; override this fixture to change seed, clock, ...
    clevertap_env        an async Environment (tests run under the anyio plugin: `@pytest.mark.anyio`)
    clevertap_sync_env   a SyncEnvironment, for plain synchronous tests

Imports happen inside the fixtures, so merely having the package installed costs a pytest run nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from clevertap_mcp.sandbox.settings import SandboxSettings
    from clevertap_mcp.testing import Environment, SyncEnvironment


@pytest.fixture
def clevertap_settings() -> SandboxSettings:
    from clevertap_mcp.sandbox.settings import SandboxSettings

    return SandboxSettings(auto_connect=True)


@pytest.fixture
async def clevertap_env(clevertap_settings: SandboxSettings) -> AsyncIterator[Environment]:
    from clevertap_mcp.testing import clevertap_sandbox

    async with clevertap_sandbox(clevertap_settings) as environment:
        yield environment


@pytest.fixture
def clevertap_sync_env(clevertap_settings: SandboxSettings) -> Iterator[SyncEnvironment]:
    from clevertap_mcp.testing import clevertap_sandbox_sync

    with clevertap_sandbox_sync(clevertap_settings) as environment:
        yield environment
