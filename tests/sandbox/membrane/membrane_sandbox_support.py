"""Helpers of the Membrane sandbox tests: minting tokens and opening an in-process sandbox over ASGITransport."""

from __future__ import annotations

import time
import warnings
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
import jwt
from starlette.applications import Starlette

from clevertap_mcp.sandbox.app import SandboxParts, build_sandbox_app, parts_of
from clevertap_mcp.sandbox.settings import DEMO_TENANT_KEY, DEMO_WORKSPACE_KEY, DEMO_WORKSPACE_SECRET, SandboxSettings

ROOT = "http://sandbox.test"
# 2026-01-05T10:00:00Z, the date of the contract's examples.
PINNED_CLOCK = 1767607200.0


def sign(claims: dict[str, Any], secret: str = DEMO_WORKSPACE_SECRET, algorithm: str = "HS256") -> str:
    """A JWT of `claims`, HMAC-signed."""
    with warnings.catch_warnings():
        # The demo workspace secret is shorter than PyJWT recommends; that is the published demo value.
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(claims, secret, algorithm=algorithm)


def sdk_token(tenant: str | None = DEMO_TENANT_KEY, *, secret: str = DEMO_WORKSPACE_SECRET, **extra: Any) -> str:
    """A token as the SDK mints it (membrane-api.md §2.2): {id, iss, exp}, HS256."""
    claims: dict[str, Any] = {"iss": DEMO_WORKSPACE_KEY, "exp": int(time.time()) + 3600, **extra}
    if tenant is not None:
        claims["id"] = tenant
    return sign(claims, secret)


def docs_token(tenant: str = DEMO_TENANT_KEY, *, algorithm: str = "HS512", **extra: Any) -> str:
    """A token in the docs form (§2.3): {workspaceKey, tenantKey, exp}."""
    claims = {"workspaceKey": DEMO_WORKSPACE_KEY, "tenantKey": tenant, "exp": int(time.time()) + 3600, **extra}
    return sign(claims, algorithm=algorithm)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class InProcessSandbox:
    app: Starlette
    client: httpx2.AsyncClient  # carries the demo tenant's token

    @property
    def parts(self) -> SandboxParts:
        return parts_of(self.app)

    def client_for(self, token: str | None) -> httpx2.AsyncClient:
        """Another client of the same app; with `token=None` it sends no Authorization header."""
        headers = bearer(token) if token is not None else {}
        return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=self.app), base_url=ROOT, headers=headers)

    async def ready_connection(self, tenant: str = DEMO_TENANT_KEY, **fields: Any) -> dict[str, Any]:
        response = await self.client.post("/_sandbox/connections", json={"tenantKey": tenant, **fields})
        assert response.status_code == 201, response.text
        return response.json()

    async def force_state(self, conn_id: str, **body: Any) -> dict[str, Any]:
        response = await self.client.post(f"/_sandbox/connections/{conn_id}/state", json=body)
        assert response.status_code == 200, response.text
        return response.json()


@asynccontextmanager
async def open_sandbox(settings: SandboxSettings) -> AsyncGenerator[InProcessSandbox]:
    """The sandbox app in this process, its lifespan entered, its CleverTap reached in-process too."""
    app = build_sandbox_app(settings, root_url=ROOT, outbound_transport=httpx2.ASGITransport)
    async with app.router.lifespan_context(app):
        client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=ROOT, headers=bearer(sdk_token()))
        async with client:
            yield InProcessSandbox(app, client)
