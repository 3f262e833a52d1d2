"""Token sources: the SDK-compatible HS256 mint and static tokens."""

from __future__ import annotations

import jwt
import pytest

from clevertap_mcp import redaction
from clevertap_mcp.membrane.auth import KEPT_MINTED_TOKENS, TOKEN_TTL_SECONDS, MintedToken, StaticToken


def test_minted_token_has_exactly_the_sdk_claims() -> None:
    token = MintedToken(
        "ws-key", "ws-secret-value-long-enough-for-hs256", "tenant-1", clock=lambda: 1_700_000_000.0
    ).token()
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token, "ws-secret-value-long-enough-for-hs256", algorithms=["HS256"], options={"verify_exp": False}
    )
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims == {"iss": "ws-key", "id": "tenant-1", "exp": 1_700_000_000 + TOKEN_TTL_SECONDS}


def test_minted_token_without_tenant_is_workspace_level() -> None:
    token = MintedToken("ws-key", "ws-secret-value-long-enough-for-hs256", clock=lambda: 1_700_000_000.0).token()
    claims = jwt.decode(
        token, "ws-secret-value-long-enough-for-hs256", algorithms=["HS256"], options={"verify_exp": False}
    )
    assert "id" not in claims


@pytest.mark.parametrize(
    ("elapsed", "reminted"), [(0, False), (TOKEN_TTL_SECONDS - 61, False), (TOKEN_TTL_SECONDS - 60, True)]
)
def test_minted_token_is_reminted_when_60_seconds_or_less_remain(elapsed: int, reminted: bool) -> None:
    now = [1_700_000_000.0]
    source = MintedToken("ws", "secret-value", "t", clock=lambda: now[0])
    first = source.token()
    now[0] += elapsed
    assert (source.token() != first) is reminted


def test_reprs_never_show_token_or_secret() -> None:
    minted = MintedToken("ws", "super-secret-value", "t")
    minted.token()
    static = StaticToken("tok-abcdef-123", origin="MEMBRANE_TOKEN")
    assert "super-secret-value" not in repr(minted) and "super-secret-value" not in minted.description
    assert "tok-abcdef-123" not in repr(static) and "tok-abcdef-123" not in static.description
    assert static.description == "static token from MEMBRANE_TOKEN"


def test_reminting_after_every_refusal_keeps_only_the_latest_tokens_redacted() -> None:
    seconds = iter(range(1_767_607_200, 1_767_607_300))  # one request a second, each minting a distinct token
    source = MintedToken("ws-key", "ws-secret-for-remint-test", "tenant", clock=lambda: float(next(seconds)))
    minted: list[str] = []
    for _ in range(50):  # a wrong secret: every request gets a 401 and mints again
        minted.append(source.token())
        assert source.invalidate()
    assert len(set(minted)) == len(minted)
    registered = redaction.registered_values()
    assert set(minted[-KEPT_MINTED_TOKENS:]) <= registered
    assert not set(minted[:-KEPT_MINTED_TOKENS]) & registered
    assert "ws-secret-for-remint-test" in registered
