"""Logging for every command: stderr only (on stdio, stdout is the MCP wire), every record redacted."""

from __future__ import annotations

import logging
import sys

from clevertap_mcp.redaction import RedactingFilter

LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}


def configure(verbosity: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS.get(verbosity, logging.DEBUG))
    # httpx2 logs every request line at INFO, query string included; our client logs its own, without it.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    logging.getLogger("httpcore2").setLevel(logging.WARNING)
