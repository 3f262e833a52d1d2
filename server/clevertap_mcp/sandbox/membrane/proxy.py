"""The API proxy: any method on `/connections/{sel}/proxy/{path}` reaches CleverTap with the connection's credentials.

membrane-api.md §9: method, query and body go through unchanged; request headers go through minus the §9 drop list
(so the caller's Membrane bearer never reaches CleverTap), and `X-CleverTap-Account-Id` / `X-CleverTap-Passcode` are set
from the connection. The upstream status, headers and body come back verbatim, minus hop-by-hop headers and the
length and encoding headers, which no longer describe the body once the client has decoded it.

Membrane's own failures are ErrorData: an unknown selector (404), an integration selector without exactly one
connection (400, §10 #8), a connection that is not READY (400 `connection`, nothing forwarded, §10 #10), a full URL
to a host that is not CleverTap (502 `connection`, recorded in the request log as an exfiltration attempt, nothing
forwarded), a path, query or header that no HTTP request can carry (400 `bad_request`), CleverTap unreachable (502
`connection`).

A full URL to a foreign host is recorded as an exfiltration attempt before the connection's state is checked, so the
attempt is in the log whatever that state; a connection that is not READY still answers its 400.

`prepare` does every check and builds the outgoing request without sending anything; `send` sends it. `/act` spends
its run id between the two, so a refused call never uses one up.

Open-point choices:
- The caller's own `X-CleverTap-Account-Id` / `X-CleverTap-Passcode` headers are replaced, never forwarded: Membrane
  owns the upstream auth.
- A selector is resolved as a connection id, then a connection key, then an integration key or id whose integration
  has exactly one connection for the tenant (§10 #8).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import httpx2
from starlette.responses import Response
from starlette.types import Scope

from clevertap_mcp.sandbox.control import RequestLog
from clevertap_mcp.sandbox.membrane.errors import BadGateway, MembraneError
from clevertap_mcp.sandbox.membrane.state import Connection, require_usable
from clevertap_mcp.sandbox.membrane.upstream import REGIONS, Upstream, proxy_target

__all__ = ["DROPPED_REQUEST_HEADERS", "DROPPED_RESPONSE_HEADERS", "Outbound", "forward", "prepare", "relay", "send"]

# RFC 9110: a field name is a token; a value is visible ASCII, spaces, tabs and obs-text (bytes 0x80-0xFF).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")

DROPPED_REQUEST_HEADERS = frozenset(
    {
        "host",
        "connection",
        "content-length",
        "authorization",
        "x-request-id",
        "x-real-ip",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-forwarded-proto",
        "x-forwarded-scheme",
        "x-scheme",
        "x-original-forwarded-for",
        "x-different-name",
        "x-request-start",
        "x-using-nginx-controller",
        "x-amzn-trace-id",
        "forwarded-for-header",
        "proxy-protocol",
        "real_ip_header",
        "real_ip_recursive",
        "cdn-loop",
        "cf-ipcountry",
        "cf-ray",
        "cf-visitor",
        "cf-connecting-ip",
        # Not in §9's list: replaced by the connection's own credentials below.
        "x-clevertap-account-id",
        "x-clevertap-passcode",
    }
)
DROPPED_RESPONSE_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "content-encoding",
    }
)


@dataclass(frozen=True)
class Outbound:
    """A checked call, ready to go to CleverTap."""

    method: str
    url: str
    headers: list[tuple[bytes, bytes]]
    body: bytes


def prepare(
    upstream: Upstream,
    log: RequestLog,
    scope: Scope,
    conn: Connection,
    *,
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> Outbound:
    """Check one call through `conn` and build it, or raise the Membrane error that stops it. Nothing is sent."""
    # Only a relative path uses the connection's region, and only once it is usable; until then any region will do.
    target = proxy_target(path, conn.credentials.region if conn.credentials is not None else REGIONS[0])
    if target.foreign_host is not None:
        log.flag_exfiltration(scope, target.foreign_host)
    credentials = require_usable(conn)
    if target.foreign_host is not None:
        raise BadGateway(
            f"The proxy only reaches CleverTap; it will not send connection '{conn.id}' credentials to "
            f"'{target.foreign_host}'. Pass a path relative to the CleverTap API, such as /1/now.json",
            data={"host": target.foreign_host},
        )
    url = upstream.url(target, query, conn.tenant.key)  # the tenant's own CleverTap world
    outgoing = [_header(name, value) for name, value in headers if name.lower() not in DROPPED_REQUEST_HEADERS]
    outgoing += [
        _header("X-CleverTap-Account-Id", credentials.account_id),
        _header("X-CleverTap-Passcode", credentials.passcode),
    ]
    return Outbound(method, url, outgoing, body)


def _header(name: str, value: str) -> tuple[bytes, bytes]:
    """A header as bytes, exactly as received (Starlette decodes them as latin-1); 400 if no request could carry it."""
    if not _HEADER_NAME.fullmatch(name) or not _HEADER_VALUE.fullmatch(value):
        raise MembraneError(
            f"Header {name[:40]!r} cannot be sent: names are tokens, values have no control or non-latin-1 characters",
            data={"header": name[:40]},
        )
    return name.encode("latin-1"), value.encode("latin-1")


async def send(upstream: Upstream, outbound: Outbound) -> httpx2.Response:
    """Send a prepared call; 502 `connection` when CleverTap cannot be reached."""
    try:
        return await upstream.client.request(
            outbound.method, outbound.url, headers=outbound.headers, content=outbound.body
        )
    except httpx2.InvalidURL:
        raise MembraneError("The proxy path or query does not form a valid URL", data={"field": "path"}) from None
    except httpx2.HTTPError as exc:
        raise BadGateway(f"CleverTap could not be reached: {exc.__class__.__name__}") from None


async def forward(
    upstream: Upstream,
    log: RequestLog,
    scope: Scope,
    conn: Connection,
    *,
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> httpx2.Response:
    """Send one call through `conn` to CleverTap, or raise the Membrane error that stops it first."""
    outbound = prepare(upstream, log, scope, conn, method=method, path=path, query=query, headers=headers, body=body)
    return await send(upstream, outbound)


def relay(upstream_response: httpx2.Response) -> Response:
    """The upstream answer, verbatim apart from the headers that describe the connection rather than the body."""
    response = Response(content=upstream_response.content, status_code=upstream_response.status_code)
    kept = [
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in upstream_response.headers.multi_items()
        if name.lower() not in DROPPED_RESPONSE_HEADERS
    ]
    length = [(name, value) for name, value in response.raw_headers if name == b"content-length"]
    response.raw_headers = kept + length
    return response
