"""Action search (§3.3, §10 #6, #7) and the action object (§5)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from membrane_sandbox_support import InProcessSandbox

from clevertap_mcp.sandbox.connector import ACTIONS
from clevertap_mcp.sandbox.membrane.search import CATALOG

KEYS_IN_ID_ORDER = [spec.key for spec in ACTIONS]


async def _search(client: httpx2.AsyncClient, **params: Any) -> httpx2.Response:
    return await client.get("/actions", params=params)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("intent", "best"),
    [
        ("how many users are online now", "real-time-user-count"),
        ("send a push campaign", "create-campaign"),
        ("delete a user", "delete-user-profile"),
        ("count events", "get-event-count"),
        ("track an event for a customer", "upload-events"),
        ("export user profiles", "get-user-profiles"),
        ("next page of events", "get-events-by-cursor"),
        ("campaign stats", "get-campaign-report"),
        ("cancel the campaign", "stop-campaign"),
        ("register push tokens", "upload-device-tokens"),
    ],
)
async def test_an_intent_ranks_the_action_that_does_it_first(sandbox: InProcessSandbox, intent: str, best: str) -> None:
    conn = await sandbox.ready_connection()
    page = (await _search(sandbox.client, connectionId=conn["id"], intent=intent)).json()
    assert page["items"][0]["key"] == best


@pytest.mark.anyio
async def test_an_intent_search_returns_ten_by_default_with_a_cursor_to_the_rest(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    first = (await _search(sandbox.client, connectionId=conn["id"], intent="campaign")).json()
    rest = (await _search(sandbox.client, connectionId=conn["id"], intent="campaign", cursor=first["cursor"])).json()
    assert (len(first["items"]), first["cursor"], len(rest["items"]), "cursor" in rest) == (10, "10", 5, False)
    keys = [a["key"] for a in first["items"] + rest["items"]]
    assert sorted(keys) == sorted(KEYS_IN_ID_ORDER)


@pytest.mark.anyio
async def test_the_intent_is_ignored_without_a_connection(api: httpx2.AsyncClient) -> None:
    page = (await _search(api, intent="delete a user", limit=100)).json()
    assert [a["key"] for a in page["items"]] == KEYS_IN_ID_ORDER
    assert all("connectionId" not in a for a in page["items"])


@pytest.mark.anyio
async def test_a_search_lists_every_action_with_stable_ids_and_schemas(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    page = (await _search(sandbox.client, connectionKey=conn["id"])).json()
    assert "cursor" not in page
    assert [a["id"] for a in page["items"]] == [f"act_{i:02d}" for i in range(1, 16)]
    first = page["items"][0]
    spec = ACTIONS[0]
    assert first == {
        "id": "act_01",
        "key": spec.key,
        "name": spec.name,
        "description": spec.description,
        "integrationId": "intg_clevertap",
        "connectionId": conn["id"],
        "state": "READY",
        "isReadOnly": spec.read_only,
        "inputSchema": spec.input_schema,
        "outputSchema": spec.output_schema,
    }


@pytest.mark.anyio
async def test_cursor_zero_is_the_first_page(api: httpx2.AsyncClient) -> None:
    without = (await _search(api, limit=4)).json()
    with_zero = (await _search(api, limit=4, cursor="0")).json()
    assert with_zero == without
    assert without["cursor"] == "4"


@pytest.mark.anyio
async def test_following_cursors_visits_every_action_once(api: httpx2.AsyncClient) -> None:
    seen: list[str] = []
    cursor: str | None = "0"
    while cursor is not None:
        page = (await _search(api, limit=4, cursor=cursor)).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page.get("cursor")
    assert seen == [f"act_{i:02d}" for i in range(1, 16)]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "params",
    [{"cursor": "x1"}, {"cursor": "1.0"}, {"cursor": "16"}, {"limit": "0"}, {"limit": "1001"}, {"limit": "many"},
     {"intent": "x" * 201}, {"layer": "galaxy"}],
)  # fmt: skip
async def test_a_bad_search_parameter_is_400_bad_request(api: httpx2.AsyncClient, params: dict[str, str]) -> None:
    response = await _search(api, **params)
    assert response.status_code == 400
    assert response.json()["type"] == "bad_request"


@pytest.mark.anyio
async def test_an_intent_of_exactly_200_characters_is_accepted(api: httpx2.AsyncClient) -> None:
    assert (await _search(api, intent="y" * 200)).status_code == 200


@pytest.mark.anyio
async def test_search_with_an_unknown_connection_is_404(api: httpx2.AsyncClient) -> None:
    response = await _search(api, connectionId="conn_0404", intent="count events")
    assert response.status_code == 404


@pytest.mark.anyio
async def test_an_app_without_a_connector_has_no_actions(api: httpx2.AsyncClient) -> None:
    conn = (await api.post("/connections/ensure", json={"appUrl": "example.com"})).json()
    assert (await _search(api, connectionId=conn["id"])).json() == {"items": []}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({"integrationKey": "clevertap"}, 15),
        ({"integrationId": "intg_clevertap"}, 15),
        ({"integrationKey": "hubspot"}, 0),
        ({"integrationId": "intg_clevertap", "integrationKey": "hubspot"}, 0),
    ],
)
async def test_an_integration_filter_naming_another_integration_lists_no_actions(
    api: httpx2.AsyncClient, params: dict[str, str], count: int
) -> None:
    page = (await _search(api, limit=100, **params)).json()
    assert len(page["items"]) == count


@pytest.mark.anyio
async def test_the_search_filter_matches_names_and_keys(api: httpx2.AsyncClient) -> None:
    page = (await _search(api, search="CURSOR")).json()
    assert [a["key"] for a in page["items"]] == ["get-events-by-cursor", "get-user-profiles-by-cursor"]


@pytest.mark.anyio
async def test_an_action_is_found_by_id_or_key_and_answers_at_once_with_wait(sandbox: InProcessSandbox) -> None:
    conn = await sandbox.ready_connection()
    by_id = (await sandbox.client.get("/actions/act_08", params={"connectionId": conn["id"]})).json()
    by_key = await sandbox.client.get(
        "/actions/get-event-count", params={"connectionId": conn["id"], "wait": "true", "timeout": "30"}
    )
    assert by_key.json() == by_id
    assert (by_id["key"], by_id["connectionId"]) == ("get-event-count", conn["id"])


@pytest.mark.anyio
async def test_an_unknown_action_is_404_not_found(api: httpx2.AsyncClient) -> None:
    response = await api.get("/actions/act_99")
    assert (response.status_code, response.json()["key"]) == (404, "not_found")


@pytest.mark.parametrize("intent", ["export profiles", "get events", "campaign"])
def test_ranking_ties_are_broken_by_id_whatever_order_the_actions_come_in(intent: str) -> None:
    in_id_order = list(CATALOG.actions)
    ranked = CATALOG.ranked(in_id_order, intent)
    for shuffled in (in_id_order[::-1], sorted(in_id_order, key=lambda a: a.spec.key)):
        assert [a.id for a in CATALOG.ranked(shuffled, intent)] == [a.id for a in ranked]
    assert [a.id for a in CATALOG.ranked(in_id_order[::-1], "zzz qqq")] == [a.id for a in in_id_order]
