"""The typed async Membrane client: auth, models, errors, retries. Knows nothing of MCP."""

from clevertap_mcp.membrane.auth import MintedToken, StaticToken, TokenSource
from clevertap_mcp.membrane.client import DEFAULT_API_URL, MembraneClient

__all__ = ["DEFAULT_API_URL", "MembraneClient", "MintedToken", "StaticToken", "TokenSource"]
