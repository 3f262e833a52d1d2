"""The stdio transport, answering every line it cannot read as JSON-RPC with a parse error.

The SDK's stdio reader passes such a line on as an exception, which the dispatcher drops (logged at DEBUG): a host
that sent a request the server could not parse would wait for its answer forever. JSON-RPC 2.0 §5.1: "Parse error",
-32700, with `id` null, since no id could be read.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from mcp.shared._context_streams import (  # pyright: ignore[reportPrivateUsage]
    ContextReceiveStream,
    ContextSendStream,
    create_context_streams,
)
from mcp.shared.message import SessionMessage
from mcp_types import PARSE_ERROR, ErrorData, JSONRPCError

logger = logging.getLogger(__name__)

PARSE_ERROR_MESSAGE = "Parse error: the line is not a JSON-RPC 2.0 message (one JSON object per line)."


def parse_error() -> SessionMessage:
    return SessionMessage(
        JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=PARSE_ERROR, message=PARSE_ERROR_MESSAGE))
    )


@asynccontextmanager
async def answering_unreadable(
    read_stream: ContextReceiveStream[SessionMessage | Exception], write_stream: ContextSendStream[SessionMessage]
) -> AsyncGenerator[ContextReceiveStream[SessionMessage | Exception]]:
    """`read_stream` less its unreadable lines, each of which is answered on `write_stream` with a parse error."""
    readable_writer, readable = create_context_streams[SessionMessage | Exception](0)

    async def answer_unreadable() -> None:
        async with readable_writer:
            async for item in read_stream:
                if isinstance(item, Exception):
                    logger.info("A line on stdin is not JSON-RPC; answered with a parse error.")
                    await write_stream.send(parse_error())
                else:
                    await readable_writer.send(item)

    async with anyio.create_task_group() as tg:
        tg.start_soon(answer_unreadable)
        yield readable
        tg.cancel_scope.cancel()


async def run_stdio(server: MCPServer[Any]) -> None:
    """`server.run_stdio_async()`, with unreadable lines answered instead of dropped."""
    lowlevel = server._lowlevel_server  # pyright: ignore[reportPrivateUsage]
    async with (
        stdio_server() as (read_stream, write_stream),
        answering_unreadable(read_stream, write_stream) as readable,
    ):
        await lowlevel.run(readable, write_stream, lowlevel.create_initialization_options())
