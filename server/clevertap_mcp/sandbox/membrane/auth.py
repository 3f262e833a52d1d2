"""Bearer authentication of the sandbox's Membrane API (membrane-api.md §2).

The token comes from the `Authorization: Bearer <jwt>` header only, never from the query (§2.1). It is verified with
HS256 or HS512 against the secret of the workspace it names, and both claim styles are read (§2.3): workspace =
`workspaceKey`, else `iss`; tenant = `tenantKey`, else `id`; admin = `isAdmin is True`.

Everything else is 401 `{type: bad_request, key: not_authenticated}`: a missing or malformed header, `alg: none`,
an asymmetric algorithm (§10 #13: not emulated), a bad signature, an unknown workspace, an expired `exp`.

Open-point choices:
- A token without `exp` is accepted (§10 #14).
- `exp` is compared with the real wall clock, not the sandbox's pinned clock: clients mint tokens from the real clock
  (the SDK's `now + 3600`), so a pinned sandbox clock must not make every freshly minted token look expired.
  `authenticate` takes `now` so tests can move it without sleeping.
- A token at exactly its `exp` second is expired, as PyJWT treats it; a numeric `nbf` in the future is refused too.
- `pat-…` tokens and OAuth tokens are not emulated: they are not JWTs signed with the workspace secret, so they get 401.

No message ever contains the token or any part of it.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from clevertap_mcp.sandbox.membrane.errors import NotAuthenticated

__all__ = ["SUPPORTED_ALGORITHMS", "Principal", "authenticate"]

_DIGESTS = {"HS256": "sha256", "HS512": "sha512"}
SUPPORTED_ALGORITHMS = tuple(_DIGESTS)


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for. `tenant_key` is None for a workspace-level token."""

    workspace_key: str
    tenant_key: str | None
    is_admin: bool


def authenticate(authorization: str | None, workspaces: Mapping[str, str], *, now: float) -> Principal:
    """Verify the Authorization header against `workspaces` (workspace key → secret); raise NotAuthenticated."""
    token = _bearer_token(authorization)
    try:
        header = jwt.get_unverified_header(token)
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise NotAuthenticated("The bearer token is not a well-formed JWT") from None
    algorithm = header.get("alg")
    digest = _DIGESTS.get(algorithm) if isinstance(algorithm, str) else None
    if digest is None:
        # Covers `none` and every asymmetric algorithm; the sandbox has no registered public keys.
        raise NotAuthenticated(f"Unsupported token algorithm {str(algorithm)[:20]!r}: sign with HS256 or HS512")
    workspace_key = _claim_str(claims, "workspaceKey") or _claim_str(claims, "iss")
    if workspace_key is None:
        raise NotAuthenticated("The token names no workspace: set workspaceKey or iss")
    secret = workspaces.get(workspace_key)
    if secret is None:
        raise NotAuthenticated("The token's workspace is not known to this server")
    if not _signature_matches(token, secret, digest):
        raise NotAuthenticated("The token's signature does not match the workspace secret")
    _check_times(claims, now)
    tenant_key = _claim_str(claims, "tenantKey") or _claim_str(claims, "id")
    return Principal(workspace_key=workspace_key, tenant_key=tenant_key, is_admin=claims.get("isAdmin") is True)


def _signature_matches(token: str, secret: str, digest: str) -> bool:
    # HMAC checked here rather than by PyJWT, whose minimum-key-length warning would fire on every request for the
    # short demo secret (and silencing warnings per call is not thread-safe).
    signing_input, _, signature = token.rpartition(".")
    try:
        received = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        expected = hmac.new(secret.encode(), signing_input.encode("ascii"), digest).digest()
    except ValueError:  # binascii.Error and UnicodeEncodeError are both ValueErrors
        return False
    return hmac.compare_digest(received, expected)


def _bearer_token(authorization: str | None) -> str:
    if authorization is None or not authorization.strip():
        raise NotAuthenticated("Missing Authorization header: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise NotAuthenticated("Malformed Authorization header: expected 'Bearer <token>'")
    return token


def _check_times(claims: Mapping[str, Any], now: float) -> None:
    for name in ("exp", "nbf"):
        value = claims.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise NotAuthenticated(f"The token's {name} claim is not a number")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if exp is not None and exp <= now:
        raise NotAuthenticated("The token has expired")
    if nbf is not None and nbf > now:
        raise NotAuthenticated("The token is not valid yet (nbf)")


def _claim_str(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if isinstance(value, str) and value:
        return value
    return None
