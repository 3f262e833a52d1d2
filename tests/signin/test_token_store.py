"""The token store: the OS keyring when one is usable (tokens there, only who-is-signed-in in the file), else the
0600 file; and where it lives."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from clevertap_mcp.signin.store import SignIn, StoreError, TokenStore, config_dir, store_from_env

SIGN_IN = SignIn(
    api_url="http://membrane.test",
    kind="oauth",
    client_id="client_1",
    access_token="mbr_at_ACCESS-0123456789",
    refresh_token="mbr_rt_REFRESH-0123456789",
    expires_at=2_000_000_000.0,
    workspace_key="ws",
    tenant_key="tn",
    email="person@example.test",
)


class SecretService:
    """Stands in for a real OS keyring backend (what `keyring.get_keyring()` answers on a desktop)."""

    priority = 5

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], str] = {}


@pytest.fixture
def keyring(monkeypatch: pytest.MonkeyPatch) -> SecretService:
    backend = SecretService()
    module = types.ModuleType("keyring")
    module.get_keyring = lambda: backend  # type: ignore[attr-defined]
    module.get_password = lambda service, user: backend.entries.get((service, user))  # type: ignore[attr-defined]

    def set_password(service: str, user: str, value: str) -> None:
        backend.entries[(service, user)] = value

    def delete_password(service: str, user: str) -> None:
        del backend.entries[(service, user)]

    module.set_password = set_password  # type: ignore[attr-defined]
    module.delete_password = delete_password  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", module)
    return backend


def test_with_a_usable_keyring_the_tokens_go_there_and_the_file_only_says_who(
    keyring: SecretService, tmp_path: Path
) -> None:
    store = TokenStore(tmp_path)
    store.save(SIGN_IN)
    text = store.path.read_text()
    assert SIGN_IN.access_token is not None and SIGN_IN.access_token not in text
    assert SIGN_IN.refresh_token is not None and SIGN_IN.refresh_token not in text
    assert '"secrets_in": "keyring"' in text and "person@example.test" in text
    assert store.where == "the OS keyring"
    assert store.load(SIGN_IN.api_url) == SIGN_IN
    assert store.delete(SIGN_IN.api_url)
    assert keyring.entries == {}
    assert not store.path.exists()


def test_a_keyring_that_lost_the_tokens_says_to_sign_in_again(keyring: SecretService, tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.save(SIGN_IN)
    keyring.entries.clear()
    with pytest.raises(StoreError, match=r"OS keyring, which does not have them .*clevertap-mcp login"):
        store.load(SIGN_IN.api_url)


def test_without_a_keyring_the_file_holds_everything_for_the_user_alone(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "dir", use_keyring="auto")
    store.save(SIGN_IN)
    assert store.where == str(store.path)
    assert store.load(SIGN_IN.api_url) == SIGN_IN
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"


def test_asking_for_the_keyring_where_there_is_none_is_an_error_that_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no usable OS keyring"):
        TokenStore(tmp_path, use_keyring="keyring").save(SIGN_IN)
    with pytest.raises(StoreError, match="CLEVERTAP_MCP_TOKEN_STORE must be one of auto, file, keyring"):
        store_from_env({"HOME": str(tmp_path), "CLEVERTAP_MCP_TOKEN_STORE": "vault"})


def test_the_store_lives_in_the_users_config_directory() -> None:
    assert config_dir({"HOME": "/h"}) == Path("/h/.config/clevertap-mcp")
    assert config_dir({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == Path("/x/clevertap-mcp")
    assert config_dir({"HOME": "/h", "CLEVERTAP_MCP_CONFIG_DIR": "/c"}) == Path("/c")
    assert config_dir({}) is None


def test_sign_ins_of_two_api_urls_are_kept_apart(tmp_path: Path) -> None:
    store = TokenStore(tmp_path, use_keyring="file")
    other = SignIn(api_url="http://other.test", kind="workspace-secret", workspace_key="w2", workspace_secret="s" * 12)
    store.save(SIGN_IN)
    store.save(other)
    assert store.delete(SIGN_IN.api_url)
    assert store.load(SIGN_IN.api_url) is None
    assert store.load(other.api_url) == other
    assert repr(other).count("sss") == 0  # repr never shows a secret
