"""The API proxy: any method on `/connections/{sel}/proxy/{path}` reaches CleverTap with the connection's credentials.

membrane-api.md §9: method, query and body go through unchanged; request headers go through minus the §9 drop list
(so the caller's Membrane bearer never reaches CleverTap), and `X-CleverTap-Account-Id` / `X-CleverTap-Passcode` are set
from the connection. The upstream status, headers and body come back verbatim, minus hop-by-hop headers and the
length and encoding headers, which no longer describe the body once the client has decoded it.

Membrane's own failures are ErrorData: an unknown selector (404), a connection that is not READY (400 `connection`,
nothing forwarded, §10 #10), a full URL to a host that is not CleverTap (502 `connection`, recorded in the request
log as an exfiltration attempt, nothing forwarded), CleverTap unreachable (502 `connection`).

Open-point choices:
- The caller's own `X-CleverTap-Account-Id` / `X-CleverTap-Passcode` headers are replaced, never forwarded: Membrane
  owns the upstream auth.
- A selector is resolved as a connection id, then a connection key, then an integration key or id whose integration
  has exactly one connection for the tenant (§10 #8).
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx2
from starlette.responses import Response
from starlette.types import Scope

from clevertap_mcp.sandbox.control import RequestLog
from clevertap_mcp.sandbox.membrane.errors import BadGateway
from clevertap_mcp.sandbox.membrane.state import Connection, require_usable
from clevertap_mcp.sandbox.membrane.upstream import Upstream, proxy_target

__all__ = ["DROPPED_REQUEST_HEADERS", "DROPPED_RESPONSE_HEADERS", "forward", "relay"]

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
    credentials = require_usable(conn)
    target = proxy_target(path, credentials.region)
    if target.foreign_host is not None:
        log.flag_exfiltration(scope, target.foreign_host)
        raise BadGateway(
            f"The proxy only reaches CleverTap; it will not send connection '{conn.id}' credentials to "
            f"'{target.foreign_host}'. Pass a path relative to the CleverTap API, such as /1/now.json",
            data={"host": target.foreign_host},
        )
    url = upstream.base_url(target.region) + target.path + (f"?{query}" if query else "")
    outgoing = [(name, value) for name, value in headers if name.lower() not in DROPPED_REQUEST_HEADERS]
    outgoing += [("X-CleverTap-Account-Id", credentials.account_id), ("X-CleverTap-Passcode", credentials.passcode)]
    try:
        return await upstream.client.request(method, url, headers=outgoing, content=body)
    except httpx2.HTTPError as exc:
        raise BadGateway(f"CleverTap could not be reached: {exc.__class__.__name__}") from None


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
