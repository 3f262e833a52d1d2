"""The typed async client for the part of Membrane's HTTP API that the tools use (membrane-api.md).

One connection pool for the client's lifetime; one method per endpoint; every request goes through `_send`, which
adds the bearer token, applies the timeout, retries by `RetryPolicy` and maps errors to the tree in `errors.py`.
Requests go out through our lean HTTP/1.1 client (`http1.py`) when the transport is built on it, as the server's
is, and through `httpx2.AsyncClient` when a transport of another kind is injected (tests, the in-process sandbox);
both raise httpx2's exception types, so the mapping below serves both. The client knows nothing of MCP.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar, cast
from urllib.parse import quote, urlencode, urlsplit

import anyio
import httpx2
from pydantic import BaseModel, ValidationError

from clevertap_mcp import __version__
from clevertap_mcp.deferred_transport import DeferredTransport
from clevertap_mcp.membrane import request_ids
from clevertap_mcp.membrane.auth import TokenSource, bearer
from clevertap_mcp.membrane.errors import (
    ConnectError,
    RequestNotSentError,
    ResponseLostError,
    ResponseTooLargeError,
    UnexpectedResponseError,
    error_from_response,
    is_membrane_error_body,
    parse_error_body,
)
from clevertap_mcp.membrane.http1 import ACCEPT_ENCODING, BodyTooLarge, Http1Pool
from clevertap_mcp.membrane.models import Action, ActionRunResult, Connection, Page, ProxyResponse, tolerant_page
from clevertap_mcp.membrane.retry import RetryPolicy, parse_retry_after
from clevertap_mcp.membrane.scrub import strip_credentials

__all__ = ["DEFAULT_API_URL", "MembraneClient"]

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.getmembrane.com"
API_VERSION = "2025-10-21"
DEFAULT_TIMEOUT_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 10.0
# A long-poll is held by Membrane for up to `timeout` seconds; the read timeout must outlast it.
LONG_POLL_GRACE_SECONDS = 10.0
MAX_LONG_POLL_SECONDS = 60
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The most of one response body the client reads. CleverTap's export pages and Membrane's objects are far smaller;
# anything bigger is refused instead of being held in memory and handed to an agent.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024

ModelT = TypeVar("ModelT", bound=BaseModel)
ItemModelT = TypeVar("ItemModelT", Action, Connection)


def _segment(value: str) -> str:
    """One path segment. `.` and `..` are encoded too: left bare, URL normalisation would climb out of the segment."""
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


class MembraneClient:
    def __init__(
        self,
        base_url: str,
        token_source: TokenSource,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retry: RetryPolicy | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._tokens = token_source
        self._timeout = timeout
        self._retry = retry or RetryPolicy()
        self._max_response_bytes = max_response_bytes
        # The transport the server uses; without one, the same (doctor and contract probes test what serves).
        transport = transport if transport is not None else DeferredTransport()
        headers = {"membrane-api-version": API_VERSION, "user-agent": f"clevertap-mcp/{__version__}"}
        self._http = httpx2.AsyncClient(
            transport=transport,
            timeout=httpx2.Timeout(timeout, connect=min(CONNECT_TIMEOUT_SECONDS, timeout)),
            headers=headers,
            follow_redirects=False,
        )
        # What httpx2 would add to every request, for the lean path: its defaults, then ours.
        self._default_headers = {"accept": "*/*", "accept-encoding": ACCEPT_ENCODING, **headers}
        self._path_prefix = urlsplit(self.base_url).path
        self._http1_pool = getattr(transport, "http1_pool", None)

    def __repr__(self) -> str:
        return f"MembraneClient(base_url={self.base_url!r}, token_source={self._tokens!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- connections -------------------------------------------------------------------------------------------

    async def ensure_connection(self, app_url: str, *, name: str | None = None) -> Connection:
        body: dict[str, Any] = {"appUrl": app_url}
        if name:
            body["name"] = name
        # Ensure is find-or-create keyed by app, so resending it cannot make a second connection.
        data = await self._json("POST", "/connections/ensure", json_body=body, idempotent=True)
        return self._parse(Connection, strip_credentials(data), "POST /connections/ensure")

    async def get_connection(self, connection_id: str, *, wait_seconds: int | None = None) -> Connection:
        """The connection; with `wait_seconds`, long-polled while it is BUILDING (§3.2)."""
        # As the SDK sends it (§11 R9): credentials are never asked for.
        params: dict[str, Any] = {"includeSecrets": False}
        timeout = self._timeout
        if wait_seconds is not None:
            wait = max(1, min(MAX_LONG_POLL_SECONDS, wait_seconds))
            params = {"wait": "true", "timeout": wait, "includeSecrets": False}
            timeout = wait + LONG_POLL_GRACE_SECONDS
        path = f"/connections/{_segment(connection_id)}"
        data = await self._json("GET", path, params=params, idempotent=True, read_timeout=timeout)
        return self._parse(Connection, strip_credentials(data), "GET /connections/{id}")

    async def provide_input(self, connection_id: str, values: Mapping[str, str]) -> Connection:
        """Answer a `provide-input` clientAction: `PATCH /connections/{id}` with `{input}` (§4). Writing the same
        values twice changes nothing more, so it may be resent."""
        path = f"/connections/{_segment(connection_id)}"
        data = await self._json("PATCH", path, json_body={"input": dict(values)}, idempotent=True)
        return self._parse(Connection, strip_credentials(data), "PATCH /connections/{id}")

    async def list_connections(
        self,
        *,
        integration_key: str | None = None,
        connector_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
    ) -> Page[Connection]:
        """One page; connections that do not match the contract are left out and counted (§11 R9)."""
        params = {"integrationKey": integration_key, "connectorId": connector_id, "cursor": cursor, "limit": limit}
        data = await self._json("GET", "/connections", params=params, idempotent=True)
        return self._page(Connection, strip_credentials(data), "GET /connections")

    async def create_connection_request(self, connection_id: str) -> str | None:
        """A link the user opens to (re)connect this connection (§11 R3), or None when Membrane gave none."""
        body = {"connectionId": connection_id}
        data = await self._json("POST", "/connection-requests", json_body=body, idempotent=True)
        url = cast(dict[str, Any], data).get("url") if isinstance(data, dict) else None
        return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None

    # --- actions -----------------------------------------------------------------------------------------------

    async def search_actions(
        self, *, connection_id: str, intent: str, limit: int, cursor: str | None = None
    ) -> Page[Action]:
        """One page, best first; malformed items are left out and counted (§11 R9)."""
        params = {"connectionId": connection_id, "intent": intent, "limit": limit, "cursor": cursor}
        data = await self._json("GET", "/actions", params=params, idempotent=True)
        return self._page(Action, data, "GET /actions")

    async def get_action(self, action_id: str, *, connection_id: str | None = None) -> Action:
        """One action by id, as search_actions' items carry it (§3, `GET /actions/{id}`)."""
        path = f"/actions/{_segment(action_id)}"
        data = await self._json("GET", path, params={"connectionId": connection_id}, idempotent=True)
        return self._parse(Action, data, "GET /actions/{id}")

    async def run_action_by_key(
        self, key: str, action_input: Any, *, connection_id: str, resend_safe: bool = False
    ) -> ActionRunResult:
        """`POST /act {key, connectionId, input}`: the documented way to run by key (§3.5, §11 R5)."""
        body = {"key": key, "connectionId": connection_id, "input": action_input}
        data = await self._json("POST", "/act", json_body=body, idempotent=resend_safe)
        return self._parse(ActionRunResult, data, "POST /act")

    async def run_action(
        self, action_id: str, action_input: Any, *, connection_id: str, resend_safe: bool = False
    ) -> ActionRunResult:
        """`resend_safe`: the caller knows this action only reads, so a lost answer may be asked for again."""
        path = f"/actions/{_segment(action_id)}/run"
        data = await self._json(
            "POST",
            path,
            params={"connectionId": connection_id},
            json_body={"input": action_input},
            idempotent=resend_safe,
        )
        return self._parse(ActionRunResult, data, "POST /actions/{id}/run")

    async def get_run_log(self, run_id: str) -> dict[str, Any]:
        """A run's log with its details (the requests it made), `GET /action-run-logs/{id}?details=true` (§11)."""
        path = f"/action-run-logs/{_segment(run_id)}"
        data = await self._json("GET", path, params={"details": True}, idempotent=True)
        if not isinstance(data, dict):
            raise UnexpectedResponseError(
                f"Membrane's answer to GET {path} is not an object", status=200, body_text=json.dumps(data)
            )
        return cast(dict[str, Any], strip_credentials(data))

    # --- proxy -------------------------------------------------------------------------------------------------

    async def proxy(
        self,
        connection_id: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        resend_safe: bool | None = None,
    ) -> ProxyResponse:
        """Send `method path` through the connection and return the upstream answer verbatim.

        `path` must already have passed `proxy_guard`; a query string inside it is kept byte for byte (CleverTap
        cursors arrive percent-encoded and must not be encoded again), and `query` is appended to it.
        `resend_safe` narrows the method's own idempotency (a GET to a write path is not safe to resend); a
        non-idempotent method is never made resendable by it.
        """
        url_path = f"/connections/{_segment(connection_id)}/proxy{path}"
        if query:
            extra = urlencode(query, quote_via=quote)
            url_path += ("&" if "?" in url_path else "?") + extra
        method = method.upper()
        reply = await self._send(
            method,
            url_path,
            content=content,
            headers=headers,
            idempotent=method in IDEMPOTENT_METHODS and resend_safe is not False,
            proxied=True,
        )
        return ProxyResponse(status=reply.status, headers=list(reply.headers.items()), content=reply.content)

    # --- plumbing ----------------------------------------------------------------------------------------------

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool,
        read_timeout: float | None = None,
    ) -> Any:
        reply = await self._send(
            method, path, params=params, json_body=json_body, idempotent=idempotent, read_timeout=read_timeout
        )
        try:
            return json.loads(reply.content)
        except ValueError:
            what = "an empty body" if not reply.content.strip() else "a body that is not JSON"
            raise UnexpectedResponseError(
                f"Membrane answered {method} {path.split('?')[0]} (HTTP {reply.status}) with {what}",
                status=reply.status,
                body_text=reply.text,
            ) from None

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        read_timeout: float | None = None,
        proxied: bool = False,
    ) -> Reply:
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None and v != ""}
        request_headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
            request_headers["content-type"] = "application/json"
        log_path = path.split("?")[0]
        attempt = 0
        reminted = False
        # Whether an attempt already resent may have been acted on: decides what a final connect failure may claim.
        acted_before = False
        while True:
            attempt += 1
            request_headers["authorization"] = f"Bearer {await bearer(self._tokens)}"
            started = time.perf_counter()
            try:
                reply = await self._exchange(method, path, query, content, request_headers, read_timeout)
            except (
                httpx2.UnsupportedProtocol,
                httpx2.LocalProtocolError,
                httpx2.InvalidURL,
                UnicodeEncodeError,
            ) as exc:
                # The exception text may quote the offending value (a header, the URL): name only its type.
                raise RequestNotSentError(
                    f"{method} {log_path} could not be sent to {self.base_url} ({type(exc).__name__}): the API URL "
                    "or a header value is not usable (header values must be printable ASCII)"
                ) from None
            except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as exc:
                if self._retry.should_retry_transport(reached=False, attempt=attempt, idempotent=idempotent):
                    await self._retry.sleep(self._retry.backoff(attempt))
                    continue
                if acted_before:
                    raise ConnectError(
                        f"Could not reach Membrane at {self.base_url} ({type(exc).__name__}) to send {method} "
                        f"{log_path} again; an earlier attempt reached it and got no usable answer",
                        earlier_attempt_may_have_acted=True,
                    ) from None
                raise ConnectError(
                    f"Could not reach Membrane at {self.base_url} ({type(exc).__name__}); nothing was sent"
                ) from None
            except httpx2.TransportError as exc:
                if self._retry.should_retry_transport(reached=True, attempt=attempt, idempotent=idempotent):
                    acted_before = True
                    await self._retry.sleep(self._retry.backoff(attempt))
                    continue
                raise ResponseLostError(
                    f"The answer to {method} {log_path} was lost ({_describe_transport_error(exc)})"
                ) from None
            except httpx2.DecodingError:
                # The answer arrived but its content-encoding is corrupt: like a body that is not JSON, not resent.
                raise UnexpectedResponseError(
                    f"Membrane's answer to {method} {log_path} could not be decoded (corrupt content-encoding)",
                    status=0,
                    body_text="",
                ) from None
            except BodyTooLarge as exc:
                raise ResponseTooLargeError(
                    f"Membrane's answer to {method} {log_path} (HTTP {exc.status}) is larger than "
                    f"{self._max_response_bytes // (1024 * 1024)} MiB, so it was not read",
                    status=exc.status,
                ) from None
            elapsed_ms = (time.perf_counter() - started) * 1000
            request_id = reply.headers.get("x-request-id")
            if request_id:
                request_ids.record(request_id)
            logger.debug("%s %s -> %d in %.1f ms", method, log_path, reply.status, elapsed_ms)
            status = reply.status
            if status < 400:
                return reply
            if proxied and not is_membrane_error_body(reply.text) and not _is_gateway_failure(reply):
                return reply  # the upstream's own answer, passed through verbatim (§9)
            retry_after = parse_retry_after(reply.headers.get("retry-after"))
            if status == 401 and not reminted and self._tokens.invalidate():
                reminted = True  # a 401 means nothing was done; one fresh token may fix it
                continue
            may_have_started = _may_have_started(reply)
            safe = idempotent or not may_have_started
            if self._retry.should_retry_status(status, attempt=attempt, safe_to_resend=safe, retry_after=retry_after):
                acted_before = acted_before or may_have_started
                await self._retry.sleep(self._retry.backoff(attempt, retry_after))
                continue
            raise error_from_response(
                status,
                reply.text,
                method=method,
                path=log_path,
                request_id=request_id,
                retry_after=retry_after,
                content_type=reply.headers.get("content-type", ""),
            )

    async def _exchange(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        content: bytes | None,
        headers: dict[str, str],
        read_timeout: float | None,
    ) -> Reply:
        """Send one request and read at most `max_response_bytes` of its (decoded) body.

        Both paths hold both limits: an endless body is cut off at the cap instead of filling memory, and a
        cancelled tool call cancels this await, which closes the connection rather than leaving it reading.
        """
        pool: Http1Pool | None = await self._http1_pool(self.base_url) if self._http1_pool is not None else None
        if pool is not None:
            merged = dict(self._default_headers)
            merged.update((name.lower(), value) for name, value in headers.items())
            target = self._path_prefix + path + ("?" + urlencode(query) if query else "")
            answer = await pool.exchange(
                method,
                target,
                merged.items(),
                content,
                read_timeout=read_timeout if read_timeout is not None else self._timeout,
                max_body=self._max_response_bytes,
                connect_timeout=min(CONNECT_TIMEOUT_SECONDS, self._timeout),
            )
            return Reply(status=answer.status, headers=answer.headers, content=answer.content)
        request = self._http.build_request(
            method,
            self.base_url + path,
            params=query or None,
            content=content,
            headers=headers,
            timeout=read_timeout if read_timeout is not None else httpx2.USE_CLIENT_DEFAULT,
        )
        response = await self._http.send(request, stream=True)
        try:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self._max_response_bytes:
                raise BodyTooLarge(response.status_code)
            chunks: list[bytes] = []
            size = 0
            # Decoded bytes are counted, so a small gzip bomb cannot slip past the cap.
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self._max_response_bytes:
                    raise BodyTooLarge(response.status_code)
                chunks.append(chunk)
        finally:
            # Shielded: when the tool call is cancelled, the connection must still be released, not leaked.
            with anyio.CancelScope(shield=True):
                await response.aclose()
        return Reply(status=response.status_code, headers=response.headers, content=b"".join(chunks))

    @staticmethod
    def _page(model: type[ItemModelT], data: Any, what: str) -> Page[ItemModelT]:
        try:
            return tolerant_page(model, data)
        except ValueError:
            raise UnexpectedResponseError(
                f"Membrane's answer to {what} is not a page of items", status=200, body_text=json.dumps(data)
            ) from None

    @staticmethod
    def _parse(model: type[ModelT], data: Any, what: str) -> ModelT:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise UnexpectedResponseError(
                f"Membrane's answer to {what} does not match the contract: {exc.error_count()} field error(s)",
                status=200,
                body_text=json.dumps(data),
            ) from None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _may_have_started(reply: Reply) -> bool:
    """False only for a refusal before any work: a plain 429.

    Membrane's own 429 is `bad_request` with no run id; a 429 that is not JSON at all comes from a rate limiter in
    front of Membrane. Both mean the request was turned away at the door.
    """
    if reply.status != 429:
        return True
    body = parse_error_body(reply.text)
    if body is None:
        return False
    return "actionRunId" in body or body.get("type") not in (None, "bad_request")


def _is_gateway_failure(reply: Reply) -> bool:
    """A proxied 429/5xx that is not JSON came from a gateway, not from CleverTap.

    CleverTap's API answers JSON even when it fails (`{"status": "fail", "error": ..., "code": ...}`), and Membrane's
    own errors are ErrorData JSON, so an HTML page, plain text or an empty body with a failure status is a load
    balancer or proxy reporting that it could not get an answer: a failure of the path, never CleverTap's result.
    """
    if reply.status != 429 and reply.status < 500:
        return False
    try:
        json.loads(reply.content)
    except ValueError:
        return True
    return False


def _describe_transport_error(exc: httpx2.TransportError) -> str:
    if isinstance(exc, httpx2.TimeoutException):
        return f"{type(exc).__name__}: no answer in time"
    if isinstance(exc, httpx2.RemoteProtocolError | httpx2.ReadError):
        return f"{type(exc).__name__}: the connection closed mid-answer"
    return type(exc).__name__


@dataclass(frozen=True)
class Reply:
    """A fully read answer: status, headers and at most `max_response_bytes` of body."""

    status: int
    headers: httpx2.Headers
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")
