"""`clevertap_sandbox` for code with no event loop: the environment runs in a portal thread, calls block."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from contextlib import contextmanager
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

from clevertap_mcp.sandbox.faults import Fault
from clevertap_mcp.sandbox.settings import SandboxSettings
from clevertap_mcp.testing.environment import Environment, clevertap_sandbox

__all__ = ["SyncEnvironment", "clevertap_sandbox_sync"]


class SyncEnvironment:
    """The blocking face of an Environment; every call runs on the environment's own event loop."""

    def __init__(self, portal: BlockingPortal, environment: Environment) -> None:
        self._portal = portal
        self.environment = environment

    def call(self, tool: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._portal.call(self.environment.call, tool, arguments)

    def reset(self) -> None:
        self._portal.call(self.environment.world.reset)

    def snapshot(self, tenant: str | None = None) -> dict[str, Any]:
        return self._portal.call(lambda: self.environment.world.snapshot(tenant))

    def diff(self, tenant: str | None = None) -> dict[str, Any]:
        return self._portal.call(lambda: self.environment.world.diff(tenant))

    def advance_clock(self, seconds: float) -> None:
        self._portal.call(self.environment.world.advance_clock, seconds)

    def fault(self, spec: Mapping[str, Any]) -> Fault:
        return self._portal.call(self.environment.world.fault, spec)

    def now(self) -> int:
        return self._portal.call(self.environment.world.now)

    @property
    def settings(self) -> SandboxSettings:
        return self.environment.world.settings


@contextmanager
def clevertap_sandbox_sync(settings: SandboxSettings | None = None, **overrides: Any) -> Generator[SyncEnvironment]:
    """As `clevertap_sandbox`, for synchronous code (a plain pytest test, a script)."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(clevertap_sandbox(settings, **overrides)) as environment,
    ):
        yield SyncEnvironment(portal, environment)
