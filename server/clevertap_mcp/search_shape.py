"""What search_actions shows of each action: the best match whole, the others as a one-line signature.

Every byte of a result stays in the agent's context for the rest of the conversation, and Claude Code hands the model
the text block only (shared/docs/hosts.md). Ten full input schemas cost ~7.6 KB, mostly for actions the agent will
not run, and write actions' schemas are the largest. So the first result (and any result named exactly by the
intent) carries its full `input_schema`, which is everything run_action needs; the others carry `inputs`, their
top-level fields with types, required marks (`*`), enums and short format notes (`YYYYMMDD`), enough to choose, and
a search for an action's id or key answers it whole.
"""

from __future__ import annotations

from typing import Any, cast

from clevertap_mcp.membrane.models import Action
from clevertap_mcp.results import ActionOut

# Property descriptions up to this long are format notes ("YYYYMMDD", "E.164"); longer ones are prose that the full
# schema carries.
NOTE_CHARS = 12
# Enums longer than this are cut in a signature (the full schema lists them all).
ENUM_VALUES = 6
# A non-first result's description is its first sentence, at most this long.
SUMMARY_CHARS = 100
# TypeScript's spellings, which every model reads, in fewer bytes.
_SHORT = {"string": "str", "integer": "int", "number": "num", "boolean": "bool", "object": "obj"}


def shape_actions(actions: list[Action], intent: str) -> list[ActionOut]:
    """The results in Membrane's order: full schemas for the first and for exact id/key matches, signatures else."""
    wanted = intent.strip().casefold()
    shaped: list[ActionOut] = []
    for rank, action in enumerate(actions):
        named = wanted in (action.id.casefold(), (action.key or "").casefold())
        if rank == 0 or named:
            shaped.append(
                ActionOut(
                    id=action.id,
                    key=action.key or None,
                    name=None if respells(action.name, action.key) else action.name,
                    description=action.description,
                    input_schema=action.input_schema,  # left out when Membrane gave none: we do not guess one
                )
            )
        else:
            shaped.append(
                ActionOut(
                    id=action.id,
                    key=action.key or None,
                    name=None if respells(action.name, action.key) else action.name,
                    description=summary(action.description),
                    inputs=signature(action.input_schema),
                )
            )
    return shaped


def respells(name: str, key: str | None) -> bool:
    """Whether a name says no more than its key ("Get Profile Count" and get-profile-count)."""
    return bool(key) and _letters(name) == _letters(key or "")


def _letters(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


def summary(description: str | None) -> str | None:
    """The description's first sentence, cut at a word end past SUMMARY_CHARS when longer."""
    if description is None:
        return None
    end = description.find(". ")
    text = description if end < 0 else description[: end + 1]
    if len(text) > SUMMARY_CHARS:
        cut = text.rfind(" ", 0, SUMMARY_CHARS)
        text = text[: cut if cut > 0 else SUMMARY_CHARS].rstrip(",;:") + " …"
    elif len(text) < len(description):
        text += " …"
    return text


def signature(schema: dict[str, Any] | None) -> str:
    """`field*: type (note), …` for an object schema's top-level properties; `*` marks a required field."""
    if not schema:
        return "none"
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        return "none" if schema.get("type") == "object" else _type(schema)
    required = set(cast(list[str], schema.get("required") or []))
    fields = [_field(name, prop, name in required) for name, prop in cast(dict[str, Any], properties).items()]
    text = ", ".join(fields)
    one_of = _one_of_required(schema)
    return f"{text}; needs {one_of}" if one_of else text


def _field(name: str, prop: Any, required: bool) -> str:
    text = f"{name}{'*' if required else ''}: {_type(prop)}"
    note: Any = cast(dict[str, Any], prop).get("description") if isinstance(prop, dict) else None
    if isinstance(note, str) and note and len(note) <= NOTE_CHARS:
        text += f" ({note})"
    return text


def _type(schema: Any) -> str:
    if not isinstance(schema, dict):
        return "any"
    node = cast(dict[str, Any], schema)
    if "const" in node:
        return repr(node["const"])
    if isinstance(node.get("enum"), list):
        values = [str(v) for v in cast(list[Any], node["enum"])]
        shown = "|".join(values[:ENUM_VALUES])
        return shown + ("|…" if len(values) > ENUM_VALUES else "")
    kind = node.get("type")
    for union in ("anyOf", "oneOf"):
        if kind is None and isinstance(node.get(union), list):
            return "|".join(_type(arm) for arm in cast(list[Any], node[union]))
    if isinstance(kind, list):
        return "|".join(_SHORT.get(str(k), str(k)) for k in cast(list[Any], kind))
    if kind == "array":
        item = _type(node.get("items"))
        return f"({item})[]" if "|" in item else f"{item}[]"
    if isinstance(kind, str):
        formatted = node.get("format")
        short = _SHORT.get(kind, kind)
        return f"{short} {formatted}" if isinstance(formatted, str) else short
    return "any"


def _one_of_required(schema: dict[str, Any]) -> str:
    """`identity or guid` for a top-level `anyOf: [{required: [identity]}, {required: [guid]}]`."""
    arms = schema.get("anyOf") or schema.get("oneOf")
    if not isinstance(arms, list):
        return ""
    names: list[str] = []
    for arm in cast(list[Any], arms):
        needed = cast(dict[str, Any], arm).get("required") if isinstance(arm, dict) else None
        if not isinstance(needed, list):
            return ""
        names.append("+".join(str(n) for n in cast(list[Any], needed)))
    return " or ".join(names)
