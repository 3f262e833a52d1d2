"""The CleverTap connector's action catalog: key, name, description and JSON Schemas of each action.

The schemas are what Membrane shows an agent and what it validates input against before `run_action`, so they use
CleverTap's own request field names, refuse what CleverTap would refuse where a schema can say so, and stay short.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from clevertap_mcp.sandbox.connector.schemas import (
    COUNT_OUTPUT,
    CURSOR_INPUT,
    DATE,
    DRY_RUN,
    EVENT_NAME,
    HAS_IDENTITY,
    ID,
    IDENTITY,
    PAGE_OUTPUT,
    PEOPLE_QUERY,
    QUERY,
    QUERY_REQUIRED,
    SPLIT,
    TARGET_MODES,
    TS,
    UPLOAD_OUTPUT,
    batch,
    obj,
    str_or_list,
)

__all__ = ["ACTIONS", "ActionSpec", "action_spec"]


@dataclass(frozen=True)
class ActionSpec:
    key: str
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    read_only: bool  # True for actions that only read

    def __post_init__(self) -> None:
        # The schemas are assembled from shared fragments; each spec gets its own copy so no caller that edits
        # one schema (say, to render it) changes the others.
        object.__setattr__(self, "input_schema", copy.deepcopy(self.input_schema))
        object.__setattr__(self, "output_schema", copy.deepcopy(self.output_schema))


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        key="real-time-user-count",
        name="Real-Time User Count",
        description="Users active right now (within 5 minutes). Each flag set true adds that breakdown.",
        input_schema=obj({flag: SPLIT for flag in ("user_type", "session_source", "browser", "os", "device", "new")}),
        output_schema=obj(
            {"count": {"type": "integer"}, "last_processed_ts": {"type": "integer"}}, ("count", "last_processed_ts")
        ),
        read_only=True,
    ),
    ActionSpec(
        key="get-campaign-report",
        name="Get Campaign Report",
        description=(
            "Delivery stats of one campaign (sent, clicked, ...). Fails while the campaign is scheduled or running."
        ),
        input_schema=obj({"id": ID}, ("id",)),
        output_schema=obj({"result": {"type": "object"}}, ("result",)),
        read_only=True,
    ),
    ActionSpec(
        key="upload-device-tokens",
        name="Upload Device Tokens",
        description=(
            "Add push tokens (FCM, APNs, ...) to profiles by objectId. Up to 1000 per call; bad records are reported."
        ),
        input_schema=obj(
            {
                "tokens": batch(
                    obj(
                        {
                            "objectId": IDENTITY["objectId"],
                            "tokenData": obj(
                                {
                                    "id": {"type": "string", "minLength": 1},
                                    "type": {"enum": ["apns", "gcm", "fcm", "wns", "mpns", "chrome"]},
                                    "keys": obj({"p256dh": {"type": "string"}, "auth": {"type": "string"}}),
                                },
                                ("id", "type"),
                            ),
                        },
                        ("objectId", "tokenData"),
                    )
                ),
                "dryRun": DRY_RUN,
            },
            ("tokens",),
        ),
        output_schema=UPLOAD_OUTPUT,
        read_only=False,
    ),
    ActionSpec(
        key="get-campaigns",
        name="Get Campaigns",
        description=(
            "List the campaigns scheduled in a date range (inclusive), with id, status and scheduled_on "
            "(yyyyMMddHHmm, UTC). Only API-created ones: dashboard campaigns never appear."
        ),
        input_schema=obj({"from": DATE, "to": DATE}, ("from", "to")),
        output_schema=obj({"targets": {"type": "array", "items": {"type": "object"}}}, ("targets",)),
        read_only=True,
    ),
    ActionSpec(
        key="stop-campaign",
        name="Stop Campaign",
        description="Stop a scheduled or running campaign by id. A finished or stopped one is left as it is.",
        input_schema=obj({"id": ID}, ("id",)),
        output_schema=obj(
            {"status": {"type": "string"}, "id": {"type": "integer"}, "message": {"type": "string"}},
            ("status", "id", "message"),
        ),
        read_only=False,
    ),
    ActionSpec(
        key="create-campaign",
        name="Create Campaign",
        description=(
            "Create a push/email/sms/... campaign. Audience: `where` or `segment`, not both; neither targets "
            "everyone. estimate_only=true previews reach without creating anything."
        ),
        input_schema=obj(
            {
                "name": {"type": "string", "minLength": 1},
                "target_mode": {"enum": TARGET_MODES},
                "content": {
                    "type": "object",
                    "description": "push/webpush {title, body}; email {subject, body, sender_name}; sms {body}",
                },
                "when": {
                    "anyOf": [{"type": "string", "pattern": r"^(now|\d{8} \d{2}:\d{2})$"}, {"type": "object"}],
                    "description": "'now', 'YYYYMMDD HH:MM' or a schedule object",
                },
                "where": obj(PEOPLE_QUERY, QUERY_REQUIRED),
                "segment": {"type": ["integer", "string"]},
                "devices": {"type": "array", "items": {"enum": ["android", "ios", "windows"]}},
                "estimate_only": {"type": "boolean"},
                "respect_frequency_caps": {"type": "boolean"},
                "labels": {"type": "array", "items": {"type": "string"}},
            },
            ("name", "target_mode", "content", "when"),
            **{"not": {"required": ["where", "segment"]}},
        ),
        output_schema=obj(
            {
                "created": {"type": "boolean", "description": "false for an estimate_only preview"},
                "id": {"type": "integer"},
                "estimates": {"type": "object", "description": "Reach by platform"},
            },
            ("created", "estimates"),
        ),
        read_only=False,
    ),
    ActionSpec(
        key="get-profile-count",
        name="Get Profile Count",
        description="Number of unique profiles (users) that did an event in a date range.",
        input_schema=obj(PEOPLE_QUERY, QUERY_REQUIRED),
        output_schema=COUNT_OUTPUT,
        read_only=True,
    ),
    ActionSpec(
        key="get-event-count",
        name="Get Event Count",
        description=(
            "Number of times an event happened in a date range. Trends or a property's sum (revenue): "
            "proxy_request POST /1/counts/trends.json."
        ),
        input_schema=obj(QUERY, QUERY_REQUIRED),
        output_schema=COUNT_OUTPUT,
        read_only=True,
    ),
    ActionSpec(
        key="delete-user-profile",
        name="Delete User Profile",
        description="Delete profiles by identity and/or guid (objectId), up to 100 each. Deletion is asynchronous.",
        input_schema=obj(
            {"identity": str_or_list("Your user id(s)"), "guid": str_or_list("CleverTap objectId(s)")},
            anyOf=[{"required": ["identity"]}, {"required": ["guid"]}],
        ),
        output_schema=obj(
            {
                "status": {"type": "string"},
                "identity": {"type": "array", "items": {"type": "string"}},
                "guid": {"type": "array", "items": {"type": "string"}},
                "message": {"type": "string"},
            },
            ("status", "message"),
        ),
        read_only=False,
    ),
    ActionSpec(
        key="get-events-by-cursor",
        name="Get Events by Cursor",
        description="Next page of a get-events export. Pass next_cursor unchanged; null next_cursor means done.",
        input_schema=CURSOR_INPUT,
        output_schema=PAGE_OUTPUT,
        read_only=True,
    ),
    ActionSpec(
        key="get-events",
        name="Get Events",
        description=(
            "Export occurrences of one event in a date range, first page. ts in records is yyyyMMddHHmmss (UTC). "
            "Continue with get-events-by-cursor while next_cursor is not null."
        ),
        input_schema=obj(
            {**QUERY, "batch_size": {"type": "integer", "minimum": 1, "maximum": 5000}, "app": {"type": "boolean"}},
            QUERY_REQUIRED,
        ),
        output_schema=PAGE_OUTPUT,
        read_only=True,
    ),
    ActionSpec(
        key="get-user-profiles-by-cursor",
        name="Get User Profiles by Cursor",
        description="Next page of a get-user-profiles export. Pass next_cursor unchanged; null next_cursor means done.",
        input_schema=CURSOR_INPUT,
        output_schema=PAGE_OUTPUT,
        read_only=True,
    ),
    ActionSpec(
        key="get-user-profiles",
        name="Get User Profiles",
        description=(
            "Export the profiles that did an event in a date range, first page. "
            "Continue with get-user-profiles-by-cursor while next_cursor is not null. "
            "One user by email/identity: proxy_request GET /1/profile.json."
        ),
        input_schema=obj(
            {
                **QUERY,
                "batch_size": {"type": "integer", "minimum": 1, "maximum": 5000},
                "app": {"type": "boolean"},
                "events": {"type": "boolean", "description": "Include per-event summary (default true)"},
                "profile": {"type": "boolean", "description": "Include custom properties (default true)"},
            },
            QUERY_REQUIRED,
        ),
        output_schema=PAGE_OUTPUT,
        read_only=True,
    ),
    ActionSpec(
        key="upload-events",
        name="Upload Events",
        description=(
            "Track what users do: record their events (unknown identities create profiles). Up to 1000 per call; "
            "not idempotent. System events such as App Launched are refused."
        ),
        input_schema=obj(
            {
                "events": batch(
                    obj(
                        {**IDENTITY, "evtName": EVENT_NAME, "evtData": {"type": "object"}, "ts": TS},
                        ("evtName", "evtData"),
                        anyOf=HAS_IDENTITY,
                    )
                ),
                "dryRun": DRY_RUN,
            },
            ("events",),
        ),
        output_schema=UPLOAD_OUTPUT,
        read_only=False,
    ),
    ActionSpec(
        key="upload-user-profiles",
        name="Upload User Profiles",
        description=(
            "Create or update profiles by identity or objectId (merged by identity). Up to 1000 per call. "
            "Standard keys: Name, Email, Phone (+country code), Gender (M/F), DOB ($D_<epoch>), Customer Type, "
            "MSG-email/-push/-sms (opt-in, bool)."
        ),
        input_schema=obj(
            {
                "profiles": batch(
                    obj(
                        {**IDENTITY, "profileData": {"type": "object"}, "ts": TS},
                        ("profileData",),
                        anyOf=HAS_IDENTITY,
                    )
                ),
                "dryRun": DRY_RUN,
            },
            ("profiles",),
        ),
        output_schema=UPLOAD_OUTPUT,
        read_only=False,
    ),
)

_BY_KEY = {spec.key: spec for spec in ACTIONS}


def action_spec(key: str) -> ActionSpec | None:
    """The action with this key, or None."""
    return _BY_KEY.get(key)
