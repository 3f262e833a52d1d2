"""Every tool call logs one line (tool, outcome, duration, Membrane's request id when given) and no argument values."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from clevertap_mcp.sandbox.server import SandboxServer

from helpers import FAKE_API_URL, FakeMembrane, call, demo_token, error_text, mcp_client, ok
from leakcheck import WRITTEN

pytestmark = pytest.mark.anyio

CALLS = "clevertap_mcp.calls"
LINE = re.compile(r"^tool=(\w+) outcome=(\w+) duration_ms=\d+( request_id=\S+)?$")
PERSONAL = "jane.doe@example.com"


def call_lines(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == CALLS and r.levelno == level]


async def test_each_tool_call_logs_one_line_with_tool_outcome_and_duration(
    sandbox_factory: Callable[..., SandboxServer], caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    with caplog.at_level(logging.INFO, logger=CALLS):
        async with mcp_client(sandbox.base_url, demo_token()) as client:
            ok(await call(client, "ensure_connection"))
            ok(await call(client, "run_action", {"action_id": "real-time-user-count"}))
            error_text(await call(client, "run_action", {"action_id": "no-such-action"}))
    matches = [LINE.match(line) for line in call_lines(caplog)]
    assert [(m.group(1), m.group(2)) if m else None for m in matches] == [
        ("ensure_connection", "ok"),
        ("run_action", "ok"),
        ("run_action", "error"),
    ]


async def test_a_failed_call_logs_membranes_request_id(caplog: pytest.LogCaptureFixture) -> None:
    def membrane(request: httpx2.Request) -> httpx2.Response:
        body = {"type": "bad_request", "message": "intent is too vague"}
        return httpx2.Response(400, json=body, headers={"x-request-id": "req-7f3a"})

    with caplog.at_level(logging.INFO, logger=CALLS):
        async with mcp_client(FAKE_API_URL, demo_token(), transport=httpx2.MockTransport(membrane)) as client:
            text = error_text(await call(client, "search_actions", {"intent": "x", "connection_id": "conn_1"}))
    assert "intent is too vague" in text
    [line] = call_lines(caplog)
    assert LINE.match(line)
    assert line.startswith("tool=search_actions outcome=error ") and line.endswith(" request_id=req-7f3a")


class NumberedMembrane(FakeMembrane):
    """Membrane that names each answer, as the real one does with `x-request-id`."""

    def healthy(self, request: httpx2.Request) -> httpx2.Response:
        response = super().healthy(request)
        response.headers["x-request-id"] = f"req-{len(self.requests)}"
        return response


async def test_a_successful_call_logs_the_request_id_of_membranes_last_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wire = NumberedMembrane()
    with caplog.at_level(logging.INFO, logger=CALLS):
        async with mcp_client(FAKE_API_URL, demo_token(), transport=wire) as client:
            # No connection id: the tool lists connections first, then searches: two answers, the last one logged.
            ok(await call(client, "search_actions", {"intent": "count events"}))
            ok(await call(client, "run_action", {"action_id": "get-event-count", "input": {}}))
    assert [r.url.path for r in wire.requests] == [
        "/connections",
        "/actions",
        "/actions/act_1/run",
    ]  # the id its search showed
    lines = call_lines(caplog)
    assert all(LINE.match(line) for line in lines), lines
    assert [line.split(" ", 1)[0] + " " + line.rsplit(" ", 1)[1] for line in lines] == [
        "tool=search_actions request_id=req-2",
        "tool=run_action request_id=req-3",
    ]


async def test_a_call_whose_answers_carry_no_request_id_logs_none(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=CALLS):
        async with mcp_client(FAKE_API_URL, demo_token(), transport=FakeMembrane()) as client:
            ok(await call(client, "search_actions", {"intent": "count events", "connection_id": "conn_1"}))
    [line] = call_lines(caplog)
    assert LINE.match(line) and "request_id" not in line


async def test_a_request_id_with_spaces_stays_one_token_on_the_line(caplog: pytest.LogCaptureFixture) -> None:
    def membrane(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json={"items": []}, headers={"x-request-id": "req 9 tail=forged"})

    with caplog.at_level(logging.INFO, logger=CALLS):
        async with mcp_client(FAKE_API_URL, demo_token(), transport=httpx2.MockTransport(membrane)) as client:
            ok(await call(client, "search_actions", {"intent": "x", "connection_id": "conn_1"}))
    [line] = call_lines(caplog)
    assert LINE.match(line) and line.endswith(" request_id=req9tail=forged")


async def test_argument_values_never_reach_the_log_and_debug_adds_only_their_names(
    sandbox_factory: Callable[..., SandboxServer], caplog: pytest.LogCaptureFixture
) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    with caplog.at_level(logging.DEBUG):
        async with mcp_client(sandbox.base_url, demo_token()) as client:
            ok(await call(client, "ensure_connection"))
            ok(await call(client, "search_actions", {"intent": f"profile of {PERSONAL}", "limit": 2}))
            body = {"d": [{"identity": PERSONAL, "type": "profile", "profileData": {"Name": "Jane"}}]}
            await call(client, "proxy_request", {"path": "/1/upload", "method": "POST", "body": body})
    assert not [r for r in caplog.records if PERSONAL in r.getMessage()]
    assert "tool=search_actions argument names: intent, limit" in call_lines(caplog, logging.DEBUG)
    assert "tool=proxy_request argument names: body, method, path" in call_lines(caplog, logging.DEBUG)


async def test_minus_v_makes_the_stdio_server_log_each_call_on_stderr(tmp_path: Path) -> None:
    errlog_path = tmp_path / "stderr.log"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "clevertap_mcp", "--sandbox", "--sandbox-auto-connect", "-v"],
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
    )
    with errlog_path.open("w") as errlog, anyio.fail_after(30):
        async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
            ok(await call(client, "ensure_connection"))
            ok(await call(client, "search_actions", {"intent": f"find {PERSONAL}"}))
    stderr = errlog_path.read_text()
    WRITTEN.append(stderr)
    assert re.search(r" INFO clevertap_mcp\.calls: tool=search_actions outcome=ok duration_ms=\d+\n", stderr)
    assert PERSONAL not in stderr
    assert "argument names" not in stderr  # that is -vv
