"""What the four tools return: the structured output an agent sees, and so the tools' output schemas.

Field names are the agent's (snake_case, flat), not Membrane's wire names.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def drop_titles(schema: dict[str, Any]) -> None:
    """Pydantic's titles repeat the field names; every byte of a schema costs the agent context."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        if isinstance(prop, dict):
            prop.pop("title", None)  # pyright: ignore[reportUnknownMemberType]


class _Result(BaseModel):
    model_config = ConfigDict(json_schema_extra=drop_titles)


class ClientActionOut(_Result):
    type: str
    description: str
    ui_url: str | None
    agent_instructions: str | None


class EnsureConnectionResult(_Result):
    connection_id: str
    state: str
    app: str
    client_action: ClientActionOut | None
    errors: list[str]
    message: str


class ActionOut(_Result):
    id: str
    key: str | None
    name: str
    description: str | None
    input_schema: dict[str, Any] | None


class SearchActionsResult(_Result):
    actions: list[ActionOut]
    next_cursor: str | None = Field(description="Pass as cursor for more; null on the last page.")


class RunActionResult(_Result):
    output: Any
    action_run_id: str | None


class ProxyResult(_Result):
    status: int
    headers: dict[str, str]
    body: Any = Field(description="Parsed JSON, else text.")
