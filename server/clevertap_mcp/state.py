"""What the server remembers between tool calls, for the lifetime of one server process (its lifespan).

Over stdio there is one caller and one Membrane client: the server's own credentials. Over HTTP each request may
carry its caller's own Membrane token (`Authorization: Bearer`); the HTTP layer puts it in `_request_credentials`
for the duration of the request, and `AppState` then answers with that caller's client and that caller's
remembered connection, so tools never need to know which transport they run on and callers never share state.
"""

from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx2
from mcp.server.mcpserver.exceptions import ToolError

from clevertap_mcp.config import DEFAULT_CONFIRM_MODE, DEFAULT_MAX_TOKEN_CLIENTS, ConfirmMode
from clevertap_mcp.membrane.auth import StaticToken
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.membrane.retry import RetryPolicy

if TYPE_CHECKING:
    from clevertap_mcp.membrane.http1 import Http1Pool

# Input schemas a caller's searches showed, kept to name undeclared fields (an id and a key per action).
MAX_REMEMBERED_SCHEMAS = 1000

OWN_CREDENTIALS_REQUIRED = (
    "This server requires each request to carry the caller's own Membrane token, and this request had none, so "
    "nothing was sent. Add the header `Authorization: Bearer <your Membrane token>` to this server's entry in your "
    'MCP host\'s configuration (the "headers" block), then reconnect.'
)
BRING_YOUR_OWN = (
    "Over HTTP, each request may instead carry its caller's own token: add the header `Authorization: Bearer <your "
    "Membrane token>` to this server's entry in your MCP host's configuration."
)
MALFORMED_AUTHORIZATION = (
    "The request's Authorization header is not `Bearer <Membrane token>`, so nothing was sent. Fix the header in "
    "your MCP host's configuration (the \"headers\" block), or remove it to use this server's own credentials."
)


@dataclass(frozen=True)
class RequestCredentials:
    """What one HTTP request said about who it is: its bearer token, or why its header cannot be used."""

    token: str | None = None
    problem: str | None = None

    @classmethod
    def from_authorization(cls, header: str | None) -> RequestCredentials:
        if header is None:
            return cls()
        scheme, _, value = header.strip().partition(" ")
        value = value.strip()
        if scheme.lower() != "bearer" or not value or any(c.isspace() for c in value):
            return cls(problem=MALFORMED_AUTHORIZATION)
        return cls(token=value)

    def __repr__(self) -> str:
        return f"RequestCredentials(token={'***' if self.token else None}, problem={self.problem is not None})"


# None outside an HTTP request (stdio, in-memory clients): the server's own credentials apply.
_request_credentials: ContextVar[RequestCredentials | None] = ContextVar(
    "clevertap_mcp_request_credentials", default=None
)


def _token_key(token: str) -> str:
    """A digest standing for a bearer token, so the token itself is kept nowhere it is used as a key."""
    return hashlib.sha256(token.encode()).hexdigest()


# Digests of callers' tokens Membrane answered 401 (HTTP): the next request carrying one gets a 401 challenge instead,
# so a host's OAuth client renews it (http_auth.py). Bounded; oldest out first.
MAX_REJECTED_TOKENS = 4096
_rejected: OrderedDict[str, None] = OrderedDict()


def _mark_rejected(key: str) -> None:
    _rejected[key] = None
    while len(_rejected) > MAX_REJECTED_TOKENS:
        _rejected.popitem(last=False)


def token_rejected(token: str) -> bool:
    return _token_key(token) in _rejected


def current_caller_key() -> str:
    """Who is asking, as an opaque key (a digest of the request's own token; "" for the server's own credentials):
    what one caller stores, another cannot read."""
    credentials = _request_credentials.get()
    if credentials is None or credentials.token is None:
        return ""
    return _token_key(credentials.token)


@contextmanager
def request_credentials(credentials: RequestCredentials) -> Generator[None]:
    """Binds one HTTP request's credentials to everything that runs on its behalf (tool calls copy the context)."""
    reset = _request_credentials.set(credentials)
    try:
        yield
    finally:
        _request_credentials.reset(reset)


@dataclass
class Caller:
    """One caller's Membrane client, the connection it last ensured (the default when a tool gets none), and the
    action keys its searches showed (run_action classifies an id by its key, policy.py)."""

    client: MembraneClient | None
    last_connection_id: str | None = None
    action_keys: dict[str, str] = field(default_factory=dict[str, str])
    # Action id and key -> the input_schema its search showed (run_action names undeclared fields); oldest out first.
    input_schemas: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    token: StaticToken | None = None
    # A connection id or key an agent passed -> the connection's id, once resolved (§11 R6; connections.py).
    connection_ids: dict[str, str] = field(default_factory=dict[str, str])


class _SharedTransport(httpx2.AsyncBaseTransport):
    """Lends one connection pool to many clients; closing a client leaves the pool to its owner."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        return await self._inner.handle_async_request(request)

    async def http1_pool(self, base_url: str) -> Http1Pool | None:
        lookup = getattr(self._inner, "http1_pool", None)
        return await lookup(base_url) if lookup is not None else None

    async def aclose(self) -> None:
        pass


class TokenCallers:
    """Callers keyed by their bearer token, least recently used evicted beyond `max_size`.

    All their clients share one transport, so an evicted client holds nothing that needs closing, and the cache is
    keyed by a digest so the token itself lives only inside its `StaticToken` (registered for redaction).
    """

    def __init__(
        self,
        api_url: str,
        *,
        transport: Callable[[], httpx2.AsyncBaseTransport | None] | None = None,
        max_size: int = DEFAULT_MAX_TOKEN_CLIENTS,
        retry: RetryPolicy | None = None,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._api_url = api_url
        self._make_transport = transport
        self._transport: httpx2.AsyncBaseTransport | None = None
        self._max_size = max_size
        self._retry = retry
        self._callers: OrderedDict[str, Caller] = OrderedDict()

    def __len__(self) -> int:
        return len(self._callers)

    def get(self, token: str) -> Caller:
        key = _token_key(token)
        caller = self._callers.get(key)
        if caller is not None:
            self._callers.move_to_end(key)
            return caller
        if self._transport is None:
            made = self._make_transport() if self._make_transport is not None else None
            self._transport = made if made is not None else httpx2.AsyncHTTPTransport()
        source = StaticToken(
            token,
            origin="the request's Authorization header",
            process_wide=False,
            on_rejected=functools.partial(_mark_rejected, key),
        )
        caller = Caller(
            MembraneClient(self._api_url, source, transport=_SharedTransport(self._transport), retry=self._retry),
            token=source,
        )
        self._callers[key] = caller
        while len(self._callers) > self._max_size:
            _, evicted = self._callers.popitem(last=False)
            self._forget(evicted)
        return caller

    @staticmethod
    def _forget(caller: Caller) -> None:
        if caller.token is not None:
            caller.token.forget()

    async def aclose(self) -> None:
        for caller in self._callers.values():
            self._forget(caller)
        self._callers.clear()
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None


@dataclass
class AppState:
    client: MembraneClient | None
    credentials_problem: str | None
    app_url: str
    # HTTP: callers that sent their own token; None where requests cannot carry one (stdio, in memory).
    token_callers: TokenCallers | None = None
    # HTTP: refuse requests without their own token instead of lending them the server's credentials.
    require_request_token: bool = False
    # Safety settings (config.with_safety): only reads run; when to ask the user before deletes, stops and sends.
    read_only: bool = False
    confirm: ConfirmMode = DEFAULT_CONFIRM_MODE
    # stdio with no credentials: the first tool call offers a sign-in (signin_offer.SignInOffer).
    sign_in_offer: Any = None
    _server_caller: Caller = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._server_caller = Caller(self.client)

    def use_client(self, client: MembraneClient) -> None:
        """The server's own client from now on (a sign-in completed while serving)."""
        self.client = client
        self._server_caller.client = client
        self.credentials_problem = None

    @staticmethod
    def serves_own_credentials() -> bool:
        """The current call acts with the server's own credentials (stdio, in memory), not a request's token."""
        return _request_credentials.get() is None

    def _caller(self) -> Caller | str:
        """The current request's caller, or why it may not act."""
        credentials = _request_credentials.get()
        if credentials is None:
            return self._server_caller
        if credentials.problem is not None:
            return credentials.problem
        if credentials.token is None:
            if self.require_request_token:
                return OWN_CREDENTIALS_REQUIRED
            if self.client is None and self.token_callers is not None:
                return f"{self.credentials_problem or 'This server has no Membrane credentials.'} {BRING_YOUR_OWN}"
            return self._server_caller
        if self.token_callers is None:
            return self._server_caller
        return self.token_callers.get(credentials.token)

    def remember_action_keys(self, keys: dict[str, str]) -> None:
        """Action id -> key as the current caller's search_actions showed them; never shared between callers."""
        caller = self._caller()
        if not isinstance(caller, str):
            caller.action_keys.update(keys)

    def remember_input_schemas(self, schemas: dict[str, dict[str, Any]]) -> None:
        """Input schemas by action id and key, as the current caller's search_actions showed them."""
        caller = self._caller()
        if isinstance(caller, str):
            return
        for name, schema in schemas.items():
            caller.input_schemas.pop(name, None)
            caller.input_schemas[name] = schema
        while len(caller.input_schemas) > MAX_REMEMBERED_SCHEMAS:
            del caller.input_schemas[next(iter(caller.input_schemas))]

    def input_schema(self, action_id: str) -> dict[str, Any] | None:
        """The input_schema the current caller's search_actions showed for this id or key, if any."""
        caller = self._caller()
        return None if isinstance(caller, str) else caller.input_schemas.get(action_id)

    def shown_action_id(self, name: str) -> str | None:
        """The id of the action the current caller's search_actions showed under this id or key, if any."""
        caller = self._caller()
        if isinstance(caller, str):
            return None
        if name in caller.action_keys:
            return name
        by_key = [action_id for action_id, key in caller.action_keys.items() if key == name]
        if by_key:
            return by_key[-1]
        # A keyless action is remembered only by id, with its schema.
        return name if name in caller.input_schemas else None

    def action_key(self, action_id: str) -> str:
        """The key of an action id the current caller's search_actions showed; anything else is taken as a key
        (unknown keys count as writes, policy.py)."""
        caller = self._caller()
        known = {} if isinstance(caller, str) else caller.action_keys
        return known.get(action_id, action_id)

    def connection_id_for(self, selector: str) -> str | None:
        """The id a connection id or key was resolved to for the current caller, if it was."""
        caller = self._caller()
        return None if isinstance(caller, str) else caller.connection_ids.get(selector)

    def remember_connection(self, connection_id: str, *selectors: str | None) -> None:
        caller = self._caller()
        if isinstance(caller, str):
            return
        for selector in (connection_id, *selectors):
            if selector:
                caller.connection_ids[selector] = connection_id
        while len(caller.connection_ids) > MAX_REMEMBERED_SCHEMAS:
            del caller.connection_ids[next(iter(caller.connection_ids))]

    def action_id_for_key(self, key: str) -> str | None:
        """The id of the action the current caller's search_actions showed under this key, if one did."""
        caller = self._caller()
        if isinstance(caller, str):
            return None
        return next((action_id for action_id, k in caller.action_keys.items() if k == key and action_id != key), None)

    def require_client(self) -> MembraneClient:
        caller = self._caller()
        if isinstance(caller, str):
            raise ToolError(caller)
        if caller.client is None:
            raise ToolError(self.credentials_problem or "The Membrane client is not configured.")
        return caller.client

    @property
    def last_connection_id(self) -> str | None:
        """The connection the current caller last ensured; never another caller's."""
        caller = self._caller()
        return None if isinstance(caller, str) else caller.last_connection_id

    @last_connection_id.setter
    def last_connection_id(self, value: str | None) -> None:
        caller = self._caller()
        if not isinstance(caller, str):
            caller.last_connection_id = value
