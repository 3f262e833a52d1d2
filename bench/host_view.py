"""What Claude Code puts in front of the model from an MCP server (shared/docs/hosts.md, Claude Code 2.1.328).

Tool definitions: `name` (prefixed `mcp__<server>__`), `description`, `input_schema` and `defer_loading: true`, once the
model has selected the tools through ToolSearch; output schemas, annotations and titles never reach it. Results: the
text content only, as a string; `structuredContent` never reaches it. The sizes here are UTF-8 bytes of compact JSON
(definitions) and of that string (results).
"""

from __future__ import annotations

import json
from typing import Any

SERVER_NAME = "clevertap"


def definition(tool: dict[str, Any]) -> dict[str, Any]:
    """One MCP tool (as tools/list lists it) as the model's tool definition."""
    return {
        "name": f"mcp__{SERVER_NAME}__{tool['name']}",
        "description": tool.get("description") or "",
        "input_schema": tool["inputSchema"],
        "defer_loading": True,
    }


def definitions_bytes(tools: list[dict[str, Any]]) -> int:
    return sum(len(json.dumps(definition(t), ensure_ascii=False, separators=(",", ":")).encode()) for t in tools)


def result_text(result: dict[str, Any]) -> str:
    """A tools/call result as the model reads it: its text blocks, joined."""
    return "\n".join(block["text"] for block in result.get("content", []) if block.get("type") == "text")


def result_bytes(result: dict[str, Any]) -> int:
    return len(result_text(result).encode())
