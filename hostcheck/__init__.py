"""Real MCP hosts driving clevertap-mcp with a scripted fake model on 127.0.0.1 (docs/hosts-in-ci.md).

`python -m hostcheck` runs every host whose package is installed; each records the bytes its model received."""
