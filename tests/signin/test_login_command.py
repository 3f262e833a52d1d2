"""`clevertap-mcp login` and `logout` as real processes against a real sandbox: the headless code flow, logout's
revocation, the Membrane CLI import, and the failures a person can meet."""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.signin.store import TokenStore

from helpers import control
from login_support import command_env, finish, read_until_url, run_command, start
from oauth_support import browser_signin

pytestmark = pytest.mark.anyio


def stored(config_dir: Path) -> dict[str, Any]:
    return json.loads((config_dir / "credentials.json").read_text())["sign_ins"]


async def headless_login(sandbox: SandboxServer, config_dir: Path, *, paste: Callable[[str], str]) -> tuple[int, str]:
    process = await start(["login", "--no-browser"], command_env(sandbox.base_url, config_dir))
    seen: list[str] = []
    async with process:
        url = await read_until_url(process, seen)
        redirect = (await browser_signin(url)).headers["location"]
        assert process.stdin is not None
        await process.stdin.send((paste(redirect) + "\n").encode())
        status = await finish(process, seen)
    return status, "".join(seen)


async def test_headless_login_takes_the_pasted_address_and_stores_the_sign_in_for_the_user_only(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    config_dir = tmp_path / "config"
    status, output = await headless_login(sandbox, config_dir, paste=lambda redirect: redirect)
    assert status == 0, output
    assert "Paste that whole address, or just its code" in output
    assert "Signed in to Membrane as demo@sandbox.test, workspace sandbox-workspace, tenant sandbox-tenant." in output
    record = stored(config_dir)[sandbox.base_url]
    assert record["kind"] == "oauth"
    assert record["access_token"] not in output and record["refresh_token"] not in output
    assert stat.S_IMODE((config_dir / "credentials.json").stat().st_mode) == 0o600


async def test_headless_login_takes_the_code_alone(sandbox: SandboxServer, tmp_path: Path) -> None:
    def code_only(redirect: str) -> str:
        return dict(httpx2.URL(redirect).params)["code"]

    status, output = await headless_login(sandbox, tmp_path / "config", paste=code_only)
    assert status == 0, output


async def test_a_pasted_address_of_another_sign_in_is_refused(sandbox: SandboxServer, tmp_path: Path) -> None:
    status, output = await headless_login(sandbox, tmp_path / "config", paste=lambda r: r.replace("state=", "state=x"))
    assert status == 1
    assert "belongs to another sign-in" in output
    assert not (tmp_path / "config" / "credentials.json").exists()


async def test_doctor_shows_who_is_signed_in_and_until_when_never_a_token(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    config_dir = tmp_path / "config"
    assert (await headless_login(sandbox, config_dir, paste=lambda r: r))[0] == 0
    status, output = await run_command(["doctor"], command_env(sandbox.base_url, config_dir))
    record = stored(config_dir)[sandbox.base_url]
    assert (
        "✓ Credentials: signed in as demo@sandbox.test, workspace sandbox-workspace, tenant sandbox-tenant "
        "(clevertap-mcp login)"
    ) in output
    assert "renewed automatically with the stored sign-in" in output
    assert f"✓ Membrane API: {sandbox.base_url} answers and accepts the token" in output
    assert record["access_token"] not in output and record["refresh_token"] not in output
    assert status == 1  # no CleverTap connection yet: the last check says how to make one


async def test_logout_revokes_at_membrane_and_deletes_the_store(sandbox: SandboxServer, tmp_path: Path) -> None:
    config_dir = tmp_path / "config"
    status, output = await headless_login(sandbox, config_dir, paste=lambda r: r)
    assert status == 0, output
    status, output = await run_command(["logout"], command_env(sandbox.base_url, config_dir))
    assert status == 0, output
    assert "Signed out of Membrane (demo@sandbox.test, workspace sandbox-workspace, tenant sandbox-tenant" in output
    assert "Its tokens were revoked at Membrane." in output
    assert not (config_dir / "credentials.json").exists()
    sign_ins = await control(sandbox, "GET", "/oauth/sign-ins")
    assert [s["revoked"] for s in sign_ins["items"]] == [True]
    again = await run_command(["logout"], command_env(sandbox.base_url, config_dir))
    assert again == (0, f"Not signed in to {sandbox.base_url}: nothing to remove.\n")


async def test_login_says_so_and_stores_nothing_when_the_api_refuses_third_party_tokens(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(oauth_client_tokens_on_rest=False)
    status, output = await headless_login(sandbox, tmp_path / "config", paste=lambda r: r)
    assert status == 1
    assert "Membrane's API does not accept the token it issued to this app" in output
    assert "--from-membrane-cli" in output
    assert not (tmp_path / "config" / "credentials.json").exists()
    sign_ins = await control(sandbox, "GET", "/oauth/sign-ins")
    assert [s["revoked"] for s in sign_ins["items"]] == [True]


FAKE_MEMBRANE = """#!{python}
import json, sys
assert sys.argv[1:] == ["credentials", "--json"], sys.argv
print(json.dumps({{"apiUri": "{api}", "workspaceKey": "sandbox-workspace", "workspaceSecret": "sandbox-secret",
                  "tenantKey": "cli-tenant"}}))
"""


async def test_login_from_membrane_cli_stores_its_workspace_secret_and_says_so(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "membrane"
    fake.write_text(FAKE_MEMBRANE.format(python=sys.executable, api=sandbox.base_url))
    fake.chmod(0o755)
    config_dir = tmp_path / "config"
    env = command_env(sandbox.base_url, config_dir)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    del env["MEMBRANE_API_URL"]  # the API URL comes from what the Membrane CLI printed
    status, output = await run_command(["login", "--from-membrane-cli"], env)
    assert status == 0, output
    assert "this stores the workspace SECRET" in output
    assert "sandbox-secret" not in output
    loaded = TokenStore(config_dir, use_keyring="file").load(sandbox.base_url)
    assert loaded is not None
    assert (loaded.kind, loaded.workspace_key, loaded.tenant_key) == (
        "workspace-secret",
        "sandbox-workspace",
        "cli-tenant",
    )
    status, output = await run_command(["doctor"], env | {"MEMBRANE_API_URL": sandbox.base_url})
    assert "✓ Credentials: token minted from workspace key 'sandbox-workspace', tenant 'cli-tenant'" in output
    assert f"✓ Membrane API: {sandbox.base_url} answers and accepts the token" in output


async def test_login_from_membrane_cli_without_the_cli_says_how_to_get_it(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    env = command_env(sandbox.base_url, tmp_path / "config") | {"PATH": str(tmp_path)}
    status, output = await run_command(["login", "--from-membrane-cli"], env)
    assert status == 1
    assert "The Membrane CLI (`membrane`) is not on PATH" in output
