"""The HTTP floor: a bare MCPServer with one trivial tool, served over stateless Streamable HTTP by uvicorn.

`python -m bench.floor_http PORT`. Everything `clevertap-mcp --transport http` costs beyond this is ours.
"""

from __future__ import annotations

import sys

import uvicorn
from mcp.server.mcpserver import MCPServer

server: MCPServer = MCPServer(name="floor")


@server.tool()
async def echo(text: str) -> str:
    """Return the text."""
    # Async, as ours are: the SDK runs a sync tool on a worker thread, a hop that would make the floor dearer.
    return text


if __name__ == "__main__":
    app = server.streamable_http_app(stateless_http=True, json_response=True)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
