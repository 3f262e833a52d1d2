"""What the four tools return: the structured output an agent sees, and so the tools' output schemas.

Field names are the agent's (snake_case, flat), not Membrane's wire names.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Union, cast, get_args, get_origin

from mcp_types import CallToolResult, InputRequiredResult, TextContent
from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

_SCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_NODES = ("items", "additionalProperties", "not")
_NULL = {"type": "null"}
# Length caps at least this long exist to refuse abuse; no agent needs to read them.
ABUSE_CAP = 200


def compact_schema(schema: dict[str, Any], *, arguments: bool) -> dict[str, Any]:
    """The same contract in fewer bytes: every tools/list, and every host's context, pays for each schema byte.

    Drops titles (they repeat names) and `additionalProperties: true` (the default), writes `anyOf` of plain types as
    one `type` list, and inlines `$defs` (each is used once). For `arguments` it also drops what tells the agent
    nothing: `default: null`, `{}`/`""` defaults, `minLength: 1`, and length caps of 200 and more that only guard
    against abuse. An optional argument keeps its null arm: strict-mode agents (openai-agents) make every argument
    required, and must be able to pass null rather than invent a value. The server still
    enforces all of it: the SDK validates arguments with the tool's pydantic model, not with this text, and a
    violation comes back as an error naming the field. For outputs it drops `required`: each result model sets every
    field, so the list would only repeat the property names.
    """
    defs = cast(dict[str, Any], schema.get("$defs", {}))
    return _compact(schema, defs, arguments=arguments)


def _compact(node: dict[str, Any], defs: dict[str, Any], *, arguments: bool) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/") and ref.removeprefix("#/$defs/") in defs:
        target = cast(dict[str, Any], defs[ref.removeprefix("#/$defs/")])
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}

    def sub(value: Any) -> Any:
        return _compact(cast(dict[str, Any], value), defs, arguments=arguments) if isinstance(value, dict) else value

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("title", "$defs") or (key == "additionalProperties" and value is True):
            continue
        if arguments and _says_nothing(key, value):
            continue
        if not arguments and key == "default" and value is None:
            continue  # a field left out of a result; its type already admits null
        if not arguments and key == "required":
            # Every result carries every field (the result models have no optional fields, only nullable ones), so
            # in an output schema `required` would only repeat the property names.
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: sub(v) for name, v in cast(dict[str, Any], value).items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [sub(v) for v in cast(list[Any], value)]
        else:
            out[key] = sub(value) if key in _SCHEMA_NODES else value
    arms = cast(list[Any], out.get("anyOf")) if isinstance(out.get("anyOf"), list) else None
    if arms is None:
        return out
    rest = {k: v for k, v in out.items() if k != "anyOf"}
    if all(_plain_type(a) for a in arms):
        types = [cast(dict[str, Any], a)["type"] for a in arms]
        return {**rest, "type": types[0] if len(types) == 1 else types}
    if len(arms) == 2 and _NULL in arms:
        other = cast(dict[str, Any], arms[1] if arms[0] == _NULL else arms[0])
        if isinstance(other.get("type"), str) and "const" not in other:
            # Every other keyword of a typed schema applies to its own type only, so null passes them all; an enum
            # lists null itself. One `type` list, never anyOf: Codex empties a property schema without `type`.
            nullable = {**rest, **other, "type": [other["type"], "null"]}
            if "enum" in other:
                nullable["enum"] = [*other["enum"], None]
            return nullable
    return out


def _plain_type(arm: Any) -> bool:
    return isinstance(arm, dict) and list(cast(dict[str, Any], arm)) == ["type"] and isinstance(arm["type"], str)


def _says_nothing(key: str, value: Any) -> bool:
    if key == "default":
        return value is None or value == {} or value == ""
    if key == "minLength":
        return value == 1
    if key == "maxLength":
        return isinstance(value, int) and value >= ABUSE_CAP
    # Codex drops bounds before the model sees them, so each bounded argument states its range in its description.
    return key in ("minimum", "maximum")


def compact_text(model: BaseModel) -> CallToolResult:
    """A result whose text block is the structured content as compact JSON, not the SDK's indented rendering.

    Hosts that read only `content` still get every field (the indented text was 2× the bytes for nothing).
    """
    structured = model.model_dump(mode="json")
    text = json.dumps(structured, ensure_ascii=False, separators=(",", ":"))
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def _as_call_result(annotation: Any) -> Any:
    """`Model` → `Annotated[CallToolResult, Model]` (the SDK keeps Model's output schema and validates against it);
    an `InputRequiredResult` arm of a union is kept as it is."""
    if get_origin(annotation) in (Union, type(int | str)):
        arms: list[Any] = [a if a is InputRequiredResult else _as_call_result(a) for a in get_args(annotation)]
        return Union[tuple(arms)]  # noqa: UP007 - a union built from a runtime tuple
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        model: Any = annotation
        return Annotated[CallToolResult, model]
    return cast(Any, annotation)


def with_compact_text(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Wrap a tool returning a result model so it returns `compact_text(model)`, keeping the tool's schemas."""
    signature = inspect.signature(fn, eval_str=True)

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = await fn(*args, **kwargs)
        # Only our result models: an InputRequiredResult (also a pydantic model) is a control-flow signal.
        return compact_text(result) if isinstance(result, _Result) else result

    wrapper.__signature__ = signature.replace(  # pyright: ignore[reportAttributeAccessIssue]
        return_annotation=_as_call_result(signature.return_annotation)
    )
    return wrapper


class _Result(BaseModel):
    """Base of the result models; their published schemas go through `compact_schema`."""


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


def _absent() -> Any:
    """A field left out of the result when it has no value (its schema is its type alone: it is never null)."""
    return Field(default=None, exclude_if=lambda v: v is None)


# One search result has `input_schema` (the whole schema) or `inputs` (a one-line signature), never both, and no name
# that only re-spells its key (search_shape.py).
class ActionOut(_Result):
    id: str
    key: str | SkipJsonSchema[None] = _absent()
    name: str | SkipJsonSchema[None] = _absent()
    description: str | SkipJsonSchema[None] = _absent()
    input_schema: dict[str, Any] | SkipJsonSchema[None] = _absent()
    inputs: str | SkipJsonSchema[None] = _absent()


class SearchActionsResult(_Result):
    actions: list[ActionOut]
    next_cursor: str | None  # null on the last page; the `cursor` argument says what to do with it
    # Items of Membrane's page that did not match the contract and were left out (§11 R9); absent when none were.
    skipped: int | None = None


class RunActionResult(_Result):
    output: Any
    action_run_id: str | None
    run_log: str | None = None  # the MCP resource with this run's log (run_logs.py)


class ProxyResult(_Result):
    status: int
    headers: dict[str, str]
    body: Any = Field(description="Parsed JSON, else text.")
