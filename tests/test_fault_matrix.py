"""Every wire fault against every tool: what the agent gets, how often the request was sent, and that the server
keeps serving. The same table is committed in docs/faults.md, and a test keeps them in sync.

Faults are injected at the wire (a fake Membrane transport answers the tool's first request with the fault, then
answers normally); retry delays are recorded, never waited for.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from clevertap_mcp.agent_errors import MAY_HAVE_CREATED
from clevertap_mcp.membrane.auth import StaticToken
from clevertap_mcp.membrane.client import MAX_RESPONSE_BYTES
from clevertap_mcp.membrane.retry import INITIAL_BACKOFF_SECONDS, RETRY_AFTER_CAP_SECONDS

from helpers import FAKE_API_URL, FakeAnswer, FakeMembrane, RecordedSleep, call, mcp_client, ok, recorded_retry, text_of
from leakcheck import LEAK_TOKEN

pytestmark = pytest.mark.anyio

FAULTS_PAGE = Path(__file__).resolve().parents[1] / "docs" / "faults.md"

# Each column is one tool call; proxy_request is split because a GET may be resent and a POST never is.
COLUMNS: dict[str, tuple[str, dict[str, Any]]] = {
    "ensure_connection": ("ensure_connection", {}),
    "search_actions": ("search_actions", {"intent": "count events", "connection_id": "conn_1"}),
    "run_action": (
        "run_action",
        {"action_id": "upload-events", "input": {"d": [{"type": "event"}]}, "connection_id": "conn_1"},
    ),
    "proxy_request GET": ("proxy_request", {"path": "/1/profile.json?email=a%40b.c", "connection_id": "conn_1"}),
    "proxy_request POST": (
        "proxy_request",
        {"path": "/1/upload", "method": "POST", "body": {"d": []}, "connection_id": "conn_1"},
    ),
}


class Outcome(StrEnum):
    RETRIED = "retried, then ok"
    SENT_ONCE = "isError, sent once: may or may not have run"
    TRY_AGAIN = "isError: nothing changed, try again"
    WAIT = "isError, sent once: nothing changed, try again at the time given"
    MAY_HAVE_CREATED = "isError: a connection may have been created, calling again is safe"
    TOO_LARGE = "isError: too large, ask for less"
    PASSED = "ok: CleverTap's answer as is"


class DroppedMidAnswer(httpx2.AsyncByteStream):
    """The peer sends the first bytes of a body, then closes the connection."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"items": [{"id": "act_1", "na'
        raise httpx2.RemoteProtocolError("peer closed connection without sending complete message body")


class EndlessBody(httpx2.AsyncByteStream):
    """A body that never ends: only a client that caps what it reads gets past it."""

    def __init__(self) -> None:
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b" " * (1024 * 1024)
        while True:
            self.sent += len(chunk)
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


def membrane_error(
    status: int, error_type: str, message: str, headers: dict[str, str] | None = None
) -> httpx2.Response:
    # Membrane names the run on failures of a run; the matrix checks the agent is told which run it was.
    body = {"type": error_type, "message": message, "actionRunId": "run_fault"}
    if error_type == "bad_request":
        body = {"type": error_type, "key": "rate_limit_exceeded", "message": message}
    return httpx2.Response(status, json=body, headers=headers)


def http_date(seconds_ahead: float) -> str:
    return email.utils.formatdate(time.time() + seconds_ahead, usegmt=True)


GATEWAY_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"


@dataclass(frozen=True)
class Fault:
    name: str
    answer: Callable[[], httpx2.Response | Exception]
    outcomes: tuple[Outcome, ...]  # one per column, in COLUMNS order
    # The delay the answer fixed (Retry-After): what the retry policy waited, or what the agent is told to wait.
    delay: float | None = None


R, S, T, L, P = Outcome.RETRIED, Outcome.SENT_ONCE, Outcome.TRY_AGAIN, Outcome.TOO_LARGE, Outcome.PASSED
W, E = Outcome.WAIT, Outcome.MAY_HAVE_CREATED
BEYOND_CAP = 4 * RETRY_AFTER_CAP_SECONDS
# What an agent is told when Membrane asks for a wait: the seconds, and the time they end.
WAIT_UNTIL = re.compile(r"Wait (\d+) s \(until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\), then try again\.")
READS_RETRIED = (R, R, S, R, S)

FAULTS = [
    Fault("429, no `Retry-After`", lambda: membrane_error(429, "bad_request", "Rate limit exceeded"), (R,) * 5),
    Fault(
        "429, `Retry-After: 7` (seconds)",
        lambda: membrane_error(429, "bad_request", "Rate limit exceeded", {"Retry-After": "7"}),
        (R,) * 5,
        delay=7.0,
    ),
    Fault(
        "429, `Retry-After` an HTTP date 1 h ahead",
        lambda: membrane_error(429, "bad_request", "Rate limit exceeded", {"Retry-After": http_date(3600)}),
        (W,) * 5,
        delay=3600,
    ),
    Fault(
        f"429, `Retry-After: {BEYOND_CAP:.0f}` (beyond the {RETRY_AFTER_CAP_SECONDS:.0f} s cap)",
        lambda: membrane_error(429, "bad_request", "Rate limit exceeded", {"Retry-After": f"{BEYOND_CAP:.0f}"}),
        (W,) * 5,
        delay=BEYOND_CAP,
    ),
    Fault("500", lambda: membrane_error(500, "internal", "Internal error"), READS_RETRIED),
    Fault("502", lambda: membrane_error(502, "internal", "Bad gateway"), READS_RETRIED),
    Fault("503", lambda: membrane_error(503, "internal", "Service unavailable"), READS_RETRIED),
    Fault("504", lambda: membrane_error(504, "internal", "Gateway timeout"), READS_RETRIED),
    Fault(
        f"503, `Retry-After: {BEYOND_CAP:.0f}` (beyond the cap)",
        lambda: membrane_error(503, "internal", "Service unavailable", {"Retry-After": f"{BEYOND_CAP:.0f}"}),
        (E, W, S, W, S),
        delay=BEYOND_CAP,
    ),
    Fault("read timeout", lambda: httpx2.ReadTimeout("timed out"), READS_RETRIED),
    Fault("connect refused", lambda: httpx2.ConnectError("[Errno 111] Connection refused"), (R,) * 5),
    Fault(
        "connection dropped mid-response",
        lambda: httpx2.Response(200, headers={"content-type": "application/json"}, stream=DroppedMidAnswer()),
        READS_RETRIED,
    ),
    Fault(
        "malformed JSON (HTTP 200)",
        lambda: httpx2.Response(200, headers={"content-type": "application/json"}, content=b'{"items": [tru'),
        (E, T, S, P, P),
    ),
    Fault(
        "HTML error page (502 text/html from a gateway)",
        lambda: httpx2.Response(502, headers={"content-type": "text/html"}, content=GATEWAY_PAGE.encode()),
        READS_RETRIED,
    ),
    Fault("empty body (HTTP 200)", lambda: httpx2.Response(200, content=b""), (E, T, S, P, P)),
    Fault(
        f"oversized body (endless; the client reads at most {MAX_RESPONSE_BYTES // 2**20} MiB)",
        lambda: httpx2.Response(200, headers={"content-type": "application/json"}, stream=EndlessBody()),
        (E, L, S, L, S),
    ),
]

CELLS = [
    pytest.param(fault, column, outcome, id=f"{fault.name} | {column}")
    for fault in FAULTS
    for column, outcome in zip(COLUMNS, fault.outcomes, strict=True)
]


@pytest.mark.parametrize(("fault", "column", "outcome"), CELLS)
async def test_each_fault_gives_the_agent_the_outcome_in_the_matrix_and_the_server_keeps_serving(
    fault: Fault, column: str, outcome: Outcome
) -> None:
    tool, args = COLUMNS[column]
    wire = FakeMembrane(fault.answer())
    sleep = RecordedSleep()
    async with mcp_client(FAKE_API_URL, _token(), transport=wire, retry=recorded_retry(sleep)) as client:
        with anyio.fail_after(10):
            result = await call(client, tool, args)
        sent = len(wire.requests)
        text = text_of(result)

        if outcome is Outcome.RETRIED:
            ok(result)
            assert sent == 2, f"expected one resend, the wire saw {sent} requests"
            assert len(sleep.delays) == 1
            if fault.delay is not None:
                assert sleep.delays == [fault.delay]
            else:
                assert 0 <= sleep.delays[0] <= INITIAL_BACKOFF_SECONDS
        elif outcome is Outcome.PASSED:
            assert ok(result)["status"] == 200
            assert sent == 1
        else:
            assert result.is_error, f"expected an isError result, got {result.structured_content}"
            assert sent == 1, f"a request that may have acted was sent {sent} times"
            assert sleep.delays == []
            expected = {
                Outcome.SENT_ONCE: "may or may not have run; check before retrying",
                Outcome.TRY_AGAIN: "Nothing was changed",
                Outcome.WAIT: "Nothing was changed",
                Outcome.TOO_LARGE: "Ask for less",
                Outcome.MAY_HAVE_CREATED: MAY_HAVE_CREATED,
            }[outcome]
            assert expected in text
            if outcome is Outcome.MAY_HAVE_CREATED:
                # The POST may have created the connection: claiming nothing changed would be false.
                assert "Nothing was changed" not in text and "nothing ran or changed" not in text
            if outcome is Outcome.WAIT:
                # Honouring Retry-After: not resent early, and the agent learns when it may try again.
                wait = WAIT_UNTIL.search(text)
                assert wait is not None, text
                assert fault.delay is not None and abs(int(wait.group(1)) - fault.delay) <= 1
        if result.is_error and "500" <= fault.name[:3] <= "504" and column == "run_action":
            assert "actionRunId run_fault" in text
        if result.is_error and "HTML" in fault.name:
            assert "HTML error page from a gateway" in text and "502 Bad Gateway" in text
            assert "<html" not in text

        # The fault was one-off: the very next call goes through, so the server is still serving.
        ok(await call(client, tool, args))


async def test_an_endless_body_is_cut_off_at_the_cap_and_its_connection_closed() -> None:
    body = EndlessBody()
    wire = FakeMembrane(httpx2.Response(200, stream=body))
    async with mcp_client(FAKE_API_URL, _token(), transport=wire) as client:
        with anyio.fail_after(10):
            result = await call(client, "proxy_request", COLUMNS["proxy_request GET"][1])
    assert f"larger than {MAX_RESPONSE_BYTES // 2**20} MiB" in text_of(result)
    assert body.closed
    assert MAX_RESPONSE_BYTES < body.sent <= MAX_RESPONSE_BYTES + 2**20


async def test_a_declared_oversized_body_is_refused_without_reading_it() -> None:
    body = EndlessBody()
    declared = httpx2.Response(200, headers={"content-length": str(MAX_RESPONSE_BYTES + 1)}, stream=body)
    async with mcp_client(FAKE_API_URL, _token(), transport=FakeMembrane(declared)) as client:
        result = await call(client, "search_actions", COLUMNS["search_actions"][1])
    assert "Ask for less" in text_of(result)
    assert body.sent == 0 and body.closed


async def test_clevertaps_own_json_failure_through_the_proxy_is_a_result_not_a_gateway_error() -> None:
    upstream = httpx2.Response(503, json={"status": "fail", "error": "Service unavailable", "code": 503})
    wire = FakeMembrane(upstream)
    async with mcp_client(FAKE_API_URL, _token(), transport=wire) as client:
        result = ok(await call(client, "proxy_request", COLUMNS["proxy_request POST"][1]))
    assert result["status"] == 503 and result["body"]["error"] == "Service unavailable"
    assert len(wire.requests) == 1


async def test_a_rate_limit_that_outlasts_every_attempt_says_how_long_to_wait() -> None:
    limited = [membrane_error(429, "bad_request", "Rate limit exceeded", {"Retry-After": "12"}) for _ in range(3)]
    sleep = RecordedSleep()
    async with mcp_client(FAKE_API_URL, _token(), transport=FakeMembrane(*limited), retry=recorded_retry(sleep)) as c:
        text = text_of(await call(c, "run_action", COLUMNS["run_action"][1]))
    assert "Nothing was changed. Wait 12 s (until " in text and WAIT_UNTIL.search(text)
    assert sleep.delays == [12.0, 12.0]


@pytest.mark.parametrize(
    "fault",
    [lambda: httpx2.ReadTimeout("timed out"), lambda: membrane_error(503, "internal", "Service unavailable")],
    ids=["read timeout", "503"],
)
async def test_a_known_read_action_is_asked_again_after_a_lost_answer(fault: Callable[[], FakeAnswer]) -> None:
    wire = FakeMembrane(fault())
    sleep = RecordedSleep()
    read = {"action_id": "get-event-count", "input": {"event_name": "Charged"}, "connection_id": "conn_1"}
    async with mcp_client(FAKE_API_URL, _token(), transport=wire, retry=recorded_retry(sleep)) as client:
        assert ok(await call(client, "run_action", read))["output"] == {"count": 1}
    assert [r.url.path for r in wire.requests] == ["/actions/get-event-count/run"] * 2
    assert len(sleep.delays) == 1


async def test_a_read_whose_answer_stays_lost_says_nothing_changed_not_that_it_may_have_run() -> None:
    wire = FakeMembrane(*[httpx2.ReadTimeout("timed out") for _ in range(3)])
    read: dict[str, Any] = {"action_id": "get-event-count", "input": {}, "connection_id": "conn_1"}
    async with mcp_client(FAKE_API_URL, _token(), transport=wire, retry=recorded_retry(RecordedSleep())) as client:
        text = text_of(await call(client, "run_action", read))
    assert "Nothing was changed (this was a read)" in text and "may or may not have run" not in text
    assert len(wire.requests) == 3


@pytest.mark.parametrize(
    ("column", "expected"),
    [("ensure_connection", MAY_HAVE_CREATED), ("search_actions", "Nothing was changed (this was a read)")],
)
async def test_a_connect_failure_after_an_attempt_that_reached_membrane_does_not_claim_nothing_was_sent(
    column: str, expected: str
) -> None:
    tool, args = COLUMNS[column]
    refused = [httpx2.ConnectError("[Errno 111] Connection refused") for _ in range(2)]
    wire = FakeMembrane(httpx2.ReadTimeout("timed out"), *refused)
    async with mcp_client(FAKE_API_URL, _token(), transport=wire, retry=recorded_retry(RecordedSleep())) as client:
        text = text_of(await call(client, tool, args))
    assert len(wire.requests) == 3
    assert expected in text and "an earlier attempt reached it" in text
    assert "nothing was sent" not in text and "nothing ran or changed" not in text


def matrix_markdown() -> str:
    header = "| Fault (first answer) | " + " | ".join(f"`{c}`" for c in COLUMNS) + " |"
    rule = "|---" * (len(COLUMNS) + 1) + "|"
    rows = [f"| {f.name} | " + " | ".join(o.value for o in f.outcomes) + " |" for f in FAULTS]
    return "\n".join([header, rule, *rows])


def test_the_docs_commit_this_exact_fault_matrix() -> None:
    assert matrix_markdown() in FAULTS_PAGE.read_text(encoding="utf-8"), (
        "docs/faults.md's fault matrix is out of date; paste the output of "
        "`python -c 'import sys; sys.path.insert(0, \"tests\"); import test_fault_matrix as m; print(m.matrix_markdown())'`"
    )


def _token() -> StaticToken:
    return StaticToken(LEAK_TOKEN, origin="MEMBRANE_TOKEN")
