"""Request parsing shared by every route: strict JSON bodies and whole-value integer query parameters (§7, §8)."""

from __future__ import annotations

import httpx2
import pytest
from membrane_sandbox_support import InProcessSandbox

from clevertap_mcp.sandbox.membrane.params import loads_strict

TOO_DEEP = b"[" * 100_000
NOT_JSON_NUMBERS = [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"]


async def _json_routes(sandbox: InProcessSandbox) -> list[str]:
    """Every route that reads a JSON object body, Membrane API and control plane."""
    conn = await sandbox.ready_connection()
    return [
        "/connections/ensure",
        "/act",
        f"/actions/real-time-user-count/run?connectionId={conn['id']}",
        "/_sandbox/connections",
        f"/_sandbox/connections/{conn['id']}/state",
    ]


@pytest.mark.anyio
async def test_a_body_nested_too_deeply_to_parse_is_400_bad_request_on_every_json_route(
    sandbox: InProcessSandbox,
) -> None:
    for path in await _json_routes(sandbox):
        response = await sandbox.client.post(path, content=TOO_DEEP, headers={"Content-Type": "application/json"})
        assert (response.status_code, response.json()["type"]) == (400, "bad_request"), path


@pytest.mark.anyio
@pytest.mark.parametrize("number", NOT_JSON_NUMBERS)
async def test_nan_infinity_and_overflowing_numbers_are_not_json_and_are_400(
    sandbox: InProcessSandbox, number: bytes
) -> None:
    for path in await _json_routes(sandbox):
        body = b'{"state": "SETUP_FAILED", "errors": [{"message": "m", "data": %s}], "input": %s}' % (number, number)
        response = await sandbox.client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert (response.status_code, response.json()["type"]) == (400, "bad_request"), path


@pytest.mark.anyio
async def test_a_refused_nan_leaves_nothing_behind_that_breaks_rendering(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    body = b'{"state": "SETUP_FAILED", "errors": [{"message": "m", "data": NaN}]}'
    forced = await sandbox.client.post(f"/_sandbox/connections/{conn['id']}/state", content=body)
    after = await sandbox.client.get(f"/connections/{conn['id']}")
    assert forced.status_code == 400
    assert (after.status_code, after.json()["state"]) == (200, "READY")


def test_strict_json_parsing_accepts_standard_json() -> None:
    assert loads_strict(b'{"a": [1, 2.5, -3e2, true, null, "NaN"]}') == {"a": [1, 2.5, -300.0, True, None, "NaN"]}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"NaN", "NaN is not JSON"),
        (b'{"a": -Infinity}', "-Infinity is not JSON"),
        (b"[1e999]", "out of range"),
        (TOO_DEEP, "nested too deeply"),
        (b"[1,]", "Expecting value"),
    ],
)
def test_strict_json_parsing_refuses_what_is_not_standard_json(raw: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        loads_strict(raw)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/actions", {"limit": "5\n"}),
        ("/actions", {"cursor": "0\n"}),
        ("/connections", {"limit": "5\n"}),
        ("/connections/conn_0001", {"wait": "true", "timeout": "5\n"}),
    ],
)
async def test_an_integer_query_parameter_with_a_trailing_newline_is_400(
    sandbox: InProcessSandbox, path: str, params: dict[str, str]
) -> None:
    await sandbox.ready_connection()
    response = await sandbox.client.get(path, params=params)
    assert (response.status_code, response.json()["type"]) == (400, "bad_request")


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["limit", "cursor"])
async def test_an_integer_query_parameter_with_thousands_of_digits_is_400(api: httpx2.AsyncClient, name: str) -> None:
    # Python refuses to convert strings of more than 4300 digits; that must not surface as a 500.
    response = await api.get("/actions", params={name: "9" * 5000})
    assert (response.status_code, response.json()["type"]) == (400, "bad_request")
