"""The pytest plugin: installed through the `pytest11` entry point, its fixtures give a ready environment."""

from __future__ import annotations

import pytest

from clevertap_mcp.sandbox.settings import SandboxSettings
from clevertap_mcp.testing import Environment, SyncEnvironment

NOW = 1767607200


@pytest.fixture
def clevertap_settings() -> SandboxSettings:
    """Overridden as an eval author would: a pinned clock and a smaller world."""
    return SandboxSettings(auto_connect=True, clock=NOW, profiles=50)


def test_the_plugin_is_registered_by_its_entry_point(request: pytest.FixtureRequest) -> None:
    assert request.config.pluginmanager.has_plugin("clevertap_mcp")


@pytest.mark.anyio
async def test_the_async_fixture_is_an_environment_built_from_the_overridden_settings(
    clevertap_env: Environment,
) -> None:
    assert (await clevertap_env.call("ensure_connection"))["state"] == "READY"
    assert len(clevertap_env.world.account().profiles) == 50 and clevertap_env.world.now() == NOW


def test_the_sync_fixture_serves_plain_tests(clevertap_sync_env: SyncEnvironment) -> None:
    assert clevertap_sync_env.call("ensure_connection")["state"] == "READY"
    assert clevertap_sync_env.settings.profiles == 50
