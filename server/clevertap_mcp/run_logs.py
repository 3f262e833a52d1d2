"""Run logs and output schemas as MCP resources: what an agent reads on demand instead of through a new tool.

- `clevertap://run-logs/{run_id}`: Membrane's log of one action run (`GET /action-run-logs/{id}?details=true`): the
  input, the output or error, and the CleverTap requests the run made. `run_action` names it in its results and
  errors.
- `clevertap://actions/{action_id}/output-schema`: the output schema of an action (`GET /actions/{id}`), kept out of
  `search_actions` results so searches stay small.

Both read with the caller's own Membrane client, so over HTTP one caller never reads another's runs.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from clevertap_mcp import redaction
from clevertap_mcp.agent_errors import describe
from clevertap_mcp.membrane.errors import MembraneError
from clevertap_mcp.state import AppState

__all__ = ["OUTPUT_SCHEMA_URI", "RUN_LOG_URI", "register", "run_log_uri"]

RUN_LOG_URI = "clevertap://run-logs/{run_id}"
OUTPUT_SCHEMA_URI = "clevertap://actions/{action_id}/output-schema"


def run_log_uri(run_id: str) -> str:
    return RUN_LOG_URI.format(run_id=run_id)


def register(server: MCPServer[AppState]) -> None:
    @server.resource(
        RUN_LOG_URI,
        name="clevertap-run-log",
        description="Membrane's log of one run_action run: input, output or error, and the CleverTap requests made.",
        mime_type="application/json",
    )
    async def run_log(run_id: str, ctx: Context[AppState, Any]) -> str:  # pyright: ignore[reportUnusedFunction]
        client = ctx.request_context.lifespan_context.require_client()
        try:
            log = await client.get_run_log(run_id)
        except MembraneError as exc:
            raise ResourceError(f"The log of run {run_id} could not be read: {describe(exc)}") from None
        return redaction.redact(json.dumps(log, default=str))

    @server.resource(
        OUTPUT_SCHEMA_URI,
        name="clevertap-action-output-schema",
        description="The JSON Schema of what an action (an id or key from search_actions) answers.",
        mime_type="application/json",
    )
    async def output_schema(action_id: str, ctx: Context[AppState, Any]) -> str:  # pyright: ignore[reportUnusedFunction]
        app = ctx.request_context.lifespan_context
        client = app.require_client()
        try:
            action = await client.get_action(app.action_id_for_key(action_id) or action_id)
        except MembraneError as exc:
            raise ResourceError(f"Action {action_id} could not be read: {describe(exc)}") from None
        return json.dumps(action.output_schema or {})
