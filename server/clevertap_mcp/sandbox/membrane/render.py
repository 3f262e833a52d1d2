"""The JSON shapes of Membrane objects: connections (membrane-api.md §4) and actions (§5).

Open-point choices:
- `errors` is always present, empty when there are none, so clients never branch on its absence.
- `connected` is true exactly when the state is READY and the connection is not defunct; `disconnected` (deprecated)
  is its opposite.
- Stored CleverTap credentials appear only with `includeSecrets=true`, as `credentials`
  `{accountId, passcode, region}`; nothing else ever echoes them.
- Connections of apps the sandbox cannot build have no integration or connector ids.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from clevertap_mcp.sandbox.membrane.readings import has_integration, input_schema_of, spec_description, with_nulls
from clevertap_mcp.sandbox.membrane.search import CatalogAction
from clevertap_mcp.sandbox.membrane.state import ClientAction, Connection, ConnectionState
from clevertap_mcp.sandbox.settings import SandboxSettings

__all__ = ["action_json", "client_action_json", "connection_json", "iso_time"]


def iso_time(epoch_seconds: float) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as Membrane writes timestamps."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def client_action_json(action: ClientAction) -> dict[str, Any]:
    body: dict[str, Any] = {"type": action.type, "description": action.description}
    if action.ui_url is not None:
        body["uiUrl"] = action.ui_url
    if action.agent_instructions is not None:
        body["agentInstructions"] = action.agent_instructions
    return body


def connection_json(
    conn: Connection, *, include_secrets: bool = False, settings: SandboxSettings | None = None
) -> dict[str, Any]:
    """The connection as Membrane answers it; `settings` picks the readings of §11 (R2, R9), the defaults if none."""
    settings = settings or SandboxSettings()
    connected = conn.connected
    body: dict[str, Any] = {
        "id": conn.id,
        "name": conn.name,
        "userId": conn.tenant.id,
        "tenantId": conn.tenant.id,
        "createdAt": iso_time(conn.created_at),
        "updatedAt": iso_time(conn.updated_at),
        "state": conn.state.value,
        "connected": connected,
        "disconnected": not connected,
        "isDefunct": conn.is_defunct,
        "isTest": False,
        "errors": [dict(error) for error in conn.errors],
    }
    if conn.key is not None:
        body["key"] = conn.key
    if conn.app is not None:
        if has_integration(conn, settings):
            body["integrationId"] = conn.app.integration_id
        body["connectorId"] = conn.app.connector_id
        body["externalAppId"] = conn.app.external_app_id
    if conn.state is ConnectionState.BUILDING:
        body["buildingAgentSessionId"] = f"build_{conn.id}"
    if conn.client_action is not None:
        body["clientAction"] = client_action_json(conn.client_action)
    if include_secrets and conn.credentials is not None:
        body["credentials"] = {
            "accountId": conn.credentials.account_id,
            "passcode": conn.credentials.passcode,
            "region": conn.credentials.region,
        }
    if settings.null_optional_fields and not body["errors"]:
        body["errors"] = None
    return with_nulls(body, kind="connection", settings=settings)


def action_json(
    action: CatalogAction, *, integration_id: str, connection: Connection | None, settings: SandboxSettings
) -> dict[str, Any]:
    spec = action.spec
    body: dict[str, Any] = {
        "id": action.id,
        "key": spec.key,
        "name": spec.name,
        "description": spec_description(spec, settings),
        "integrationId": integration_id,
        "state": ConnectionState.READY.value,
        "isReadOnly": spec.read_only,
        "inputSchema": input_schema_of(spec, settings),
        "outputSchema": spec.output_schema,
    }
    if connection is not None:
        body["connectionId"] = connection.id
    return with_nulls(body, kind="action", settings=settings)
