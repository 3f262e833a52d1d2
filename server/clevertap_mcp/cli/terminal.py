"""What a person at a terminal sees: the one-line hint when the stdio server is run by hand, and output that
survives a legacy code page."""

from __future__ import annotations

import io
import sys
from typing import Any

from clevertap_mcp.cli.hosts import HOSTS

__all__ = ["TTY_HINT", "tty_hint", "utf8_output"]

TTY_HINT = (
    "clevertap-mcp: this is an MCP server speaking JSON-RPC on stdin/stdout, waiting for an MCP host to talk to it. "
    "Configure a host with `clevertap-mcp config <host>` ({hosts}); see it work with `clevertap-mcp demo`; "
    "check a setup with `clevertap-mcp doctor`. Ctrl+C quits.\n"
).format(hosts="|".join(HOSTS))


def tty_hint(stdin: Any = None, stderr: Any = None) -> None:
    """A person who ran the server by hand sees one line saying what it is; a host (stdin a pipe) sees nothing."""
    stdin = sys.stdin if stdin is None else stdin
    stderr = sys.stderr if stderr is None else stderr
    try:
        interactive = stdin.isatty()
    except (AttributeError, ValueError):
        interactive = False
    if interactive:
        stderr.write(TTY_HINT)
        stderr.flush()


def utf8_output(stream: Any) -> None:
    """✓, ✗ and → must not crash a run whose stdout is a pipe in a legacy code page (Windows CI logs use cp1252):
    such a stream is switched to UTF-8, which every log viewer reads, instead of raising UnicodeEncodeError."""
    try:
        "✓✗→…—".encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(encoding="utf-8")
