"""A stored sign-in drives the real server: renewed before expiry and after a 401 with no user step; a revoked or
unusable one says how to sign in again; the store holds it readable only by its user."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest

from clevertap_mcp.config import settings_from_env
from clevertap_mcp.membrane.auth import OAuthToken
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.signin.store import StoreError, TokenStore

from helpers import call, control, error_text, mcp_client, ok
from leakcheck import WRITTEN
from oauth_support import signed_in_store

pytestmark = pytest.mark.anyio


def env_for(sandbox: SandboxServer, directory: Path) -> dict[str, str]:
    return {
        "MEMBRANE_API_URL": sandbox.base_url,
        "CLEVERTAP_MCP_CONFIG_DIR": str(directory),
        "CLEVERTAP_MCP_TOKEN_STORE": "file",
    }


def files_holding(root: Path, value: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and value.encode() in p.read_bytes()]


async def statuses(sandbox: SandboxServer) -> list[int]:
    log: dict[str, Any] = await control(sandbox, "GET", "/requests?side=membrane")
    return [entry["status"] for entry in log["items"] if entry["path"].startswith("/connections")]


async def test_the_server_uses_the_stored_sign_in_when_the_environment_sets_no_credentials(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    _, sign_in = await signed_in_store(sandbox.base_url, tmp_path)
    settings = settings_from_env(env_for(sandbox, tmp_path))
    assert isinstance(settings.token_source, OAuthToken)
    assert "demo@sandbox.test" in settings.token_source.description
    async with mcp_client(sandbox.base_url, settings.token_source) as client:
        ready = ok(await call(client, "ensure_connection"))
    assert ready["state"] == "READY"
    assert sign_in.access_token is not None
    assert not any(sign_in.access_token in text for text in WRITTEN)


async def test_environment_credentials_win_over_the_stored_sign_in(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    sandbox = sandbox_factory()
    await signed_in_store(sandbox.base_url, tmp_path)
    settings = settings_from_env(env_for(sandbox, tmp_path) | {"MEMBRANE_TOKEN": "tok-from-env-123"})
    assert settings.token_source is not None
    assert settings.token_source.description == "static token from MEMBRANE_TOKEN"


async def test_an_expired_access_token_is_renewed_after_its_401_and_the_call_succeeds(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    store, first = await signed_in_store(sandbox.base_url, tmp_path)
    settings = settings_from_env(env_for(sandbox, tmp_path))
    async with mcp_client(sandbox.base_url, settings.token_source) as client:
        ok(await call(client, "ensure_connection"))
        # Membrane's clock says the token has expired although ours does not: the 401 path.
        await control(sandbox, "POST", "/oauth/advance", {"seconds": 3601})
        found = ok(await call(client, "search_actions", {"intent": "count events"}))
    renewed = store.load(sandbox.base_url)
    assert found["actions"]
    assert renewed is not None
    assert renewed.refresh_token != first.refresh_token  # rotated, and the new one was stored
    assert renewed.access_token != first.access_token


async def test_a_token_close_to_expiry_is_renewed_before_it_is_sent(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    # 30 s of life is inside the renewal margin: every request renews first, and none meets a 401.
    sandbox = sandbox_factory(auto_connect=True, oauth_access_token_ttl=30)
    store, first = await signed_in_store(sandbox.base_url, tmp_path)
    settings = settings_from_env(env_for(sandbox, tmp_path))
    async with mcp_client(sandbox.base_url, settings.token_source) as client:
        ok(await call(client, "ensure_connection"))
    renewed = store.load(sandbox.base_url)
    assert renewed is not None and renewed.access_token != first.access_token
    assert 401 not in await statuses(sandbox)


@pytest.mark.parametrize("rotate", [True, False])
async def test_renewal_works_with_and_without_refresh_token_rotation(
    rotate: bool, sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(auto_connect=True, oauth_rotate_refresh_tokens=rotate)
    store, first = await signed_in_store(sandbox.base_url, tmp_path)
    settings = settings_from_env(env_for(sandbox, tmp_path))
    async with mcp_client(sandbox.base_url, settings.token_source) as client:
        await control(sandbox, "POST", "/oauth/advance", {"seconds": 3601})
        ok(await call(client, "ensure_connection"))
        await control(sandbox, "POST", "/oauth/advance", {"seconds": 3601})
        ok(await call(client, "ensure_connection"))
    kept = store.load(sandbox.base_url)
    assert kept is not None
    assert (kept.refresh_token != first.refresh_token) is rotate


async def test_a_revoked_sign_in_is_an_error_that_says_to_sign_in_again(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    _, sign_in = await signed_in_store(sandbox.base_url, tmp_path)
    settings = settings_from_env(env_for(sandbox, tmp_path))
    async with httpx2.AsyncClient(base_url=sandbox.base_url) as http:
        await http.post("/oauth/revoke", data={"token": sign_in.refresh_token, "client_id": sign_in.client_id})
    async with mcp_client(sandbox.base_url, settings.token_source) as client:
        text = error_text(await call(client, "ensure_connection"))
    assert "Your Membrane sign-in has expired or was revoked" in text
    assert "clevertap-mcp login" in text
    assert sign_in.access_token is not None and sign_in.access_token not in text


async def test_the_store_is_readable_only_by_its_user_and_holds_the_tokens_nowhere_else(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    sandbox = sandbox_factory()
    store, sign_in = await signed_in_store(sandbox.base_url, tmp_path / "config")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert sign_in.refresh_token is not None and sign_in.access_token is not None
    assert files_holding(tmp_path, sign_in.refresh_token) == [store.path]
    assert files_holding(tmp_path, sign_in.access_token) == [store.path]


async def test_a_store_others_can_read_is_refused_with_the_fix(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    sandbox = sandbox_factory()
    store, _ = await signed_in_store(sandbox.base_url, tmp_path)
    store.path.chmod(0o644)
    with pytest.raises(StoreError, match=r"can be read by other users .*chmod 600"):
        store.load(sandbox.base_url)
    settings = settings_from_env(env_for(sandbox, tmp_path))
    assert settings.token_source is None
    assert settings.credentials_problem is not None and "chmod 600" in settings.credentials_problem


async def test_a_store_owned_by_another_user_is_not_read(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = sandbox_factory()
    store, _ = await signed_in_store(sandbox.base_url, tmp_path)
    monkeypatch.setattr(os, "getuid", lambda: store.path.stat().st_uid + 1)
    with pytest.raises(StoreError, match="belongs to another user"):
        store.load(sandbox.base_url)


async def test_a_corrupt_store_makes_every_tool_say_which_file_and_what_to_run(
    sandbox_factory: Callable[..., SandboxServer], tmp_path: Path
) -> None:
    sandbox = sandbox_factory()
    store = TokenStore(tmp_path, use_keyring="file")
    store.directory.mkdir(exist_ok=True)
    store.path.write_text("{not json")
    store.path.chmod(0o600)
    settings = settings_from_env(env_for(sandbox, tmp_path))
    async with mcp_client(sandbox.base_url, None, credentials_problem=settings.credentials_problem) as client:
        text = error_text(await call(client, "search_actions", {"intent": "count"}))
    assert f"{store.path} is not valid JSON (corrupt)" in text
    assert "clevertap-mcp logout" in text


async def test_a_symlinked_store_is_not_followed(sandbox_factory: Callable[..., SandboxServer], tmp_path: Path) -> None:
    sandbox = sandbox_factory()
    store, _ = await signed_in_store(sandbox.base_url, tmp_path / "real")
    linked = TokenStore(tmp_path / "linked", use_keyring="file")
    linked.directory.mkdir()
    linked.path.symlink_to(store.path)
    with pytest.raises(StoreError, match="symbolic link"):
        linked.load(sandbox.base_url)
