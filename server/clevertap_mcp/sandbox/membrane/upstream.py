"""The sandbox Membrane's way out to CleverTap: the outbound HTTP client, and where a proxied path really goes.

Membrane calls CleverTap over HTTP; so does the sandbox, to the CleverTap emulator mounted at `/clevertap` in the same
app (`clevertap_base_url(root, region)`). The client is opened in the app's lifespan. Its transport is the network
(loopback) by default; an in-process app passes a factory such as `httpx2.ASGITransport`, which gets the sandbox app
itself, so the calls stay in the process.

Where a proxy path goes (membrane-api.md §9):
- A relative path is appended to the connection's regional base URL. Dot segments are resolved first and cannot
  climb above that base: on real CleverTap there is nothing above it, and here it would reach the Membrane routes.
- A full URL (any `scheme:`, or a protocol-relative `//host/...`) whose host is an emulated CleverTap host goes to the
  emulator for that host's region (`api.clevertap.com` is Europe, `eu1`, as in clevertap-api.md §1).
- A full URL to any other host is a credential-exfiltration attempt: `ProxyTarget.foreign_host` is set and the caller
  refuses it. Nothing here ever reaches the network beyond the sandbox's own root URL.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2
from starlette.types import ASGIApp

from clevertap_mcp.sandbox.connector import CleverTapCredentials, clevertap_base_url

__all__ = ["EMULATED_HOSTS", "ProxyTarget", "TransportFactory", "Upstream", "proxy_target"]

TransportFactory = Callable[[ASGIApp], httpx2.AsyncBaseTransport]

EMULATED_HOSTS: dict[str, str] = {
    "api.clevertap.com": "eu1",
    **{f"{region}.api.clevertap.com": region for region in ("eu1", "in1", "sg1", "us1", "aps3", "mec1")},
}
# Calls to the emulator are loopback or in-process; the bound only keeps a wedged call from hanging a request.
OUTBOUND_TIMEOUT_SECONDS = 30.0
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


@dataclass(frozen=True)
class ProxyTarget:
    region: str  # the region whose emulator answers
    path: str  # starts with "/", dot segments resolved
    foreign_host: str | None = None  # set when the caller named a host that is not CleverTap


def proxy_target(raw: str, connection_region: str) -> ProxyTarget:
    """Where a proxy `{path}` (as routed, percent-decoded) is sent for a connection in `connection_region`."""
    if _SCHEME.match(raw) or raw.startswith("//"):
        url = urlsplit(("https:" + raw) if raw.startswith("//") else raw)
        host = (url.hostname or "").rstrip(".")
        region = EMULATED_HOSTS.get(host) if url.scheme.lower() in ("http", "https") else None
        if region is None:
            return ProxyTarget(connection_region, "/", foreign_host=host or url.scheme.lower() or "?")
        return ProxyTarget(region, _resolve_dots(url.path))
    return ProxyTarget(connection_region, _resolve_dots("/" + raw.lstrip("/")))


def _resolve_dots(path: str) -> str:
    segments: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if segments:
                segments.pop()
        elif segment != ".":
            segments.append(segment)
    return "/" + "/".join(segments)


class Upstream:
    """The outbound client to the CleverTap emulator, usable while `opened` is active."""

    def __init__(self, root_url: str, transport_factory: TransportFactory | None = None) -> None:
        self.root_url = root_url.rstrip("/")
        self._transport_factory = transport_factory
        self._client: httpx2.AsyncClient | None = None

    def base_url(self, region: str) -> str:
        return clevertap_base_url(self.root_url, region)

    @property
    def client(self) -> httpx2.AsyncClient:
        if self._client is None:
            raise RuntimeError("The sandbox's outbound client is closed: run the app inside its lifespan")
        return self._client

    @asynccontextmanager
    async def opened(self, app: ASGIApp) -> AsyncGenerator[None]:
        transport = self._transport_factory(app) if self._transport_factory is not None else None
        # trust_env=False: proxy variables of the environment must never route sandbox traffic off the machine.
        async with httpx2.AsyncClient(transport=transport, timeout=OUTBOUND_TIMEOUT_SECONDS, trust_env=False) as client:
            self._client = client
            try:
                yield
            finally:
                self._client = None

    async def credentials_work(self, credentials: CleverTapCredentials) -> bool:
        """Whether CleverTap accepts these credentials: the cheap read-only `/1/now.json`, as a connect test.

        An unreachable CleverTap counts as a refusal: the user can only try again, so the page says so.
        """
        try:
            response = await self.client.post(
                f"{self.base_url(credentials.region)}/1/now.json",
                headers={
                    "X-CleverTap-Account-Id": credentials.account_id,
                    "X-CleverTap-Passcode": credentials.passcode,
                    "Content-Type": "application/json",
                },
                content=b"{}",
            )
        except httpx2.HTTPError:
            return False
        return response.status_code == 200
