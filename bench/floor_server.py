"""The floor: a bare MCPServer with one trivial tool, served over stdio the way `clevertap-mcp` is.

Everything `clevertap-mcp` costs beyond this is ours; everything up to it is the SDK's.
"""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import MCPServer

server: MCPServer = MCPServer(name="floor")


@server.tool()
def echo(text: str) -> str:
    """Return the text."""
    return text


@server.tool()
async def wait(ms: int) -> str:
    """Answer after `ms` milliseconds: a call that waits on I/O and costs no CPU (the concurrency floor)."""
    await anyio.sleep(ms / 1000)
    return "done"


if __name__ == "__main__":
    server.run("stdio")
