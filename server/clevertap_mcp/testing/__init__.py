"""Test and evaluate agents against the sandbox: the real server and a CleverTap world in this process.

    async with clevertap_sandbox(seed=7, clock=1767607200) as env:
        await env.call("ensure_connection")
        ...
        assert env.world.diff()["changed"]

The pytest plugin (pytest_plugin.py, registered as `clevertap_mcp`) gives the same as fixtures. docs/evaluating-agents.md.
"""

from clevertap_mcp.testing.environment import ROOT_URL, Environment, ToolError, World, clevertap_sandbox
from clevertap_mcp.testing.sync import SyncEnvironment, clevertap_sandbox_sync

__all__ = [
    "ROOT_URL",
    "Environment",
    "SyncEnvironment",
    "ToolError",
    "World",
    "clevertap_sandbox",
    "clevertap_sandbox_sync",
]
