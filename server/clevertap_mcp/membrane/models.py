"""Typed views of the Membrane objects the tools use (membrane-api.md §3–§5).

Models keep only the fields the tools need and ignore the rest, so a credential field that Membrane might echo
(`credentials`, `connectorParameters`, `input`) can never reach an agent through them. A null stands for a field left
out (§11 R9: the SDK schemas mark these optional, and one null must not fail a whole answer).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

READY = "READY"
BUILDING = "BUILDING"
CLIENT_ACTION_REQUIRED = "CLIENT_ACTION_REQUIRED"
TERMINAL_FAILURE_STATES = frozenset({"CONFIGURATION_ERROR", "SETUP_FAILED"})


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in cast(dict[str, Any], data).items() if v is not None}
        return data


class IntegrationRef(_Model):
    """The expanded `integration` of a connection, when Membrane sends it (§4)."""

    id: str | None = None
    key: str | None = None
    name: str | None = None


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
    integration: IntegrationRef | None = None
    connector_id: str | None = None
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
    output_schema: dict[str, Any] | None = None

    def declares_input(self, name: str) -> bool:
        """Whether the input schema names this top-level field: Membrane drops any it does not (§11 R1)."""
        return declares_input(self.input_schema, name)


def declares_input(schema: dict[str, Any] | None, name: str) -> bool:
    properties = (schema or {}).get("properties")
    return isinstance(properties, dict) and name in properties


ItemT = TypeVar("ItemT", bound=_Model)


class Page(_Model, Generic[ItemT]):
    items: list[ItemT]
    cursor: str | None = None
    # Items left out because they did not match the contract (§11 R9): counted, never fatal.
    skipped: int = 0

    @property
    def next_cursor(self) -> str | None:
        return self.cursor or None


_PAGE_CLASSES: dict[type[Any], type[Any]] = {}


def page_class(item_model: type[ItemT]) -> type[Page[ItemT]]:
    """`Page[item_model]`, held for the life of the process: pydantic caches a parametrized generic only weakly, and
    rebuilding it after a garbage collection cost milliseconds on a tool call (bench/http_throughput.py)."""
    made = _PAGE_CLASSES.get(item_model)
    if made is None:
        made = _PAGE_CLASSES[item_model] = Page[item_model]  # type: ignore[valid-type]
    return cast(type[Page[ItemT]], made)


def tolerant_page(item_model: type[ItemT], data: Any) -> Page[ItemT]:
    """A page whose malformed items are left out and counted; ValueError when the page itself is malformed."""
    if not isinstance(data, dict) or not isinstance(cast(dict[str, Any], data).get("items"), list):
        raise ValueError("not a page: no items list")
    body = cast(dict[str, Any], data)
    items: list[ItemT] = []
    skipped = 0
    for raw in cast(list[Any], body["items"]):
        try:
            items.append(item_model.model_validate(raw))
        except ValidationError:
            skipped += 1
    cursor = body.get("cursor")
    return page_class(item_model)(items=items, cursor=cursor if isinstance(cursor, str) else None, skipped=skipped)


class ActionRunResult(_Model):
    output: Any = None
    action_run_id: str | None = None


class ProxyResponse(BaseModel):
    """The upstream answer, verbatim (§9)."""

    model_config = ConfigDict(frozen=True)

    status: int
    headers: list[tuple[str, str]]
    content: bytes
