"""Where the Membrane bearer token comes from.

Three sources (membrane-api.md §2): a static token used as is, or an HS256 JWT minted from a workspace key and secret
exactly as the official SDK mints it (`{id: tenantKey, iss: workspaceKey, exp: now+3600}`), minted again when 60 s
or less remain; and an OAuth access token from signing in (§11), renewed over the network (`OAuthToken`, used through
`bearer`). Token values live only inside these objects: `repr` and `str` never show them, and every value is
registered with `redaction.register` so that no log line can carry it either.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Protocol

import anyio

from clevertap_mcp import redaction

TOKEN_TTL_SECONDS = 3600
TOKEN_MINT_THRESHOLD_SECONDS = 60
KEPT_MINTED_TOKENS = 2


class TokenSource(Protocol):
    def token(self) -> str:
        """The bearer token to send now."""
        ...

    def invalidate(self) -> bool:
        """Forget the current token after a 401. True when a fresh token can be had (a retry may help)."""
        ...

    @property
    def description(self) -> str:
        """Where the token comes from, for diagnostics; never the token itself."""
        ...


class StaticToken:
    """A bearer token from the environment (MEMBRANE_TOKEN / MEMBRANE_ACCESS_TOKEN); never refreshed."""

    def __init__(
        self,
        value: str,
        *,
        origin: str,
        process_wide: bool = True,
        on_rejected: Callable[[], None] | None = None,
    ) -> None:
        """`process_wide=False` for an HTTP caller's token: its own requests mask it (http.py), nothing else does."""
        self._value = value
        self._origin = origin
        self._registered = process_wide
        # Told when Membrane answers 401 to it (http.py then asks an OAuth caller for a fresh one).
        self._on_rejected = on_rejected
        if process_wide:
            redaction.register(value)

    def token(self) -> str:
        return self._value

    def invalidate(self) -> bool:
        if self._on_rejected is not None:
            self._on_rejected()
        return False

    def forget(self) -> None:
        """Its holder drops it for good (an HTTP caller evicted from the cache): logs need not redact it any more
        on its behalf."""
        if self._registered:
            self._registered = False
            redaction.unregister(self._value)

    @property
    def description(self) -> str:
        return f"static token from {self._origin}"

    def __repr__(self) -> str:
        return f"StaticToken(origin={self._origin!r})"


class MintedToken:
    """An HS256 JWT minted from the workspace key and secret, as @membranehq/sdk does."""

    def __init__(
        self,
        workspace_key: str,
        workspace_secret: str,
        tenant_key: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._workspace_key = workspace_key
        self._secret = workspace_secret
        self._tenant_key = tenant_key
        self._clock = clock
        self._value: str | None = None
        self._expires_at = 0.0
        self._minted: list[str] = []
        redaction.register(workspace_secret)

    def token(self) -> str:
        now = self._clock()
        if self._value is None or self._expires_at - now <= TOKEN_MINT_THRESHOLD_SECONDS:
            self._mint(now)
        assert self._value is not None
        return self._value

    def _mint(self, now: float) -> None:
        exp = int(now) + TOKEN_TTL_SECONDS
        claims: dict[str, object] = {"iss": self._workspace_key, "exp": exp}
        if self._tenant_key:
            claims["id"] = self._tenant_key
        # Imported on first mint: pyjwt loads `cryptography`, start-up time a server given a plain token never needs.
        import jwt
        from jwt.warnings import InsecureKeyLengthWarning

        with warnings.catch_warnings():
            # Membrane chooses workspace secrets, not us; a short one is still the one that signs.
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            self._value = jwt.encode(claims, self._secret, algorithm="HS256")
        self._expires_at = float(exp)
        redaction.register(self._value)
        # Tokens minted before the last two are expired or were refused: let them go, so a server that remints
        # hourly, or after every 401 when its secret is wrong, does not grow the redaction list without bound.
        self._minted.append(self._value)
        while len(self._minted) > KEPT_MINTED_TOKENS:
            redaction.unregister(self._minted.pop(0))

    def invalidate(self) -> bool:
        self._value = None
        return True

    @property
    def expires_at(self) -> float | None:
        return self._expires_at if self._value is not None else None

    @property
    def workspace_level(self) -> bool:
        """Minted without a tenant key: a token that names no tenant (membrane-api.md §11 R4)."""
        return not self._tenant_key

    @property
    def description(self) -> str:
        tenant = f", tenant {self._tenant_key!r}" if self._tenant_key else " (workspace-level, no tenant key)"
        return f"token minted from workspace key {self._workspace_key!r}{tenant}"

    def __repr__(self) -> str:
        return f"MintedToken(workspace_key={self._workspace_key!r}, tenant_key={self._tenant_key!r})"


# An OAuth access token this close to expiry is renewed before it is sent (the SDK re-mints at the same margin).
OAUTH_RENEW_THRESHOLD_SECONDS = TOKEN_MINT_THRESHOLD_SECONDS

Renew = Callable[[str], Awaitable[tuple[str, float | None]]]


class OAuthToken:
    """An access token from signing in (membrane-api.md §11), renewed with no user step: before it expires, and once
    after a 401. `renew(current)` answers a fresh token and its expiry (signin/session.py refreshes and stores it),
    or raises CredentialsError when only signing in again can help."""

    def __init__(
        self,
        access_token: str,
        expires_at: float | None,
        renew: Renew,
        *,
        description: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._value = access_token
        self._expires_at = expires_at
        self._renew = renew
        self._description = description
        self._clock = clock
        self._stale = False
        self._lock = anyio.Lock()
        redaction.register(access_token)

    def token(self) -> str:
        return self._value

    def _due(self) -> bool:
        if self._stale:
            return True
        return self._expires_at is not None and self._expires_at - self._clock() <= OAUTH_RENEW_THRESHOLD_SECONDS

    async def prepare(self) -> None:
        """Renew the token now if it is due; concurrent callers share one renewal."""
        if not self._due():
            return
        async with self._lock:
            if not self._due():
                return  # another caller renewed it while this one waited
            value, expires_at = await self._renew(self._value)
            if value != self._value:
                redaction.register(value)
                redaction.unregister(self._value)
            self._value, self._expires_at, self._stale = value, expires_at, False

    def invalidate(self) -> bool:
        self._stale = True
        return True

    @property
    def expires_at(self) -> float | None:
        return self._expires_at

    @property
    def description(self) -> str:
        return self._description

    def __repr__(self) -> str:
        return f"OAuthToken({self._description!r})"


async def bearer(source: TokenSource) -> str:
    """The token to send now, renewed first where its source renews tokens over the network."""
    if isinstance(source, OAuthToken):
        await source.prepare()
    return source.token()
