"""The control plane's grader routes: a tenant's CleverTap world as a snapshot, and its diff since the last reset.

    GET /_sandbox/snapshot[?tenant=&events=full]   the world now (docs/evaluating-agents.md, "Snapshot"); events as
                                                   counts by name, or every event with `events=full`
    GET /_sandbox/diff[?tenant=]                   what changed since the world was seeded ("Diff")

`tenant` picks the Membrane tenant whose world is read (default: the sandbox's own); an unknown one is a 404.
"""

from __future__ import annotations

from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clevertap_mcp.sandbox.clevertap.snapshot import diff, snapshot
from clevertap_mcp.sandbox.clevertap.state import CleverTapWorld
from clevertap_mcp.sandbox.membrane.errors import MembraneError

__all__ = ["WorldSource", "grading_routes"]


class WorldSource(Protocol):
    def world_for(self, tenant_key: str | None) -> CleverTapWorld: ...


def grading_routes(worlds: WorldSource) -> list[Route]:
    def world_of(request: Request) -> CleverTapWorld:
        return worlds.world_for(request.query_params.get("tenant") or None)

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
