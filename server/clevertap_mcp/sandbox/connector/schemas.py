"""Building blocks of the connector's JSON Schemas: CleverTap's field shapes, stated once.

Token-cheap on purpose: no titles, descriptions only where a quirk needs one.
"""

from __future__ import annotations

from typing import Any

from clevertap_mcp.sandbox.clevertap.campaigns import TARGET_MODES as CAMPAIGN_TARGET_MODES
from clevertap_mcp.sandbox.clevertap.query import OPERATORS

__all__ = [
    "COUNT_OUTPUT",
    "CURSOR_INPUT",
    "DATE",
    "DRY_RUN",
    "EVENT_NAME",
    "EVENT_PROPERTIES",
    "HAS_IDENTITY",
    "ID",
    "IDENTITY",
    "PAGE_OUTPUT",
    "PEOPLE_QUERY",
    "QUERY",
    "QUERY_REQUIRED",
    "SPLIT",
    "TARGET_MODES",
    "TS",
    "UPLOAD_OUTPUT",
    "batch",
    "obj",
    "str_or_list",
]


def obj(properties: dict[str, Any], required: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    schema.update(extra)
    return schema


# from/to are CleverTap's int YYYYMMDD; the bounds refuse epochs, strings and short numbers. Impossible calendar
# dates (20260231) pass here and CleverTap itself answers them with code 4002.
DATE: dict[str, Any] = {"type": "integer", "minimum": 20000101, "maximum": 20991231, "description": "YYYYMMDD"}
ID: dict[str, Any] = {"type": "integer", "minimum": 1, "description": "Campaign id from get-campaigns"}
EVENT_NAME: dict[str, Any] = {"type": "string", "minLength": 1, "description": "Exact, case-sensitive"}
EVENT_PROPERTIES: dict[str, Any] = {
    "type": "array",
    "items": obj(
        {"name": {"type": "string", "minLength": 1}, "operator": {"enum": list(OPERATORS)}, "value": {}},
        ("name",),
    ),
}
QUERY: dict[str, Any] = {
    "event_name": EVENT_NAME,
    "from": DATE,
    "to": DATE,
    "event_properties": EVENT_PROPERTIES,
    "session_properties": {"type": "array", "items": {"type": "object"}},
    "common_profile_properties": {"type": "object"},
}
QUERY_REQUIRED = ("event_name", "from", "to")
# CQL's only way to say "did X but not Y" (§8). Shown only where the question is about people (who to count or
# target), so the other query actions' schemas stay small; CleverTap checks its content, the emulator too.
PEOPLE_QUERY: dict[str, Any] = {
    **QUERY,
    "advanced_query": {
        "type": "object",
        "description": "{did_all|did_any|did_none: [{event_name, from?, to?}]}",
    },
}
CURSOR_INPUT = obj(
    {"cursor": {"type": "string", "pattern": "^[A-Za-z0-9%+/=_.~-]+$", "description": "next_cursor, unchanged"}},
    ("cursor",),
)
PAGE_OUTPUT = obj(
    {"records": {"type": "array", "items": {"type": "object"}}, "next_cursor": {"type": ["string", "null"]}},
    ("records", "next_cursor"),
)
COUNT_OUTPUT = obj({"count": {"type": "integer"}}, ("count",))
UPLOAD_OUTPUT = obj(
    {
        "status": {"enum": ["success", "partial", "fail"]},
        "processed": {"type": "integer"},
        "unprocessed": {"type": "array", "items": {"type": "object"}},
    },
    ("status", "processed", "unprocessed"),
)
DRY_RUN: dict[str, Any] = {"type": "boolean", "description": "Validate only, store nothing"}
# Epoch seconds; the maximum refuses milliseconds, CleverTap's classic error 525.
TS: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 9999999999, "description": "Epoch seconds, not ms"}
IDENTITY = {"identity": {"type": "string", "minLength": 1}, "objectId": {"type": "string", "minLength": 1}}
HAS_IDENTITY = [{"required": ["identity"]}, {"required": ["objectId"]}]


def batch(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item, "minItems": 1, "maxItems": 1000}


def str_or_list(description: str) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "string", "minLength": 1},
            {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1, "maxItems": 100},
        ],
        "description": description,
    }


SPLIT = {"type": "boolean"}
TARGET_MODES = list(CAMPAIGN_TARGET_MODES)
