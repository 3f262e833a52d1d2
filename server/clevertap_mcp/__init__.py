"""clevertap-mcp: an MCP server that lets AI agents work with CleverTap through Membrane."""

__version__ = "0.1.0"
