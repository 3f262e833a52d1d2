"""On stdio, a line that is not JSON-RPC gets a parse error (-32700, id null) at once, so a host never waits
forever for an answer to a request the server could not read."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from test_stdio_lifecycle import search, stdio_process

pytestmark = [pytest.mark.anyio, pytest.mark.stdio]


@pytest.mark.parametrize(
    "line",
    [b"not json at all", b"\xff\xfe\x00", b"{" * 100, b'{"jsonrpc": "2.0", "id": 7}', b"[1, 2]"],
    ids=["text", "invalid-utf8", "broken-json", "no-method", "not-an-object"],
)
async def test_a_line_that_is_not_json_rpc_gets_a_parse_error_with_id_null(tmp_path: Path, line: bytes) -> None:
    async with stdio_process(tmp_path) as host:
        with anyio.fail_after(20):
            await host.write(line)
            error = await host.next_message()
            await host.send(search(2))
            answer = await host.answer_to(2)
    assert error["id"] is None and error["error"]["code"] == -32700, error
    assert "JSON-RPC" in error["error"]["message"]
    assert json.dumps(error).count("not json at all") == 0  # the line itself is not echoed back
    assert answer["result"]["isError"] is True  # the server still answers what follows
