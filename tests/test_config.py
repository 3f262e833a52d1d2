"""Settings resolution: which credential wins, and what the server says when there is none."""

from __future__ import annotations

import pytest

from clevertap_mcp.config import (
    NO_CREDENTIALS,
    api_url_problem,
    resolve_api_url,
    resolve_credentials,
    settings_from_env,
)
from clevertap_mcp.membrane.auth import MintedToken, StaticToken
from clevertap_mcp.sandbox.settings import SandboxSettings


def test_workspace_key_and_secret_win_over_a_token() -> None:
    source, problem = resolve_credentials(
        {"MEMBRANE_WORKSPACE_KEY": "k", "MEMBRANE_WORKSPACE_SECRET": "s-123456", "MEMBRANE_TOKEN": "tok-123456"}
    )
    assert isinstance(source, MintedToken) and problem is None


def test_membrane_token_then_access_token() -> None:
    source, _ = resolve_credentials({"MEMBRANE_TOKEN": "tok-first-1", "MEMBRANE_ACCESS_TOKEN": "tok-second-2"})
    assert isinstance(source, StaticToken) and source.token() == "tok-first-1"
    source, _ = resolve_credentials({"MEMBRANE_ACCESS_TOKEN": "tok-second-2"})
    assert isinstance(source, StaticToken) and source.description == "static token from MEMBRANE_ACCESS_TOKEN"


def test_no_credentials_names_every_variable_and_the_sandbox() -> None:
    source, problem = resolve_credentials({"MEMBRANE_TOKEN": "  "})
    assert source is None and problem == NO_CREDENTIALS
    for name in ("MEMBRANE_TOKEN", "MEMBRANE_WORKSPACE_KEY", "MEMBRANE_WORKSPACE_SECRET", "--sandbox"):
        assert name in NO_CREDENTIALS


def test_a_key_without_its_secret_names_the_missing_variable() -> None:
    source, problem = resolve_credentials({"MEMBRANE_WORKSPACE_KEY": "k"})
    assert source is None and problem is not None and "MEMBRANE_WORKSPACE_SECRET is not set" in problem


def test_api_url_precedence_and_trailing_slash() -> None:
    assert resolve_api_url({}) == "https://api.getmembrane.com"
    assert resolve_api_url({"MEMBRANE_API_URI": "http://b/"}) == "http://b"
    assert resolve_api_url({"MEMBRANE_API_URL": "http://a/", "MEMBRANE_API_URI": "http://b"}) == "http://a"


def test_sandbox_mode_never_uses_the_real_credentials() -> None:
    settings = settings_from_env({"MEMBRANE_TOKEN": "tok-real-123456"}, sandbox=SandboxSettings())
    assert isinstance(settings.token_source, MintedToken)
    assert "sandbox-workspace" in settings.token_source.description


@pytest.mark.parametrize(
    "url", ["api.getmembrane.com", "htps://api.getmembrane.com", "http://[::1", "https://", "ftp://x"]
)
def test_an_unusable_api_url_is_reported_naming_the_variable(url: str) -> None:
    settings = settings_from_env({"MEMBRANE_API_URL": url, "MEMBRANE_TOKEN": "tok-123456"})
    assert settings.token_source is None
    assert settings.credentials_problem is not None
    assert "MEMBRANE_API_URL" in settings.credentials_problem


def test_a_usable_api_url_passes() -> None:
    assert api_url_problem("http://127.0.0.1:8787") is None
    assert api_url_problem("https://api.getmembrane.com") is None
