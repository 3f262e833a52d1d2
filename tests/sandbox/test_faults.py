"""Fault injection through the control plane: every kind, on both sides, only for the next N matching requests.

Most tests run the sandbox in process; the ones about dropped connections also run it on a real loopback socket,
where a drop closes the TCP connection.
"""

from __future__ import annotations

import email.utils
import json
import logging
from typing import Any

import anyio
import httpx2
import pytest
from starlette.requests import Request
from starlette.responses import Response

from clevertap_mcp.sandbox.app import parts_of
from clevertap_mcp.sandbox.faults import MAX_PENDING_FAULTS
from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, control, demo_token, in_process_sandbox, mcp_client, ok

pytestmark = pytest.mark.anyio

BOUND_SECONDS = 20


async def _fault(client: httpx2.AsyncClient, **spec: Any) -> dict[str, Any]:
    response = await client.post("/_sandbox/faults", json=spec)
    assert response.status_code == 201, response.text
    return response.json()


async def _log(client: httpx2.AsyncClient, **params: str) -> list[dict[str, Any]]:
    return (await client.get("/_sandbox/requests", params=params)).json()["items"]


async def _read_raw(response: httpx2.Response, *, into: list[bytes]) -> None:
    async for chunk in response.aiter_raw():
        into.append(chunk)


async def _ready_connection(client: httpx2.AsyncClient) -> str:
    response = await client.post("/_sandbox/connections", json={})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_a_status_fault_answers_only_the_next_n_matching_requests() -> None:
    async with in_process_sandbox() as (_, api):
        fault = await _fault(api, side="membrane", method="GET", path="/connections", count=2, kind="status")
        first = await api.get("/connections")
        unmatched = await api.get("/actions")
        second = await api.get("/connections")
        third = await api.get("/connections")
        pending = (await api.get("/_sandbox/faults")).json()["items"]
    assert (fault["id"], fault["status"], fault["remaining"], fault["applied"]) == ("fault_0001", 503, 2, 0)
    assert [r.status_code for r in (first, unmatched, second, third)] == [503, 200, 503, 200]
    assert first.json() == {"type": "internal", "message": "503 Service Unavailable (injected fault)"}
    assert pending == []


@pytest.mark.parametrize("retry_after", [7, "7", "Wed, 21 Oct 2026 07:28:00 GMT"])
async def test_a_status_fault_can_send_retry_after_as_seconds_or_an_http_date(retry_after: int | str) -> None:
    async with in_process_sandbox() as (_, api):
        await _fault(api, side="membrane", path="/connections", kind="status", status=429, retryAfter=retry_after)
        limited = await api.get("/connections")
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == str(retry_after)
    assert limited.json() == {
        "type": "bad_request",
        "key": "rate_limit_exceeded",
        "message": "429 Too Many Requests (injected fault)",
    }


async def test_a_status_fault_can_answer_a_body_of_the_callers_choosing() -> None:
    body = {"type": "internal", "message": "Membrane is having a bad day", "data": [1, None]}
    async with in_process_sandbox() as (_, api):
        await _fault(api, side="membrane", path="/actions", kind="status", status=500, body=body)
        answer = await api.get("/actions")
    assert (answer.status_code, answer.json()) == (500, body)


async def test_a_clevertap_fault_hits_the_call_membrane_makes_to_clevertap() -> None:
    async with in_process_sandbox() as (_, api):
        conn = await _ready_connection(api)
        await _fault(api, side="clevertap", method="POST", path="/1/now.json", kind="status", status=429)
        proxied = f"/connections/{conn}/proxy/1/now.json"
        limited = await api.post(proxied, json={})
        recovered = await api.post(proxied, json={})
        clevertap_log = await _log(api, side="clevertap")
    assert limited.status_code == 429
    assert limited.json() == {"status": "fail", "error": "Too many concurrent requests", "code": 429}
    assert (recovered.status_code, recovered.json()["status"]) == (200, "success")
    assert [(e["side"], e["path"], e["status"], e.get("fault")) for e in clevertap_log] == [
        ("clevertap", "/clevertap/eu1/1/now.json", 429, {"id": "fault_0001", "kind": "status"}),
        ("clevertap", "/clevertap/eu1/1/now.json", 200, None),
    ]


async def test_a_clevertap_fault_on_an_action_run_reaches_the_run() -> None:
    async with in_process_sandbox() as (_, api):
        conn = await _ready_connection(api)
        await _fault(api, side="clevertap", pathPrefix="/1/", kind="status", status=401)
        run = await api.post("/actions/real-time-user-count/run", params={"connectionId": conn}, json={"input": {}})
        clevertap_log = await _log(api, side="clevertap")
    assert (run.status_code, run.json()["type"]) == (400, "action_run")
    assert run.json()["data"] == {"status": "fail", "error": "Invalid Credentials", "code": 401}
    assert [(e["status"], e["fault"]["kind"]) for e in clevertap_log] == [(401, "status")]


@pytest.mark.parametrize(
    ("spec", "hit"),
    [
        ({"path": "/1/*.json"}, True),
        ({"path": "/1/*"}, True),
        ({"path": "/*.json"}, False),  # `*` stays within one segment
        ({"path": "/**.json"}, True),
        ({"pathPrefix": "/1/now"}, True),
        ({"pathPrefix": "/clevertap/"}, False),  # CleverTap paths are matched without the sandbox's mount
        ({"region": "eu1"}, True),
        ({"region": "us1"}, False),
        ({"method": "get"}, False),
        ({"method": "post"}, True),
    ],
)
async def test_clevertap_faults_match_paths_as_clevertap_sees_them(spec: dict[str, str], hit: bool) -> None:
    async with in_process_sandbox() as (_, api):
        conn = await _ready_connection(api)  # an eu1 connection
        await _fault(api, side="clevertap", kind="status", status=503, **spec)
        answer = await api.post(f"/connections/{conn}/proxy/1/now.json", json={})
    assert answer.status_code == (503 if hit else 200)


async def test_a_fault_on_one_side_never_hits_the_other() -> None:
    async with in_process_sandbox() as (_, api):
        conn = await _ready_connection(api)
        await _fault(api, side="membrane", pathPrefix="/1/", kind="status")
        await _fault(api, side="clevertap", pathPrefix="/connections", kind="status")
        answer = await api.post(f"/connections/{conn}/proxy/1/now.json", json={})
        pending = (await api.get("/_sandbox/faults")).json()["items"]
    assert answer.status_code == 200
    assert [(f["id"], f["remaining"]) for f in pending] == [("fault_0001", 1), ("fault_0002", 1)]


async def test_the_oldest_matching_fault_is_applied_first() -> None:
    async with in_process_sandbox() as (_, api):
        await _fault(api, side="membrane", path="/actions", kind="status", status=502)
        await _fault(api, side="membrane", kind="status", status=504)
        statuses = [(await api.get("/actions")).status_code for _ in range(3)]
    assert statuses == [502, 504, 200]


async def test_malformed_json_is_served_as_json_that_does_not_parse() -> None:
    async with in_process_sandbox() as (_, api):
        await _fault(api, side="membrane", path="/actions", kind="malformed_json")
        answer = await api.get("/actions")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)


async def test_an_html_fault_serves_a_proxy_error_page_with_its_status() -> None:
    async with in_process_sandbox() as (_, api):
        await _fault(api, side="membrane", path="/actions", kind="html", retryAfter=30)
        answer = await api.get("/actions")
    assert answer.status_code == 502
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["retry-after"] == "30"
    assert answer.text.startswith("<!DOCTYPE html>") and "<h1>502 Bad Gateway</h1>" in answer.text


async def test_an_empty_fault_serves_json_with_no_body_at_all() -> None:
    async with in_process_sandbox() as (_, api):
        await _fault(api, side="membrane", path="/actions", kind="empty", status=202)
        answer = await api.get("/actions")
    assert (answer.status_code, answer.headers["content-type"], answer.headers["content-length"]) == (
        202,
        "application/json",
        "0",
    )
    assert answer.content == b""


@pytest.mark.parametrize("size", [16, 100_000, None])
async def test_an_oversized_fault_serves_valid_json_of_exactly_the_asked_size(size: int | None) -> None:
    spec: dict[str, Any] = {} if size is None else {"bytes": size}
    async with in_process_sandbox() as (_, api):
        await _fault(api, side="membrane", path="/actions", kind="oversized", **spec)
        answer = await api.get("/actions")
    assert answer.status_code == 200
    assert len(answer.content) == (size or 5 * 1024 * 1024)
    assert set(json.loads(answer.content)) == {"padding"}


async def test_a_latency_fault_delays_its_request_while_others_are_served() -> None:
    async with in_process_sandbox() as (app, api):
        arrived = anyio.Event()

        async def note_arrival(request: Request) -> Response | None:
            if request.url.path == "/actions":
                arrived.set()
            return None

        parts_of(app).interceptors.append(note_arrival)
        await _fault(api, side="membrane", path="/actions", kind="latency", seconds=60)
        delayed_done = anyio.Event()
        with anyio.fail_after(BOUND_SECONDS):
            async with anyio.create_task_group() as tasks:

                async def delayed() -> None:
                    await api.get("/actions")
                    delayed_done.set()

                tasks.start_soon(delayed)
                await arrived.wait()
                other = await api.get("/connections")
                assert not delayed_done.is_set()  # the other request was answered while this one waited
                assert other.status_code == 200
                tasks.cancel_scope.cancel()
        entries = await _log(api)
    assert [(e["path"], e.get("fault", {}).get("kind")) for e in entries] == [
        ("/actions", "latency"),
        ("/connections", None),
    ]


async def test_a_delayed_request_still_gets_the_apps_own_answer() -> None:
    async with in_process_sandbox() as (_, api):
        plain = await api.get("/actions", params={"limit": "2"})
        await _fault(api, side="membrane", path="/actions", kind="latency", seconds=0.01)
        with anyio.fail_after(BOUND_SECONDS):
            delayed = await api.get("/actions", params={"limit": "2"})
        entries = await _log(api)
    assert (delayed.status_code, delayed.json()) == (200, plain.json())
    assert entries[-1]["fault"] == {"id": "fault_0001", "kind": "latency"}


@pytest.mark.parametrize("stage", ["before_response", "mid_response"])
async def test_an_in_process_drop_raises_what_a_client_gets_from_a_real_drop(stage: str) -> None:
    async with in_process_sandbox() as (_, api):
        await _fault(api, side="membrane", path="/actions", kind="drop", stage=stage)
        with pytest.raises(httpx2.RemoteProtocolError):
            await api.get("/actions")
        after = await api.get("/actions")
    assert after.status_code == 200


async def test_a_dropped_connection_gives_the_client_no_answer_at_all(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with httpx2.AsyncClient(base_url=sandbox.base_url, trust_env=False) as http:
        await _fault(http, side="membrane", path="/actions", kind="drop")
        with anyio.fail_after(BOUND_SECONDS), pytest.raises(httpx2.RemoteProtocolError, match="without sending"):
            await http.get("/actions")
        after = await http.get("/actions")
        entries = await _log(http)
    assert after.status_code == 401  # served again, by the app: no bearer token
    assert [(e["status"], e.get("fault")) for e in entries] == [
        (None, {"id": "fault_0001", "kind": "drop"}),
        (401, None),
    ]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_mid_response_drop_sends_the_headers_and_half_the_body_then_closes(
    sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with httpx2.AsyncClient(base_url=sandbox.base_url, trust_env=False) as http:
        whole = await http.get("/actions")
        await _fault(http, side="membrane", path="/actions", kind="drop", stage="mid_response")
        received: list[bytes] = []
        with anyio.fail_after(BOUND_SECONDS):
            async with http.stream("GET", "/actions") as cut:
                with pytest.raises(httpx2.RemoteProtocolError, match=r"incomplete|complete message body"):
                    await _read_raw(cut, into=received)
    assert (cut.status_code, cut.headers["content-length"]) == (whole.status_code, str(len(whole.content)))
    assert b"".join(received) == whole.content[: len(whole.content) // 2]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_clevertap_drop_makes_membrane_answer_that_clevertap_could_not_be_reached(
    sandbox: SandboxServer,
) -> None:
    conn = await control(sandbox, "POST", "/connections", {})
    async with httpx2.AsyncClient(
        base_url=sandbox.base_url, trust_env=False, headers={"Authorization": f"Bearer {demo_token().token()}"}
    ) as http:
        await _fault(http, side="clevertap", path="/1/now.json", kind="drop")
        with anyio.fail_after(BOUND_SECONDS):
            failed = await http.post(f"/connections/{conn['id']}/proxy/1/now.json", json={})
            recovered = await http.post(f"/connections/{conn['id']}/proxy/1/now.json", json={})
    assert (failed.status_code, failed.json()["type"]) == (502, "connection")
    assert "could not be reached" in failed.json()["message"]
    assert recovered.status_code == 200


async def test_proxy_request_reports_an_injected_clevertap_outage_then_recovers(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    date = email.utils.format_datetime(email.utils.parsedate_to_datetime("Wed, 21 Oct 2026 07:28:00 GMT"), usegmt=True)
    await control(
        sandbox,
        "POST",
        "/faults",
        {"side": "clevertap", "path": "/1/now.json", "kind": "status", "status": 503, "retryAfter": date},
    )
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        assert ok(await call(client, "ensure_connection"))["state"] == "READY"
        outage = ok(await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}))
        recovered = ok(await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}))
    assert (outage["status"], outage["body"]["status"], outage["body"]["code"]) == (503, "fail", 503)
    assert (recovered["status"], recovered["body"]["status"]) == (200, "success")
    clevertap_calls = await control(sandbox, "GET", "/requests?side=clevertap")
    assert [e["status"] for e in clevertap_calls["items"]] == [503, 200]


async def test_faults_are_listed_with_their_counts_and_can_be_cleared_one_or_all() -> None:
    async with in_process_sandbox() as (_, api):
        first = await _fault(api, side="membrane", path="/actions", kind="status", count=3)
        await _fault(api, side="clevertap", kind="latency", seconds=1.5, region="eu1")
        await api.get("/actions")
        listed = (await api.get("/_sandbox/faults")).json()["items"]
        removed = await api.delete(f"/_sandbox/faults/{first['id']}")
        removed_again = await api.delete(f"/_sandbox/faults/{first['id']}")
        cleared = await api.delete("/_sandbox/faults")
        after = await api.get("/actions")
        left = (await api.get("/_sandbox/faults")).json()["items"]
    assert listed == [
        {
            "id": "fault_0001",
            "kind": "status",
            "side": "membrane",
            "path": "/actions",
            "status": 503,
            "remaining": 2,
            "applied": 1,
        },
        {
            "id": "fault_0002",
            "kind": "latency",
            "side": "clevertap",
            "region": "eu1",
            "seconds": 1.5,
            "remaining": 1,
            "applied": 0,
        },
    ]
    assert (removed.status_code, removed.json()) == (200, {"cleared": 1})
    assert (removed_again.status_code, removed_again.json()["key"]) == (404, "not_found")
    assert cleared.json() == {"cleared": 1}
    assert (after.status_code, left) == (200, [])


async def test_reset_forgets_pending_faults_and_hands_out_their_ids_again() -> None:
    async with in_process_sandbox() as (_, api):
        await _fault(api, side="membrane", kind="status")
        await api.post("/_sandbox/reset")
        served = await api.get("/actions")
        again = await _fault(api, side="membrane", kind="status")
    assert served.status_code == 200
    assert again["id"] == "fault_0001"


async def test_pending_faults_are_bounded_and_the_refusal_says_how_to_clear_them() -> None:
    async with in_process_sandbox() as (app, api):
        book = parts_of(app).faults
        for _ in range(MAX_PENDING_FAULTS):
            book.add({"side": "membrane", "path": "/never-requested", "kind": "status"})
        refused = await api.post("/_sandbox/faults", json={"side": "membrane", "kind": "status"})
        await api.delete("/_sandbox/faults")
        accepted = await api.post("/_sandbox/faults", json={"side": "membrane", "kind": "status"})
    assert refused.status_code == 400
    assert "DELETE /_sandbox/faults" in refused.json()["message"]
    assert accepted.status_code == 201


async def test_the_control_plane_is_never_faulted() -> None:
    async with in_process_sandbox() as (_, api):
        await _fault(api, side="membrane", kind="status", count=5)
        health = await api.get("/_sandbox/health")
        listed = (await api.get("/_sandbox/faults")).json()["items"]
    assert health.status_code == 200
    assert listed[0]["remaining"] == 5


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"side": "membrane"}, "'kind' must be one of: status, latency, drop"),
        ({"kind": "status"}, "'side' must be one of: membrane, clevertap"),
        ({"side": "server", "kind": "status"}, "'side' must be one of"),
        ({"side": "membrane", "kind": "explode"}, "'kind' must be one of"),
        ({"side": "membrane", "kind": "status", "seconds": 1}, "'seconds' does not apply to a 'status' fault"),
        ({"side": "membrane", "kind": "latency"}, "needs 'seconds'"),
        ({"side": "membrane", "kind": "latency", "seconds": 0}, "above 0"),
        ({"side": "membrane", "kind": "latency", "seconds": 121}, "at most 120"),
        ({"side": "membrane", "kind": "status", "count": 0}, "'count' must be an integer from 1 to 10000"),
        ({"side": "membrane", "kind": "status", "count": True}, "'count' must be an integer"),
        ({"side": "membrane", "kind": "status", "status": 99}, "'status' must be an integer from 200 to 599"),
        ({"side": "membrane", "kind": "status", "retryAfter": "soon"}, "whole seconds (such as 5) or an HTTP-date"),
        ({"side": "membrane", "kind": "status", "retryAfter": -1}, "'retryAfter'"),
        ({"side": "membrane", "kind": "html", "retryAfter": "1\r\nX-Evil: 1"}, "'retryAfter'"),
        ({"side": "membrane", "kind": "drop", "stage": "later"}, "'stage' must be one of: before_response"),
        ({"side": "membrane", "kind": "drop", "retryAfter": 1}, "'retryAfter' does not apply to a 'drop' fault"),
        ({"side": "membrane", "kind": "oversized", "bytes": 15}, "'bytes' must be an integer from 16"),
        ({"side": "membrane", "kind": "status", "path": "actions"}, "'path' must start with '/'"),
        ({"side": "membrane", "kind": "status", "path": "/a", "pathPrefix": "/a"}, "either 'path'"),
        ({"side": "membrane", "kind": "status", "method": "GE T"}, "'method' must be an HTTP method"),
        ({"side": "membrane", "kind": "status", "region": "eu1"}, "'region' narrows a clevertap-side fault"),
        ({"side": "clevertap", "kind": "status", "region": "mars1"}, "one of eu1"),
    ],
)
async def test_a_fault_that_cannot_be_applied_is_refused_saying_what_to_change(spec: dict[str, Any], says: str) -> None:
    async with in_process_sandbox() as (_, api):
        refused = await api.post("/_sandbox/faults", json=spec)
        listed = (await api.get("/_sandbox/faults")).json()["items"]
    assert (refused.status_code, refused.json()["type"]) == (400, "bad_request")
    assert says in refused.json()["message"]
    assert listed == []


async def test_the_request_log_says_which_side_each_request_hit_and_filters_by_side_and_since() -> None:
    async with in_process_sandbox() as (_, api):
        conn = await _ready_connection(api)
        await api.post(f"/connections/{conn}/proxy/1/now.json", json={})
        await api.get("/actions")
        everything = await _log(api)
        membrane = await _log(api, side="membrane")
        later = await _log(api, since="2")
        bad_side = await api.get("/_sandbox/requests", params={"side": "both"})
        bad_since = await api.get("/_sandbox/requests", params={"since": "-1"})
    assert [(e["seq"], e["side"], e["path"]) for e in everything] == [
        (1, "membrane", f"/connections/{conn}/proxy/1/now.json"),
        (2, "clevertap", "/clevertap/eu1/1/now.json"),
        (3, "membrane", "/actions"),
    ]
    assert [e["seq"] for e in membrane] == [1, 3]
    assert [e["seq"] for e in later] == [3]
    assert (bad_side.status_code, bad_since.status_code) == (400, 400)
