"""Which connection a tool call means: the one the agent named, resolved to its id (§11 R6), or the READY CleverTap
connection when it named none (§11 R2).

Neither may rely on what Membrane leaves unconfirmed. A connection made by `ensure` need not belong to a `clevertap`
integration, so `GET /connections?integrationKey=clevertap` may list nothing: the lookup then reads every page and
recognises CleverTap on the connection itself. A connection key may not be accepted in a path, so a key that got a 404
is turned into the id once and the id is used from then on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from mcp.server.mcpserver.exceptions import ToolError

from clevertap_mcp.agent_errors import tool_error
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.membrane.errors import MembraneError, NotFoundError
from clevertap_mcp.membrane.models import Connection
from clevertap_mcp.state import AppState

T = TypeVar("T")

__all__ = [
    "CLEVERTAP_INTEGRATION_KEY",
    "clevertap_connections",
    "default_connection",
    "is_clevertap",
    "key_to_id",
    "resolve_connection",
    "retried_by_id",
]

CLEVERTAP_INTEGRATION_KEY = "clevertap"
PAGE_SIZE = 100
# 50 pages of 100: a workspace with more connections than that is told to name one.
MAX_PAGES = 50

NO_CONNECTION = (
    "There is no ready CleverTap connection for these credentials yet. Call ensure_connection first (it finds the "
    "existing CleverTap connection, or creates one and gives the user a link), then call this tool again."
)


def is_clevertap(conn: Connection) -> bool:
    """Whether a connection is CleverTap's, read off the connection itself: its integration when Membrane names
    one, else its name (ensure names a new connection after the app)."""
    integration = conn.integration
    keys = {integration.key if integration else None, integration.name if integration else None}
    if any(k and k.lower() == CLEVERTAP_INTEGRATION_KEY for k in keys):
        return True
    return CLEVERTAP_INTEGRATION_KEY in conn.name.lower()


async def _all_connections(client: MembraneClient) -> tuple[list[Connection], bool]:
    """Every connection the token sees (following the cursor), and whether there were more than MAX_PAGES."""
    found: list[Connection] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_connections(cursor=cursor, limit=PAGE_SIZE)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found, False
    return found, True


async def clevertap_connections(client: MembraneClient) -> tuple[list[Connection], bool]:
    """The CleverTap connections these credentials see, READY ones first, and whether the listing was cut short.

    Cheap first: where ensure does make integrations, the `integrationKey` filter finds a READY one on one page.
    """
    page = await client.list_connections(integration_key=CLEVERTAP_INTEGRATION_KEY)
    if any(c.is_ready for c in page.items):
        return sorted(page.items, key=lambda c: not c.is_ready), False
    everything, truncated = await _all_connections(client)
    integrations = _ids(page.items)
    found = [c for c in everything if is_clevertap(c) or (c.integration_id and c.integration_id in integrations)]
    return sorted(found, key=lambda c: not c.is_ready), truncated


async def default_connection(app: AppState, client: MembraneClient) -> str:
    """The READY CleverTap connection, found without remembering anything, or a ToolError saying what to do."""
    try:
        found, truncated = await clevertap_connections(client)
    except MembraneError as exc:
        raise tool_error(exc) from None
    ready = [c for c in found if c.is_ready]
    if not ready:
        raise ToolError(_none_ready(found, truncated))
    chosen = ready[0]
    app.remember_connection(chosen.id, chosen.key)
    app.last_connection_id = chosen.id
    return chosen.id


def _ids(conns: list[Connection]) -> set[str]:
    return {c.integration_id for c in conns if c.integration_id}


def _none_ready(clevertap: list[Connection], truncated: bool) -> str:
    if clevertap:
        listed = ", ".join(f"{c.id} ({c.effective_state})" for c in clevertap[:5])
        return (
            f"No CleverTap connection is ready: {listed}. Call ensure_connection with "
            f'connection_id="{clevertap[0].id}" to see what it needs (the user may have to reconnect).'
        )
    if truncated:
        return (
            f"These credentials see more than {MAX_PAGES * PAGE_SIZE} connections and none of the first ones is "
            "CleverTap's. Pass connection_id, or call ensure_connection to find it."
        )
    return NO_CONNECTION


def resolve_connection(app: AppState, selector: str) -> str:
    """The id a connection id or key stands for, as far as this caller knows it; else the selector as given (it is
    an id far more often than a key, so it is not looked up before use)."""
    return app.connection_id_for(selector) or selector


async def key_to_id(app: AppState, client: MembraneClient, selector: str) -> str | None:
    """After a call by `selector` got 404: the id of the connection whose key it is, if it is one (§11 R6: a path
    may not accept a connection key). Remembered, so the id is used from then on."""
    if app.connection_id_for(selector) is not None:
        return None
    try:
        everything, _ = await _all_connections(client)
    except MembraneError:
        return None
    match = next((c for c in everything if c.key == selector and c.id != selector), None)
    if match is None:
        return None
    app.remember_connection(match.id, match.key, selector)
    return match.id


async def retried_by_id(
    app: AppState, client: MembraneClient, named: str | None, conn_id: str, call: Callable[[str], Awaitable[T]]
) -> T:
    """`call(conn_id)`; on a 404 for a connection the agent `named` by a key the path does not take (§11 R6), once
    more with that connection's id. A 404 ran nothing, so the second call cannot repeat a change."""
    try:
        return await call(conn_id)
    except NotFoundError:
        if not named or (by_id := await key_to_id(app, client, conn_id)) is None:
            raise
    return await call(by_id)
