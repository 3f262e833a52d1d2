"""How the sandbox plays the points of Membrane's contract no public source settles (membrane-api.md §11, R1-R9).

Each reading is a `SandboxSettings` field; this module turns it into what the emulated routes serve, so the routes
and the state stay written for one behaviour and ask here where the readings differ.
"""

from __future__ import annotations

import copy
from typing import Any

from clevertap_mcp.sandbox.connector import ActionSpec
from clevertap_mcp.sandbox.membrane.state import Connection
from clevertap_mcp.sandbox.settings import SandboxSettings

__all__ = [
    "ESTIMATE_ONLY",
    "MALFORMED_SEARCH_ITEM",
    "has_integration",
    "input_schema_of",
    "spec_description",
    "with_nulls",
]

ESTIMATE_ONLY = "estimate_only"
# R9: what one bad item of a search page looks like: no `id`, a `name` that is not a string.
MALFORMED_SEARCH_ITEM: dict[str, Any] = {"key": "half-built-action", "name": 7, "state": "BUILDING"}
# Optional fields of a connection and an action (SDK BaseConnection, BaseAction) a null may stand for (R9).
_NULLABLE_CONNECTION = ("key", "clientAction", "requestError", "integrationId", "connectorId", "isDefunct")
_NULLABLE_ACTION = ("uuid", "parentId", "meta", "config", "defaultOutputSchema")


def _drops_estimate_only(spec: ActionSpec, settings: SandboxSettings) -> bool:
    return spec.key == "create-campaign" and settings.create_campaign_estimate_only == "undeclared"


def input_schema_of(spec: ActionSpec, settings: SandboxSettings) -> dict[str, Any]:
    """The inputSchema Membrane shows and validates against (R1): without estimate_only when it is undeclared, so
    a run drops it as an extra property and creates."""
    if not _drops_estimate_only(spec, settings):
        return spec.input_schema
    schema = copy.deepcopy(spec.input_schema)
    schema.get("properties", {}).pop(ESTIMATE_ONLY, None)
    return schema


def spec_description(spec: ActionSpec, settings: SandboxSettings) -> str:
    if not _drops_estimate_only(spec, settings):
        return spec.description
    return spec.description.split(" estimate_only=")[0]


def has_integration(conn: Connection, settings: SandboxSettings) -> bool:
    """R2: whether a CleverTap connection belongs to the workspace's `clevertap` integration."""
    return conn.app is not None and settings.ensure_sets_integration


def with_nulls(body: dict[str, Any], *, kind: str, settings: SandboxSettings) -> dict[str, Any]:
    """R9: the optional fields a body leaves out, sent as null instead."""
    if not settings.null_optional_fields:
        return body
    names = _NULLABLE_CONNECTION if kind == "connection" else _NULLABLE_ACTION
    return {**{name: None for name in names}, **body}
