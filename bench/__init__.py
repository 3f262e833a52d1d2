"""Benchmarks of clevertap-mcp against the floor the MCP SDK allows: `python -m bench` (see docs/performance.md)."""
