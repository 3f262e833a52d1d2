"""The request-id collector: what the client records inside a tool call reaches the call's log line."""

from __future__ import annotations

import anyio
import pytest

from clevertap_mcp.membrane import request_ids

pytestmark = pytest.mark.anyio


async def _answer(request_id: str) -> None:
    await anyio.lowlevel.checkpoint()
    request_ids.record(request_id)


async def test_ids_recorded_in_awaited_coroutines_and_child_tasks_reach_the_collector() -> None:
    with request_ids.collecting() as seen:
        await _answer("req-1")
        assert seen.last == "req-1"
        async with anyio.create_task_group() as tg:
            tg.start_soon(_answer, "req-2")
    assert seen.last == "req-2"


async def test_an_id_recorded_outside_any_collector_goes_nowhere_and_a_nested_one_does_not_leak_out() -> None:
    request_ids.record("req-orphan")
    with request_ids.collecting() as outer:
        with request_ids.collecting() as inner:
            request_ids.record("req-inner")
        request_ids.record("req-outer")
    assert (outer.last, inner.last) == ("req-outer", "req-inner")
