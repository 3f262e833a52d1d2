"""What the server remembers between tool calls, for the lifetime of one server process (its lifespan)."""

from __future__ import annotations

from dataclasses import dataclass

from mcp.server.mcpserver.exceptions import ToolError

from clevertap_mcp.membrane.client import MembraneClient


@dataclass
class AppState:
    client: MembraneClient | None
    credentials_problem: str | None
    app_url: str
    # The CleverTap connection this server last ensured: the default when a tool gets no connection_id.
    last_connection_id: str | None = None

    def require_client(self) -> MembraneClient:
        if self.client is None:
            raise ToolError(self.credentials_problem or "The Membrane client is not configured.")
        return self.client
