"""The control plane's grader routes: a tenant's CleverTap world as a snapshot, and its diff since the last reset.

    GET /_sandbox/snapshot[?tenant=&events=full]   the world now (docs/evaluating-agents.md, "Snapshot"); events as
                                                   counts by name, or every event with `events=full`
    GET /_sandbox/diff[?tenant=]                   what changed since the world was seeded ("Diff")

`tenant` picks the Membrane tenant whose world is read (default: the sandbox's own); one with no world since the last
reset (never reached CleverTap, or evicted) is a 404 rather than a freshly made world that would read "unchanged".
"""

from __future__ import annotations

from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clevertap_mcp.sandbox.clevertap.snapshot import diff, snapshot
from clevertap_mcp.sandbox.clevertap.state import CleverTapWorld
from clevertap_mcp.sandbox.membrane.errors import MembraneError, NotFound

__all__ = ["WorldSource", "grading_routes"]


class WorldSource(Protocol):
    def existing_world(self, tenant_key: str | None) -> CleverTapWorld | None: ...


def grading_routes(worlds: WorldSource) -> list[Route]:
    def world_of(request: Request) -> CleverTapWorld:
        tenant = request.query_params.get("tenant") or None
        world = worlds.existing_world(tenant)
        if world is None:
            shown = (tenant or "")[:80]
            raise NotFound(
                f"Tenant '{shown}' has no CleverTap world: none of its calls reached CleverTap since the last reset "
                "(or its idle world was evicted). Check the tenant key, or omit 'tenant' for the sandbox's own tenant"
            )
        return world

    async def get_snapshot(request: Request) -> Response:
        events = request.query_params.get("events", "counts")
        if events not in ("counts", "full"):
            raise MembraneError("'events' must be 'counts' (the default) or 'full'")
        return JSONResponse(snapshot(world_of(request), events=events == "full"))

    async def get_diff(request: Request) -> Response:
        return JSONResponse(diff(world_of(request)))

    return [
        Route("/snapshot", get_snapshot, methods=["GET"]),
        Route("/diff", get_diff, methods=["GET"]),
    ]
