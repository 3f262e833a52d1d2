"""The seed, size and clock flags: `clevertap-mcp sandbox --seed/--profiles/--clock` and the stdio `--sandbox-*` ones."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import httpx2
import pytest
from anyio.streams.text import TextReceiveStream
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from clevertap_mcp.cli import main
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE

from helpers import call, ok
from leakcheck import WRITTEN

pytestmark = pytest.mark.anyio

AUTH = {"X-CleverTap-Account-Id": DEMO_CLEVERTAP_ACCOUNT_ID, "X-CleverTap-Passcode": DEMO_CLEVERTAP_PASSCODE}
PINNED = 1767607200  # 2026-01-05T10:00:00Z


async def test_the_sandbox_command_seeds_the_requested_size_on_the_pinned_clock() -> None:
    command = [sys.executable, "-m", "clevertap_mcp", "sandbox", "--port", "0", "--seed", "3", "--profiles", "12"]
    command += ["--clock", "2026-01-05T10:00:00Z", "--set", "user_not_found_error=Nobody by that identity"]
    async with await anyio.open_process(command) as process:
        assert process.stdout is not None
        try:
            with anyio.fail_after(30):
                banner = ""
                async for chunk in TextReceiveStream(process.stdout):
                    banner += chunk
                    if "\n" in banner:
                        break
            base_url = banner.split("listening on ", 1)[1].split()[0]
            async with httpx2.AsyncClient(base_url=f"{base_url}/clevertap/eu1", headers=AUTH) as http:
                now = (await http.post("/1/now.json", json={})).json()
                last = (await http.get("/1/profile.json", params={"identity": "u-1012"})).json()
                beyond = (await http.get("/1/profile.json", params={"identity": "u-1013"})).json()
        finally:
            process.terminate()
    assert now["last_processed_ts"] == PINNED
    assert last["status"] == "success"
    assert beyond["error"] == "Nobody by that identity"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sandbox", "--clock", "yesterday"], "is not a time: give epoch seconds"),
        (["sandbox", "--profiles", "0"], "is not a number of profiles"),
        (["--sandbox-seed", "3"], "need --sandbox"),
        (["--sandbox", "--sandbox-clock", "2026-13-01"], "is not a time"),
        (["--sandbox-set", "seed=3"], "need --sandbox"),
    ],
    ids=["bad-clock", "zero-profiles", "seed-without-sandbox", "impossible-date", "set-without-sandbox"],
)
def test_bad_seeding_flags_stop_with_a_message_saying_what_to_give(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert expected in capsys.readouterr().err


@pytest.mark.stdio
async def test_the_stdio_server_passes_its_sandbox_flags_to_the_embedded_sandbox(tmp_path: Path) -> None:
    args = [
        "-m",
        "clevertap_mcp",
        "--sandbox-auto-connect",
        "--sandbox-profiles",
        "12",
        "--sandbox-clock",
        "1767607200",
        "--sandbox-set",
        "user_not_found_code=4040",
    ]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(tmp_path))}
    params = StdioServerParameters(command=sys.executable, args=args, env=env)
    errlog_path = tmp_path / "stderr.log"
    try:
        with errlog_path.open("w") as errlog, anyio.fail_after(30):
            async with Client(stdio_client(params, errlog=errlog), mode="legacy") as client:
                assert ok(await call(client, "ensure_connection"))["state"] == "READY"
                now = ok(await call(client, "proxy_request", {"path": "/1/now.json", "method": "POST", "body": {}}))
                beyond = ok(await call(client, "proxy_request", {"path": "/1/profile.json?identity=u-1013"}))
    finally:
        WRITTEN.append(errlog_path.read_text())
    assert now["body"]["last_processed_ts"] == PINNED
    assert beyond["body"]["error"] == "User not found"
    assert beyond["body"]["code"] == 4040
