"""Typed views of the Membrane objects the tools use (membrane-api.md §3–§5).

Models keep only the fields the tools need and ignore the rest, so a credential field that Membrane might echo
(`credentials`, `connectorParameters`, `input`) can never reach an agent through them.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

READY = "READY"
BUILDING = "BUILDING"
CLIENT_ACTION_REQUIRED = "CLIENT_ACTION_REQUIRED"
TERMINAL_FAILURE_STATES = frozenset({"CONFIGURATION_ERROR", "SETUP_FAILED"})


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class ErrorData(_Model):
    message: str = ""
    type: str | None = None
    key: str | None = None
    data: Any = None


class ClientAction(_Model):
    type: str
    description: str = ""
    ui_url: str | None = None
    agent_instructions: str | None = None


class Connection(_Model):
    id: str
    name: str = ""
    state: str | None = None
    connected: bool | None = None
    is_defunct: bool | None = None
    client_action: ClientAction | None = None
    errors: list[ErrorData] = Field(default_factory=list[ErrorData])
    request_error: ErrorData | None = None
    integration_id: str | None = None
    external_app_id: str | None = None
    key: str | None = None

    @property
    def effective_state(self) -> str:
        """The state, or READY/unknown from `connected` when Membrane sent none (§4)."""
        if self.state:
            return self.state
        return READY if self.connected else "UNKNOWN"

    @property
    def is_ready(self) -> bool:
        return self.effective_state == READY and not self.is_defunct


class Action(_Model):
    id: str
    name: str
    key: str | None = None
    description: str | None = None
    state: str | None = None
    input_schema: dict[str, Any] | None = None


ItemT = TypeVar("ItemT", bound=_Model)


class Page(_Model, Generic[ItemT]):
    items: list[ItemT]
    cursor: str | None = None

    @property
    def next_cursor(self) -> str | None:
        return self.cursor or None


class ActionRunResult(_Model):
    output: Any = None
    action_run_id: str | None = None


class ProxyResponse(BaseModel):
    """The upstream answer, verbatim (§9)."""

    model_config = ConfigDict(frozen=True)

    status: int
    headers: list[tuple[str, str]]
    content: bytes
