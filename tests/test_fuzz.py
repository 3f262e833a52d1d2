"""Random and adversarial arguments for the four tools (hypothesis): every answer is a well-formed result or a clean
isError, the server never crashes, and nothing is logged at ERROR.

One in-memory MCP session serves every example (started once, driven from hypothesis' synchronous examples through
an anyio blocking portal), against a fake Membrane at the wire, so 10,000+ calls fit in seconds.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp_types import CallToolResult

from clevertap_mcp.membrane.auth import StaticToken

from helpers import FAKE_API_URL, FakeMembrane, mcp_client, text_of
from leakcheck import LEAK_TOKEN

EXAMPLES_PER_TOOL = 2600  # x4 tools: over 10,000 argument sets in all
SWITCH_INTERVAL_SECONDS = 0.0002

PARAMETERS: dict[str, list[str]] = {
    "ensure_connection": ["app_url", "connection_id", "name", "wait_seconds"],
    "search_actions": ["intent", "connection_id", "limit", "cursor"],
    "run_action": ["action_id", "input", "connection_id"],
    "proxy_request": ["path", "method", "query", "headers", "body", "raw_body", "path_params", "connection_id"],
}

ADVERSARIAL_STRINGS = [
    "",
    " ",
    "x" * 100_000,
    "\x00" * 1000,
    "💥" * 20_000,
    "../" * 3000,
    "%2f%2e%2e" * 500,
    "\r\n" * 500,
    "https://attacker.example/1/upload",
    "//169.254.169.254/latest",
    "／／attacker.example",
    "{}",
    "null",
    "[]",
    "true",
    "-1",
    "1e999",
    "\ud7ff\ue000\uffff",
    "GET",
    "/1/profile.json",
    "clevertap.com",
    "get-event-count",
    "conn_1",
    "Authorization",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(ADVERSARIAL_STRINGS),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


# The SDK client refuses to serialise JSON nested deeper than about 250 levels, so that is as deep as a test can send.
def _nest(depth: int, as_dict: bool) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"a": value} if as_dict else [value]
    return value


deeply_nested = st.builds(_nest, st.integers(min_value=20, max_value=240), st.booleans())
values = st.one_of(scalars, json_values, deeply_nested)


def arguments(tool: str) -> st.SearchStrategy[dict[str, Any]]:
    known = st.fixed_dictionaries({}, optional={name: values for name in PARAMETERS[tool]})
    unknown = st.dictionaries(st.text(max_size=12), values, max_size=2)
    return st.builds(_merge, known, unknown)


def _merge(known: dict[str, Any], unknown: dict[str, Any]) -> dict[str, Any]:
    return unknown | known


@dataclass
class Session:
    portal: BlockingPortal
    client: Client
    errors: list[logging.LogRecord]


class _ErrorRecords(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(level=logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    errors: list[logging.LogRecord] = []
    handler = _ErrorRecords(errors)
    root = logging.getLogger()
    # Only ERROR matters here; formatting ten thousand DEBUG lines would triple the run time.
    level, root.level = root.level, logging.ERROR
    root.addHandler(handler)
    # Each example hands the call to the portal's thread and waits; with the default 5 ms GIL switch interval most
    # of the run would be spent waiting for the other thread to be scheduled.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    token = StaticToken(LEAK_TOKEN, origin="MEMBRANE_TOKEN")
    try:
        with (
            start_blocking_portal(backend="asyncio") as portal,
            portal.wrap_async_context_manager(mcp_client(FAKE_API_URL, token, transport=FakeMembrane())) as client,
        ):
            yield Session(portal, client, errors)
    finally:
        sys.setswitchinterval(interval)
        root.removeHandler(handler)
        root.setLevel(level)


def check(session: Session, tool: str, args: dict[str, Any]) -> None:
    result = session.portal.call(session.client.call_tool, tool, args)
    assert isinstance(result, CallToolResult)
    text = text_of(result)
    if result.is_error:
        # A bare "Error executing tool X" is the SDK hiding an exception the tool did not expect.
        assert text.strip() not in ("", f"Error executing tool {tool}"), f"unexpected exception for {args!r:.300}"
        assert "Traceback" not in text
    else:
        assert isinstance(result.structured_content, dict)
    assert LEAK_TOKEN not in text
    assert session.errors == [], [r.getMessage()[:300] for r in session.errors]


def _fuzz(tool: str) -> Any:
    @settings(
        max_examples=EXAMPLES_PER_TOOL,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(args=arguments(tool))
    def run(session: Session, args: dict[str, Any]) -> None:
        check(session, tool, args)

    return run


def test_ensure_connection_survives_any_arguments(session: Session) -> None:
    _fuzz("ensure_connection")(session)


def test_search_actions_survives_any_arguments(session: Session) -> None:
    _fuzz("search_actions")(session)


def test_run_action_survives_any_arguments(session: Session) -> None:
    _fuzz("run_action")(session)


def test_proxy_request_survives_any_arguments(session: Session) -> None:
    _fuzz("proxy_request")(session)


def test_the_server_still_answers_a_valid_call_after_the_fuzzing(session: Session) -> None:
    result = session.portal.call(session.client.call_tool, "search_actions", {"intent": "x", "connection_id": "c"})
    assert not result.is_error and result.structured_content is not None
