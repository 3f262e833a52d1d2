"""The sandbox's Membrane world with no HTTP in it: tenants, connections, their state machine and change notification.

A tenant is created the first time a token names it. Ids come from counters (`tenant_0001`, `conn_0001`,
`run_0001`), so two sandboxes fed the same requests answer the same.

The life of a connection made by `ensure` (membrane-api.md §10 #2):
- CleverTap: `BUILDING` for `settings.building_polls` GET polls, then `CLIENT_ACTION_REQUIRED` with a `connect`
  clientAction whose `uiUrl` is the sandbox's own connect page; `READY` at once with the demo account when
  `settings.auto_connect` is set.
- Any other domain: `BUILDING` (ensure always answers it), then `SETUP_FAILED` with an error, after the same number
  of polls.
- Each GET of a connection that is building on that schedule uses up one poll and answers at once, even with
  `wait=true`: answering is how the sandbox lets build time pass without sleeping. A connection forced to `BUILDING`
  through the control plane has no schedule and stays there until something changes it; that is what a long-poll
  waits on.

`ChangeFeed` wakes long-polls: every change of a connection sets an anyio event for that connection id. When the
server stops, `release_waiters` (called on the server's own event loop, server.py) wakes every parked long-poll and
keeps new ones from parking, so each answers 200 with the current object (§10 #4) before the server shuts down.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import anyio

from clevertap_mcp.sandbox.clevertap.regions import REGIONS
from clevertap_mcp.sandbox.connector import CleverTapCredentials
from clevertap_mcp.sandbox.membrane.apps import CLEVERTAP, KnownApp, known_app_for, normalize_app_url
from clevertap_mcp.sandbox.membrane.errors import ConnectionUnusable, MembraneError, NotFound
from clevertap_mcp.sandbox.membrane.run_logs import RunLogs
from clevertap_mcp.sandbox.settings import (
    DEMO_CLEVERTAP_ACCOUNT_ID,
    DEMO_CLEVERTAP_PASSCODE,
    DEMO_CLEVERTAP_REGION,
    SandboxSettings,
)

__all__ = [
    "ChangeFeed",
    "ClientAction",
    "Connection",
    "ConnectionState",
    "MembraneState",
    "Tenant",
    "require_usable",
]

DEMO_CREDENTIALS = CleverTapCredentials(DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, DEMO_CLEVERTAP_REGION)
CONNECT_DESCRIPTION = "Connect your CleverTap account to continue."
CONNECT_INSTRUCTIONS = (
    "Ask the user to connect CleverTap: request a connection link with POST /connection-requests and show it to them."
)


class ConnectionState(StrEnum):
    BUILDING = "BUILDING"
    CLIENT_ACTION_REQUIRED = "CLIENT_ACTION_REQUIRED"
    CONFIGURATION_ERROR = "CONFIGURATION_ERROR"
    SETUP_FAILED = "SETUP_FAILED"
    READY = "READY"
    DISCONNECTING = "DISCONNECTING"


@dataclass(frozen=True)
class ClientAction:
    type: str  # "connect" or "provide-input"
    description: str
    ui_url: str | None = None
    agent_instructions: str | None = None


# The connector variant that asks for the region first (settings.connect_asks_region).
REGION_QUESTION = ClientAction(
    "provide-input",
    "Which region is the CleverTap account in? Give input.region, one of " + ", ".join(REGIONS) + ".",
)


@dataclass
class Tenant:
    id: str
    key: str


@dataclass
class Connection:
    id: str
    tenant: Tenant
    name: str
    domain: str
    app: KnownApp | None  # None for an app the sandbox cannot build a connector for
    state: ConnectionState
    created_at: float
    updated_at: float
    key: str | None = None
    client_action: ClientAction | None = None
    errors: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    credentials: CleverTapCredentials | None = None
    is_defunct: bool = False
    # GET polls still to answer BUILDING; None when nothing is scheduled.
    polls_left: int | None = None
    # Values written with `PATCH /connections/{id}` (`input`), e.g. the region a provide-input asked for.
    input: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def connected(self) -> bool:
        return self.state is ConnectionState.READY and not self.is_defunct


_NEXT_STEP = {
    ConnectionState.BUILDING: "wait until it is built",
    ConnectionState.CLIENT_ACTION_REQUIRED: "the user must first complete its clientAction",
    ConnectionState.CONFIGURATION_ERROR: "see its errors",
    ConnectionState.SETUP_FAILED: "see its errors",
    ConnectionState.DISCONNECTING: "it is being removed",
}


def require_usable(conn: Connection) -> CleverTapCredentials:
    """The connection's credentials, or 400 `connection` naming why nothing can go through it (§10 #9, #10)."""
    data = {"connectionId": conn.id, "state": conn.state.value}
    if conn.is_defunct:
        message = f"Connection '{conn.id}' is defunct: its credentials no longer work, so it must be reconnected"
        raise ConnectionUnusable(message, key="connection_is_defunct", data=data)
    if conn.state is not ConnectionState.READY or conn.credentials is None:
        step = _NEXT_STEP.get(conn.state, "it cannot be used")
        raise ConnectionUnusable(f"Connection '{conn.id}' is not READY (state {conn.state.value}): {step}", data=data)
    return conn.credentials


class ChangeFeed:
    """Per-key anyio events: `wait` parks until `notify` for that key, or until the timeout."""

    def __init__(self, timer: Callable[[float], Awaitable[None]] = anyio.sleep) -> None:
        self._events: dict[str, anyio.Event] = {}
        self._closed = False
        # What a long-poll's timeout waits on: real seconds in service, a test seam so tests need not wait them out.
        self.timer = timer

    def notify(self, key: str) -> None:
        event = self._events.pop(key, None)
        if event is not None:
            event.set()

    def notify_all(self) -> None:
        for key in list(self._events):
            self.notify(key)

    def close(self) -> None:
        """Wake every waiter, and from now on answer each `wait` at once (the server is stopping)."""
        self._closed = True
        self.notify_all()

    async def wait(self, key: str, seconds: float) -> bool:
        """True when a change came (or the feed is closed), False when the timeout passed first."""
        if self._closed:
            return True
        event = self._events.get(key)
        if event is None:
            event = self._events[key] = anyio.Event()
        changed = False
        async with anyio.create_task_group() as race:

            async def on_change() -> None:
                nonlocal changed
                await event.wait()
                changed = True
                race.cancel_scope.cancel()

            async def on_timeout() -> None:
                await self.timer(seconds)
                race.cancel_scope.cancel()

            race.start_soon(on_change)
            race.start_soon(on_timeout)
        return changed


# The `GET /connections` query filters that name a field of the connection's app.
CONNECTION_FILTERS = ("integrationId", "integrationKey", "connectorId", "externalAppId")


def _app_field(conn: Connection, name: str, settings: SandboxSettings) -> str | None:
    app = conn.app
    if app is None:
        return None
    if name in ("integrationId", "integrationKey") and not settings.ensure_sets_integration:
        return None  # R2: a connection made by ensure need not belong to any integration
    return {
        "integrationId": app.integration_id,
        "integrationKey": app.integration_key,
        "connectorId": app.connector_id,
        "externalAppId": app.external_app_id,
    }[name]


class MembraneState:
    def __init__(self, settings: SandboxSettings, *, connect_url: str) -> None:
        self.settings = settings
        self.connect_url = connect_url.rstrip("/")  # the connect page's base; uiUrl = f"{connect_url}/{conn id}"
        self.changes = ChangeFeed()
        self._fresh()

    def _fresh(self) -> None:
        self._tenants: dict[str, Tenant] = {}
        self._connections: dict[str, Connection] = {}
        self._runs = 0
        self.run_logs = RunLogs()
        # Ids count every tenant and connection made since the last reset, so forgetting one never reuses its id.
        self._tenants_made = 0
        self._connections_made = 0

    def reset(self) -> None:
        """Back to the empty world; parked long-polls wake and find their connection gone."""
        self._fresh()
        self.changes.notify_all()

    def forget_tenant(self, key: str) -> None:
        """One tenant back to never seen: its connections go, and their parked long-polls wake to find them gone."""
        tenant = self._tenants.pop(key, None)
        if tenant is None:
            return
        for conn in [conn for conn in self._connections.values() if conn.tenant is tenant]:
            del self._connections[conn.id]
            self.changes.notify(conn.id)

    def release_waiters(self) -> None:
        """The server is stopping: parked long-polls answer now with the current object, and new ones do not park.

        Call it on the event loop that serves the app (anyio events are not thread-safe).
        """
        self.changes.close()

    def now(self) -> float:
        return self.settings.clock if self.settings.clock is not None else time.time()

    # Tenants and lookups -------------------------------------------------------------------------------------------

    def tenant(self, key: str) -> Tenant:
        if key not in self._tenants:
            self._tenants_made += 1
            self._tenants[key] = Tenant(id=f"tenant_{self._tenants_made:04d}", key=key)
        return self._tenants[key]

    def connections(self, tenant: Tenant) -> Iterator[Connection]:
        return (conn for conn in self._connections.values() if conn.tenant is tenant)

    def find_connections(
        self,
        tenant: Tenant,
        filters: Mapping[str, str],
        *,
        connected: bool | None = None,
        is_test: bool | None = None,
        search: str | None = None,
    ) -> list[Connection]:
        """The `GET /connections` filters: app fields of CONNECTION_FILTERS, `connected`, `search` (a substring of
        the name); `isTest=true` finds nothing, as the sandbox makes no test connections."""
        if is_test:
            return []
        needle = (search or "").lower()
        return [
            conn
            for conn in self.connections(tenant)
            if all(value == _app_field(conn, name, self.settings) for name, value in filters.items())
            and (connected is None or conn.connected is connected)
            and needle in conn.name.lower()
        ]

    def connection(self, tenant: Tenant, selector: str, *, by_key: bool = True) -> Connection:
        """A tenant's connection by id, or key unless `by_key` is False; another tenant's is as unknown as a missing
        one (§7)."""
        for conn in self.connections(tenant):
            if selector == conn.id or (by_key and selector == conn.key):
                return conn
        raise NotFound(f"Connection '{selector}' was not found")

    def connection_by_id(self, connection_id: str) -> Connection | None:
        """Any tenant's connection: for the connect page and the control plane, which the link or loopback gate."""
        return self._connections.get(connection_id)

    def connection_for_integration(self, tenant: Tenant, selector: str) -> Connection | None:
        """The one connection of the integration `selector` names (key or id); None if it names none; 400 if many."""
        matches = [
            conn
            for conn in self.connections(tenant)
            if conn.app is not None
            and self.settings.ensure_sets_integration
            and selector in (conn.app.integration_key, conn.app.integration_id)
        ]
        if len(matches) > 1:
            raise MembraneError(f"Integration '{selector}' has {len(matches)} connections: select one by id")
        return matches[0] if matches else None

    def next_run_id(self) -> str:
        self._runs += 1
        return f"run_{self._runs:04d}"

    # The state machine ---------------------------------------------------------------------------------------------

    def ensure(self, tenant: Tenant, app_url: object, name: str | None) -> Connection:
        domain = normalize_app_url(app_url)
        app = known_app_for(domain)
        for conn in self.connections(tenant):
            if (app is not None and conn.app is app) or (app is None and conn.app is None and conn.domain == domain):
                return conn
        polls = self.settings.building_polls
        conn = self._add(tenant, name or (app.name if app else domain), domain, app, ConnectionState.BUILDING)
        conn.polls_left = polls
        if app is not None and polls == 0:
            self._finish_build(conn)
        return conn

    def observe(self, conn: Connection) -> Connection:
        """A GET poll: advances a scheduled build by one poll."""
        if conn.state is ConnectionState.BUILDING and conn.polls_left is not None:
            if conn.polls_left > 0:
                conn.polls_left -= 1
            else:
                self._finish_build(conn)
        return conn

    def _finish_build(self, conn: Connection) -> None:
        conn.polls_left = None
        if conn.app is None:
            message = f"No connector could be built for '{conn.domain}': the sandbox emulates CleverTap only"
            self._set(conn, ConnectionState.SETUP_FAILED, errors=[{"type": "configuration", "message": message}])
        elif self.settings.auto_connect:
            self.connect(conn, DEMO_CREDENTIALS)
        elif self.settings.connect_asks_region:
            self._set(conn, ConnectionState.CLIENT_ACTION_REQUIRED, client_action=REGION_QUESTION)
        else:
            self._set(conn, ConnectionState.CLIENT_ACTION_REQUIRED, client_action=self.connect_action(conn))

    def provide_input(self, conn: Connection, values: Mapping[str, Any]) -> Connection:
        """`PATCH /connections/{id}`: the values a `provide-input` clientAction asked for. A region moves a
        connection that asked for it on to its connect link."""
        region = values.get("region")
        if region is not None and region not in REGIONS:
            raise MembraneError(f"'region' must be one of {', '.join(REGIONS)}", data={"field": "region"})
        conn.input.update(values)
        asked = conn.client_action
        if asked is not None and asked.type == "provide-input" and region is not None:
            self._set(conn, ConnectionState.CLIENT_ACTION_REQUIRED, client_action=self.connect_action(conn))
        return conn

    def connect_link(self, conn: Connection) -> str:
        return f"{self.connect_url}/{conn.id}"

    def connect_action(self, conn: Connection) -> ClientAction:
        """The connect clientAction as `client_action_link` has Membrane send it (R3)."""
        shape = self.settings.client_action_link
        if shape == "agent_instructions":
            return ClientAction("connect", CONNECT_DESCRIPTION, agent_instructions=CONNECT_INSTRUCTIONS)
        if shape == "bare":
            return ClientAction("connect", CONNECT_DESCRIPTION)
        return ClientAction("connect", CONNECT_DESCRIPTION, ui_url=self.connect_link(conn))

    def connect(self, conn: Connection, credentials: CleverTapCredentials) -> Connection:
        """Store verified credentials: the connection becomes READY and its waiters wake."""
        conn.credentials = credentials
        conn.is_defunct = False
        conn.polls_left = None
        self._set(conn, ConnectionState.READY)
        return conn

    def force(
        self,
        conn: Connection,
        state: ConnectionState,
        *,
        errors: list[dict[str, Any]] | None = None,
        client_action: ClientAction | None = None,
        is_defunct: bool = False,
    ) -> Connection:
        """The control plane's override. READY without stored credentials gets the demo account so runs work."""
        conn.polls_left = None
        conn.is_defunct = is_defunct
        if state is ConnectionState.READY and conn.credentials is None:
            conn.credentials = DEMO_CREDENTIALS
        if state is ConnectionState.CLIENT_ACTION_REQUIRED and client_action is None:
            client_action = self.connect_action(conn)
        self._set(conn, state, errors=errors or [], client_action=client_action)
        return conn

    def add_ready(
        self, tenant: Tenant, *, name: str | None, key: str | None, credentials: CleverTapCredentials
    ) -> Connection:
        """A CleverTap connection that is READY at once (the control plane's seed)."""
        if key is not None and any(key == conn.key for conn in self.connections(tenant)):
            raise MembraneError(f"Connection key '{key}' is already used by this tenant", key="already_exists")
        conn = self._add(tenant, name or CLEVERTAP.name, CLEVERTAP.domain, CLEVERTAP, ConnectionState.BUILDING)
        conn.key = key
        return self.connect(conn, credentials)

    def _add(self, tenant: Tenant, name: str, domain: str, app: KnownApp | None, state: ConnectionState) -> Connection:
        now = self.now()
        self._connections_made += 1
        conn = Connection(f"conn_{self._connections_made:04d}", tenant, name, domain, app, state, now, now)
        self._connections[conn.id] = conn
        return conn

    def _set(
        self,
        conn: Connection,
        state: ConnectionState,
        *,
        errors: list[dict[str, Any]] | None = None,
        client_action: ClientAction | None = None,
    ) -> None:
        conn.state = state
        conn.errors = [] if state is ConnectionState.READY else list(errors or [])
        # clientAction exists if and only if the state is CLIENT_ACTION_REQUIRED (§4).
        conn.client_action = client_action if state is ConnectionState.CLIENT_ACTION_REQUIRED else None
        conn.updated_at = self.now()
        self.changes.notify(conn.id)

    async def wait_for_change(self, conn: Connection, seconds: float) -> None:
        """Park a long-poll on a held BUILDING connection until its first change or the timeout.

        A connection building on the poll schedule answers at once: each poll is its unit of build time.
        """
        held = conn.state is ConnectionState.BUILDING and conn.polls_left is None
        if held or (self.settings.long_poll_holds_for_user and conn.state is ConnectionState.CLIENT_ACTION_REQUIRED):
            await self.changes.wait(conn.id, seconds)
