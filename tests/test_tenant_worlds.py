"""Each Membrane tenant has its own CleverTap world (sandbox/tenant_worlds.py): made on first use, written without
touching any other, reset alone, dropped when idle past the memory cap. Driven through the real HTTP server with
per-request tokens, one tenant per caller."""

from __future__ import annotations

from typing import Any, Literal

import anyio
import httpx2
import pytest
from mcp import Client

from clevertap_mcp.sandbox.app import parts_of
from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import (
    DEMO_CLEVERTAP_ACCOUNT_ID,
    DEMO_CLEVERTAP_PASSCODE,
    DEMO_CLEVERTAP_REGION,
    SandboxSettings,
)
from clevertap_mcp.sandbox.tenant_worlds import TenantWorlds, tenant_segment
from test_http import http_server

from helpers import call, http_client, ok, tenant_token

pytestmark = pytest.mark.anyio

AUTH = {"X-CleverTap-Account-Id": DEMO_CLEVERTAP_ACCOUNT_ID, "X-CleverTap-Passcode": DEMO_CLEVERTAP_PASSCODE}
CLOCK = 1767607200.0


async def proxy(client: Client, path: str, method: str = "GET", body: Any = None) -> dict[str, Any]:
    arguments: dict[str, Any] = {"path": path, "method": method}
    if body is not None:
        arguments["body"] = body
    result = ok(await call(client, "proxy_request", arguments))
    return result["body"]


async def write_and_read(client: Client, name: str) -> dict[str, Any]:
    """Connect, write a profile named after the caller, and read it back."""
    assert ok(await call(client, "ensure_connection"))["state"] == "READY"
    record = {"type": "profile", "identity": "episode-user", "profileData": {"Name": name}}
    uploaded = await proxy(client, "/1/upload", "POST", {"d": [record]})
    assert uploaded["status"] == "success", uploaded
    return await proxy(client, "/1/profile.json?identity=episode-user")


def own_world(sandbox: SandboxServer) -> CleverTapWorld:
    assert sandbox.app is not None
    return parts_of(sandbox.app).clevertap.world_for(None)


def world_of(sandbox: SandboxServer, tenant: str) -> CleverTapWorld:
    assert sandbox.app is not None
    return parts_of(sandbox.app).clevertap.world_for(tenant)


async def test_two_tenants_writing_the_same_identity_at_once_each_read_back_only_their_own(
    sandbox_factory: Any,
) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, clock=CLOCK)
    seen: dict[str, Any] = {}
    async with http_server(sandbox) as url:

        async def episode(tenant: str) -> None:
            async with http_client(url, tenant_token(tenant)) as client:
                seen[tenant] = await write_and_read(client, tenant)

        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                for tenant in ("episode-a", "episode-b"):
                    tg.start_soon(episode, tenant)
    assert seen["episode-a"]["record"]["profileData"]["Name"] == "episode-a"
    assert seen["episode-b"]["record"]["profileData"]["Name"] == "episode-b"
    own = own_world(sandbox).account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
    assert own is not None and own.find(identity="episode-user") is None


async def test_a_tenant_reset_gives_that_tenant_a_fresh_world_and_leaves_the_others(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, clock=CLOCK)
    async with http_server(sandbox) as url:
        async with http_client(url, tenant_token("reset-me")) as client:
            await write_and_read(client, "reset-me")
        async with http_client(url, tenant_token("keep-me")) as client:
            await write_and_read(client, "keep-me")
        async with httpx2.AsyncClient(base_url=sandbox.base_url) as control:
            answer = (await control.post("/_sandbox/reset", json={"tenant": "reset-me"})).json()
            by_query = (await control.post("/_sandbox/reset?tenant=nobody-yet")).json()
        async with http_client(url, tenant_token("reset-me")) as client:
            # Back to never seen: no connection until it ensures one, then a fresh world.
            before_ensuring = await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}})
            assert ok(await call(client, "ensure_connection"))["state"] == "READY"
            after = await proxy(client, "/1/profile.json?identity=episode-user")
        async with http_client(url, tenant_token("keep-me")) as client:
            kept = await proxy(client, "/1/profile.json?identity=episode-user")
    assert answer == {"status": "reset", "tenant": "reset-me"}
    assert by_query == {"status": "reset", "tenant": "nobody-yet"}
    assert before_ensuring.is_error
    assert after["status"] == "fail"
    assert kept["record"]["profileData"]["Name"] == "keep-me"


async def test_a_tenants_world_is_reachable_directly_at_its_own_address(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(clock=CLOCK)
    record = {"type": "profile", "identity": "direct-user", "profileData": {"Name": "Direct"}}
    base = f"{sandbox.base_url}/clevertap/tenant/{tenant_segment('direct tenant/ü')}/eu1"
    async with httpx2.AsyncClient(headers=AUTH) as http:
        uploaded = (await http.post(f"{base}/1/upload", json={"d": [record]})).json()
        unknown = await http.get(f"{sandbox.base_url}/clevertap/tenant/%%%/eu1/1/profile.json?identity=x")
    world = world_of(sandbox, "direct tenant/ü").account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
    own = own_world(sandbox).account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
    assert uploaded["status"] == "success"
    assert world is not None and world.find(identity="direct-user") is not None
    assert own is not None and own.find(identity="direct-user") is None
    assert unknown.status_code == 404
    assert unknown.json() == {"status": "fail", "error": "Not Found", "code": 404}


async def test_a_clevertap_fault_hits_a_tenants_world_by_its_region_and_path(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True, clock=CLOCK)
    fault = {"side": "clevertap", "kind": "status", "status": 503, "path": "/1/now.json", "region": "eu1"}
    async with http_server(sandbox) as url, httpx2.AsyncClient(base_url=sandbox.base_url) as control:
        assert (await control.post("/_sandbox/faults", json=fault)).status_code == 201
        async with http_client(url, tenant_token("faulted")) as client:
            await call(client, "ensure_connection")
            result = ok(await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}))
        pending = (await control.get("/_sandbox/faults")).json()["items"]
    assert result["status"] == 503
    assert pending == []


def test_a_new_tenants_world_shares_the_seeded_data_until_its_first_write() -> None:
    worlds = TenantWorlds(SandboxSettings(clock=CLOCK))
    first, second = worlds.world_for("t-1"), worlds.world_for("t-2")
    one = first.account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
    two = second.account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
    assert one is two
    assert first.shares_template
    changed = first.writable_account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
    assert changed is not None and changed is not one
    changed.profiles.clear()
    assert not first.shares_template
    assert second.shares_template
    assert two is not None and len(two.profiles) == SandboxSettings().profiles


@pytest.mark.parametrize(("tenant_seeds", "alike"), [("shared", True), ("per-tenant", False)])
def test_tenant_seeds_decide_whether_tenants_start_from_the_same_data(
    tenant_seeds: Literal["shared", "per-tenant"], alike: bool
) -> None:
    worlds = TenantWorlds(SandboxSettings(clock=CLOCK, tenant_seeds=tenant_seeds))

    def emails(tenant: str) -> list[str]:
        account = worlds.world_for(tenant).account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
        assert account is not None
        return [str(p.data.get("Email")) for p in account.profiles.values()]

    assert (emails("t-1") == emails("t-2")) is alike
    assert emails("t-1") == emails("t-1")  # the same tenant gets the same world back


def test_past_the_memory_cap_the_least_recently_used_idle_worlds_are_dropped() -> None:
    # Room for about two written worlds of 200 profiles.
    worlds = TenantWorlds(SandboxSettings(clock=CLOCK, tenant_worlds_mib=0.5))
    busy = worlds.entry("busy")
    busy.in_flight = 1
    for tenant in ("busy", "w-1", "w-2", "w-3", "w-4"):
        worlds.world_for(tenant).writable_account(DEMO_CLEVERTAP_REGION, DEMO_CLEVERTAP_ACCOUNT_ID)
    worlds.world_for("w-5")
    assert worlds.estimated_bytes() <= 512 * 1024
    assert worlds.entry("busy") is busy  # in flight: never dropped
    assert worlds.evicted >= 2
    assert worlds.world_for("w-1").shares_template  # dropped, then made afresh


async def test_a_forgotten_tenants_ids_are_never_given_to_another_connection(sandbox: SandboxServer) -> None:
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as control:

        async def connect(tenant: str) -> str:
            made = await control.post("/_sandbox/connections", json={"tenantKey": tenant})
            assert made.status_code == 201
            return str(made.json()["id"])

        first, second = await connect("forget-a"), await connect("forget-b")
        await control.post("/_sandbox/reset", json={"tenant": "forget-a"})
        again = await connect("forget-a")
    assert len({first, second, again}) == 3
