"""The sandbox Membrane's way out to CleverTap: the outbound HTTP client, and where a proxied path really goes.

Membrane calls CleverTap over HTTP; so does the sandbox, to the CleverTap emulator mounted at `/clevertap` in the same
app (`clevertap_base_url(root, region)`). The client is opened in the app's lifespan. Its transport is the network
(loopback) by default; an in-process app passes a factory such as `httpx2.ASGITransport`, which gets the sandbox app
itself, so the calls stay in the process.

Where a proxy path goes (membrane-api.md §9):
- A relative path is appended to the connection's regional base URL. Dot segments are resolved first and cannot
  climb above that base: on real CleverTap there is nothing above it, and here it would reach the Membrane routes.
- A full URL (any `scheme:`, or a protocol-relative `//host/...`) whose host is an emulated CleverTap host goes to the
  emulator for that host's region (`api.clevertap.com` is Europe, `eu1`, as in clevertap-api.md §1), with the URL's
  own query string kept.
- A full URL to any other host is a credential-exfiltration attempt: `ProxyTarget.foreign_host` is set and the caller
  refuses it. Nothing here ever reaches the network beyond the sandbox's own root URL.
- A path no URL can carry (control characters such as NUL or a line break, or a full URL that does not parse, such
  as `http://[::1/x`) is 400 `bad_request`.

`Upstream.url` builds the outgoing URL. The path goes out percent-encoded exactly as the caller's (already decoded)
path reads, so CleverTap never decodes it a second time, and a last check (defence in depth) refuses with 400 any URL
that is not on the sandbox's own origin under `{root}/clevertap/{region}/`, even after repeated percent-decoding and
dot-segment resolution, and any region outside `REGIONS`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

import httpx2
from starlette.types import ASGIApp

from clevertap_mcp.sandbox.clevertap.regions import REGION_ALIASES, REGIONS
from clevertap_mcp.sandbox.connector import CleverTapCredentials, clevertap_base_url
from clevertap_mcp.sandbox.membrane import run_logs
from clevertap_mcp.sandbox.membrane.errors import MembraneError
from clevertap_mcp.sandbox.tenant_worlds import TENANT_SEGMENT, tenant_segment

__all__ = [
    "EMULATED_HOSTS",
    "REGIONS",
    "ProxyTarget",
    "TransportFactory",
    "Upstream",
    "credentials_problem",
    "proxy_target",
]

TransportFactory = Callable[[ASGIApp], httpx2.AsyncBaseTransport]

EMULATED_HOSTS: dict[str, str] = {
    **{f"{alias}.clevertap.com": region for alias, region in REGION_ALIASES.items()},
    **{f"{region}.api.clevertap.com": region for region in REGIONS},
}
# Calls to the emulator are loopback or in-process; the bound only keeps a wedged call from hanging a request.
OUTBOUND_TIMEOUT_SECONDS = 30.0
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# RFC 3986 pchar and "/": everything else, "%" included, is percent-encoded on the way out.
_PATH_SAFE = "/:@!$&'()*+,;=~"
_MAX_DECODES = 8
# What an account id or passcode may hold: they travel as header values, so printable ASCII without spaces.
_CREDENTIAL = re.compile(r"[!-~]{1,200}")
CLEVERTAP_MOUNT = "/clevertap"  # where app.py mounts the emulator (clevertap_base_url's own prefix)


@dataclass(frozen=True)
class ProxyTarget:
    region: str  # the region whose emulator answers
    path: str  # starts with "/", dot segments resolved
    foreign_host: str | None = None  # set when the caller named a host that is not CleverTap
    query: str = ""  # a full URL's own query string, as written


def credentials_problem(account_id: str, passcode: str, region: str) -> str | None:
    """Why these CleverTap credentials cannot be stored, or None: the region must be known, the rest sendable."""
    if region not in REGIONS:
        return f"The region must be one of {', '.join(REGIONS)}"
    if not _CREDENTIAL.fullmatch(account_id) or not _CREDENTIAL.fullmatch(passcode):
        return "The account ID and passcode must be 1 to 200 printable ASCII characters, without spaces"
    return None


def proxy_target(raw: str, connection_region: str) -> ProxyTarget:
    """Where a proxy `{path}` (as routed, percent-decoded) is sent for a connection in `connection_region`.

    400 `bad_request` for a path that cannot be a URL: control characters, or a full URL that does not parse.
    """
    if _CONTROL.search(raw):
        raise MembraneError("The proxy path must not contain control characters", data={"field": "path"})
    if _SCHEME.match(raw) or raw.startswith("//"):
        try:
            url = urlsplit(("https:" + raw) if raw.startswith("//") else raw)
            host = (url.hostname or "").rstrip(".")
        except ValueError:
            raise MembraneError("The proxy path is not a valid URL", data={"field": "path"}) from None
        region = EMULATED_HOSTS.get(host) if url.scheme.lower() in ("http", "https") else None
        if region is None:
            return ProxyTarget(connection_region, "/", foreign_host=host or url.scheme.lower() or "?")
        return ProxyTarget(region, _resolve_dots(url.path or "/"), query=url.query)
    return ProxyTarget(connection_region, _resolve_dots("/" + raw.lstrip("/")))


def _stays_under(path: str, prefix: str) -> bool:
    """Whether `path` is under `prefix` as sent, and still after every round of percent-decoding and dot resolution.

    Backslashes count as slashes here, as some servers read them.
    """
    for _ in range(_MAX_DECODES):
        if not (_resolve_dots(path.replace("\\", "/")) + "/").startswith(prefix):
            return False
        decoded = unquote(path)
        if decoded == path:
            return True
        path = decoded
    return False  # still changing after that many decodings: nothing legitimate is encoded so deep


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

    def __init__(
        self, root_url: str, transport_factory: TransportFactory | None = None, *, own_tenant: str | None = None
    ) -> None:
        self.root_url = root_url.rstrip("/")
        self.own_tenant = own_tenant
        self._transport_factory = transport_factory
        self._client: httpx2.AsyncClient | None = None

    def base_url(self, region: str, tenant: str | None = None) -> str:
        """The emulated regional host of `tenant`'s CleverTap world (tenant_worlds.py; None or the sandbox's own
        tenant: the own world); 400 for a region outside REGIONS, which would be a path off the mount."""
        if region not in REGIONS:
            raise MembraneError(f"Unknown CleverTap region {region[:20]!r}: use one of {', '.join(REGIONS)}")
        if tenant is None or tenant == self.own_tenant:
            return clevertap_base_url(self.root_url, region)
        return f"{self.root_url}{CLEVERTAP_MOUNT}/{TENANT_SEGMENT}/{tenant_segment(tenant)}/{region}"

    def url(self, target: ProxyTarget, query: str, tenant: str | None = None) -> str:
        """The URL a proxied call goes to: `target` under its region's base URL, with `query` after its own query.

        400 unless the URL parses and stays under `{root}/clevertap/{region}/` on the sandbox's own origin.
        """
        base = self.base_url(target.region, tenant)
        joined = "&".join(part for part in (target.query, query) if part)
        url = base + quote(target.path, safe=_PATH_SAFE) + (f"?{joined}" if joined else "")
        try:
            parsed, root = httpx2.URL(url), httpx2.URL(base + "/")
        except httpx2.InvalidURL:
            raise MembraneError("The proxy path or query does not form a valid URL", data={"field": "path"}) from None
        if (parsed.scheme, parsed.host, parsed.port) != (root.scheme, root.host, root.port) or not _stays_under(
            parsed.path, root.path
        ):
            raise MembraneError("The proxy path leaves the CleverTap API", data={"field": "path"})
        return url

    @property
    def client(self) -> httpx2.AsyncClient:
        if self._client is None:
            raise RuntimeError("The sandbox's outbound client is closed: run the app inside its lifespan")
        return self._client

    @asynccontextmanager
    async def opened(self, app: ASGIApp) -> AsyncGenerator[None]:
        transport = self._transport_factory(app) if self._transport_factory is not None else None
        # trust_env=False: proxy variables of the environment must never route sandbox traffic off the machine.
        async with httpx2.AsyncClient(
            transport=transport,
            timeout=OUTBOUND_TIMEOUT_SECONDS,
            trust_env=False,
            event_hooks={"response": [run_logs.on_response]},
        ) as client:
            self._client = client
            try:
                yield
            finally:
                self._client = None

    async def credentials_work(self, credentials: CleverTapCredentials, tenant: str | None = None) -> bool:
        """Whether CleverTap accepts these credentials: the cheap read-only `/1/now.json`, as a connect test.

        An unreachable CleverTap counts as a refusal: the user can only try again, so the page says so.
        """
        try:
            response = await self.client.post(
                f"{self.base_url(credentials.region, tenant)}/1/now.json",
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
