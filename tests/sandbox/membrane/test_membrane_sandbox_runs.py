"""Running actions: `POST /actions/{id}/run` and `POST /act` (§3.4, §3.5, §10 #9, #13)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from membrane_sandbox_support import InProcessSandbox, open_sandbox
from starlette.requests import Request
from starlette.responses import Response

from clevertap_mcp.sandbox.connector.run import MAX_COUNT_POLLS
from clevertap_mcp.sandbox.membrane.runs import ignore_extras
from clevertap_mcp.sandbox.settings import SandboxSettings

EVENT_COUNT_INPUT = {"event_name": "Charged", "from": 20260101, "to": 20260105}
NO_DATA: dict[str, Any] = {}


async def _run(client: httpx2.AsyncClient, action: str, body: Any, **params: str) -> httpx2.Response:
    return await client.post(f"/actions/{action}/run", params=params, json=body)


@pytest.mark.anyio
async def test_running_an_action_calls_clevertap_and_answers_output_and_a_run_id(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    first = await _run(sandbox.client, "real-time-user-count", {"input": {}}, connectionId=conn["id"])
    second = await _run(sandbox.client, "act_08", {"input": EVENT_COUNT_INPUT}, connectionKey=conn["id"])
    assert first.status_code == 200, first.text
    assert set(first.json()["output"]) == {"count", "last_processed_ts"}
    assert first.json()["actionRunId"] == "run_0001"
    assert (second.status_code, second.json()["actionRunId"]) == (200, "run_0002")
    assert isinstance(second.json()["output"]["count"], int)
    paths = [entry["path"] for entry in (await sandbox.client.get("/_sandbox/requests")).json()["items"]]
    assert "/clevertap/eu1/1/now.json" in paths


@pytest.mark.anyio
async def test_a_run_without_input_runs_with_empty_input(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    response = await sandbox.client.post(f"/actions/real-time-user-count/run?connectionId={conn['id']}")
    assert response.status_code == 200


@pytest.mark.anyio
async def test_a_run_by_integration_key_uses_the_tenants_only_connection(
    integration_sandbox: InProcessSandbox,
) -> None:
    sandbox = integration_sandbox
    await sandbox.ready_connection()
    response = await _run(sandbox.client, "real-time-user-count", {"input": {}}, integrationKey="clevertap")
    assert response.status_code == 200


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("action", "run_input", "named"),
    [
        ("get-event-count", {"from": 20260101, "to": 20260105}, "'event_name' is a required property"),
        ("get-event-count", {**EVENT_COUNT_INPUT, "from": "yesterday"}, "input.from"),
        ("upload-events", {"events": [{"identity": "u", "evtName": 7, "evtData": NO_DATA}]}, "input.events[0].evtName"),
        ("upload-events", {"events": [{"evtName": "Seen", "evtData": NO_DATA}]}, "needs one of 'identity', 'objectId'"),
        ("create-campaign", {"name": "n", "target_mode": "push", "content": NO_DATA, "when": "now", "where": {
            "event_name": "e", "from": 20260101, "to": 20260102}, "segment": 3}, "must not combine 'where', 'segment'"),
        ("real-time-user-count", "not an object", "is not of type 'object'"),
    ],
)  # fmt: skip
async def test_input_that_fails_the_schema_is_400_naming_the_field(
    sandbox: InProcessSandbox, action: str, run_input: Any, named: str
) -> None:
    conn = await sandbox.ready_connection()
    response = await _run(sandbox.client, action, {"input": run_input}, connectionId=conn["id"])
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "bad_request"
    assert named in body["message"]
    assert "actionRunId" not in body


@pytest.mark.anyio
async def test_extra_input_properties_are_ignored(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    response = await _run(
        sandbox.client, "get-event-count", {"input": {**EVENT_COUNT_INPUT, "colour": "blue"}}, connectionId=conn["id"]
    )
    assert response.status_code == 200, response.text


def test_ignoring_extras_drops_only_undeclared_properties_where_the_schema_declares_some() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "keep": {"type": "object", "properties": {"a": NO_DATA}},
            "free": {"type": "object"},
            "open": {"type": "object", "properties": {"a": NO_DATA}, "additionalProperties": True},
            "rows": {"type": "array", "items": {"type": "object", "properties": {"x": NO_DATA}}},
        },
    }
    value = {
        "keep": {"a": 1, "b": 2},
        "free": {"any": 1},
        "open": {"a": 1, "b": 2},
        "rows": [{"x": 1, "y": 2}],
        "extra": True,
    }
    assert ignore_extras(schema, value) == {
        "keep": {"a": 1},
        "free": {"any": 1},
        "open": {"a": 1, "b": 2},
        "rows": [{"x": 1}],
    }


@pytest.mark.anyio
async def test_running_on_a_connection_that_is_not_ready_is_400_connection(api: httpx2.AsyncClient) -> None:
    conn = (await api.post("/connections/ensure", json={"appUrl": "clevertap.com"})).json()
    response = await _run(api, "get-event-count", {"input": {}}, connectionId=conn["id"])
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "connection"
    assert "CLIENT_ACTION_REQUIRED" in body["message"]
    assert body["data"] == {"connectionId": conn["id"], "state": "CLIENT_ACTION_REQUIRED"}


@pytest.mark.anyio
async def test_running_on_a_defunct_connection_is_400_connection_is_defunct(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    await sandbox.force_state(conn["id"], state="READY", isDefunct=True)
    response = await _run(sandbox.client, "real-time-user-count", {"input": {}}, connectionId=conn["id"])
    assert (response.status_code, response.json()["type"]) == (400, "connection")
    assert response.json()["key"] == "connection_is_defunct"


@pytest.mark.anyio
async def test_running_an_unknown_action_or_on_an_unknown_connection_is_404(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    unknown_action = await _run(sandbox.client, "launch-rocket", {"input": {}}, connectionId=conn["id"])
    unknown_conn = await _run(sandbox.client, "real-time-user-count", {"input": {}}, connectionId="conn_0404")
    theirs = await sandbox.ready_connection("another-tenant")
    other_tenant = await _run(sandbox.client, "real-time-user-count", {"input": {}}, connectionId=theirs["id"])
    assert [r.status_code for r in (unknown_action, unknown_conn, other_tenant)] == [404, 404, 404]


@pytest.mark.anyio
async def test_a_run_with_no_connection_selected_is_400(api: httpx2.AsyncClient) -> None:
    assert (await _run(api, "real-time-user-count", {"input": {}})).status_code == 400


@pytest.mark.anyio
async def test_a_run_clevertap_refuses_is_400_action_run_with_its_run_id(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    refused: dict[str, Any] = {"events": [{"identity": "u1", "evtName": "App Launched", "evtData": {}}]}
    response = await _run(sandbox.client, "upload-events", {"input": refused}, connectionId=conn["id"])
    assert response.status_code == 400
    body = response.json()
    assert (body["type"], body["actionRunId"]) == ("action_run", "run_0001")
    assert body["data"]["status"] == "fail"


@pytest.mark.anyio
async def test_act_runs_an_action_by_key_through_the_only_connection(sandbox: InProcessSandbox) -> None:
    await sandbox.ready_connection()
    response = await sandbox.client.post("/act", json={"key": "get-event-count", "input": EVENT_COUNT_INPUT})
    assert response.status_code == 200, response.text
    assert response.json()["actionRunId"] == "run_0001"


@pytest.mark.anyio
async def test_act_calls_the_api_through_the_connection(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection(key="ct")
    body: dict[str, Any] = {"api": {"method": "post", "path": "/1/now.json", "body": {}}, "connectionKey": "ct"}
    response = await sandbox.client.post("/act", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["output"]["status"] == "success"
    failing = {"api": {"method": "GET", "path": "/1/nowhere.json"}, "connectionId": conn["id"]}
    refused = await sandbox.client.post("/act", json=failing)
    assert (refused.status_code, refused.json()["type"], refused.json()["data"]["status"]) == (400, "action_run", 404)
    assert refused.json()["actionRunId"] == "run_0002"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"key": "get-event-count", "surprise": 1}, "surprise"),
        ({"key": "get-event-count", "id": "act_08"}, "exactly one"),
        ({}, "exactly one"),
        ({"code": "export default () => 1"}, "not emulated"),
        ({"api": {"method": "TRACE", "path": "/1/now.json"}}, "api.method"),
        ({"api": {"method": "GET", "path": "/1/x", "verb": "GET"}}, "verb"),
    ],
)
async def test_act_refuses_a_malformed_body_with_400(
    sandbox: InProcessSandbox, body: dict[str, Any], message: str
) -> None:
    await sandbox.ready_connection()
    response = await sandbox.client.post("/act", json=body)
    assert response.status_code == 400
    assert message in response.json()["message"]


@pytest.mark.anyio
async def test_act_without_a_resolvable_connection_is_400(sandbox: InProcessSandbox) -> None:
    await sandbox.ready_connection(key="a")
    await sandbox.ready_connection(key="b")
    response = await sandbox.client.post("/act", json={"api": {"method": "GET", "path": "/1/now.json"}})
    assert response.status_code == 400
    assert "No connection resolves" in response.json()["message"]


@pytest.mark.anyio
async def test_act_refuses_to_send_credentials_to_a_foreign_host(sandbox: InProcessSandbox) -> None:
    await sandbox.ready_connection()
    body = {"api": {"method": "GET", "url": "https://collector.example/steal"}}
    response = await sandbox.client.post("/act", json=body)
    assert (response.status_code, response.json()["type"]) == (502, "connection")
    log = (await sandbox.client.get("/_sandbox/requests")).json()["items"]
    assert [(e["path"], e["exfiltration"], e.get("targetHost")) for e in log if e["exfiltration"]] == [
        ("/act", True, "collector.example")
    ]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "path", ["/1/now.json\u0000", "/1/now.json%00", "http://[::1/x", "/1/now.json\r\nX-Injected: 1"]
)
async def test_act_with_an_api_path_no_url_can_carry_is_400_bad_request(sandbox: InProcessSandbox, path: str) -> None:
    conn = await sandbox.ready_connection()
    response = await sandbox.client.post(
        "/act", json={"connectionId": conn["id"], "api": {"method": "POST", "path": path}}
    )
    assert (response.status_code, response.json()["type"]) == (400, "bad_request")
    assert "actionRunId" not in response.json()


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers",
    [{"X-A": "a\r\nX-Injected: 1"}, {"X A:": "a"}, {"X-\u00e9": "a"}, {"X-A": "\U0001f600"}],
    ids=["crlf-value", "bad-name", "non-ascii-name", "non-latin1-value"],
)
async def test_act_refuses_api_headers_no_request_can_carry_with_400(
    sandbox: InProcessSandbox, headers: dict[str, str]
) -> None:
    conn = await sandbox.ready_connection()
    api = {"method": "POST", "path": "/1/now.json", "headers": headers}
    response = await sandbox.client.post("/act", json={"connectionId": conn["id"], "api": api})
    assert (response.status_code, response.json()["type"]) == (400, "bad_request")
    log = (await sandbox.client.get("/_sandbox/requests")).json()["items"]
    assert not [e for e in log if e["path"].startswith("/clevertap/")]


@pytest.mark.anyio
async def test_act_reads_a_query_written_into_the_api_path(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    api = {"method": "GET", "path": "/1/counts/events.json?req_id=nope#frag", "query": {"more": 1}}
    await sandbox.client.post("/act", json={"connectionId": conn["id"], "api": api})
    log = (await sandbox.client.get("/_sandbox/requests")).json()["items"]
    assert [(e["path"], e["query"]) for e in log if e["path"].startswith("/clevertap/")] == [
        ("/clevertap/eu1/1/counts/events.json", "req_id=nope&more=1")
    ]


@pytest.mark.anyio
async def test_act_spends_no_run_id_on_a_call_it_refuses(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    refused_bodies: list[dict[str, Any]] = [
        {"api": {"method": "POST", "path": "/1/now.json", "query": {"a": [1]}}},
        {"api": {"method": "POST", "path": "/1/now.json\u0000"}},
        {"api": {"method": "GET", "path": "https://collector.example/x"}},
        {"api": {"method": "GET", "path": "/1/now.json", "headers": {"X-A": "\n"}}},
        {"key": "get-event-count", "input": {}},
    ]
    for body in refused_bodies:
        refused = await sandbox.client.post("/act", json={"connectionId": conn["id"], **body})
        assert refused.status_code in (400, 502), body
        assert "actionRunId" not in refused.json(), body
    ran = await sandbox.client.post("/act", json={"connectionId": conn["id"], "key": "real-time-user-count"})
    assert (ran.status_code, ran.json()["actionRunId"]) == (200, "run_0001")


@pytest.mark.anyio
async def test_an_act_failure_after_the_run_id_is_spent_carries_it(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()

    async def clevertap_unreachable(request: Request) -> Response | None:
        if request.url.path.startswith("/clevertap/"):
            raise httpx2.ConnectError("CleverTap is down")
        return None

    sandbox.parts.interceptors.append(clevertap_unreachable)
    api = {"method": "POST", "path": "/1/now.json"}
    first = await sandbox.client.post("/act", json={"connectionId": conn["id"], "api": api})
    second = await sandbox.client.post("/act", json={"connectionId": conn["id"], "api": api})
    assert (first.status_code, first.json()["type"], first.json()["actionRunId"]) == (502, "connection", "run_0001")
    assert second.json()["actionRunId"] == "run_0002"


@pytest.mark.anyio
async def test_a_count_that_outlasts_the_poll_bound_fails_with_its_req_id_and_the_polls_in_the_logs() -> None:
    async with open_sandbox(SandboxSettings(count_partial_polls=40)) as slow:
        conn = await slow.ready_connection()
        response = await _run(slow.client, "get-event-count", {"input": EVENT_COUNT_INPUT}, connectionId=conn["id"])
    body = response.json()
    assert (response.status_code, body["type"], body["actionRunId"]) == (400, "action_run", "run_0001")
    req_id = body["data"]["req_id"]
    assert f"proxy_request GET /1/counts/events.json?req_id={req_id}" in body["message"]
    assert len(body["logs"]) == MAX_COUNT_POLLS
    assert body["logs"][0] == f"CleverTap is still counting, req_id {req_id} (poll 1/{MAX_COUNT_POLLS})"


@pytest.mark.anyio
async def test_a_run_that_succeeds_carries_no_logs(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    response = await _run(sandbox.client, "get-event-count", {"input": EVENT_COUNT_INPUT}, connectionId=conn["id"])
    assert set(response.json()) == {"output", "actionRunId"}
