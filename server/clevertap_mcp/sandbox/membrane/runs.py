"""Running actions: input validation, the run itself, and the `/act` body (membrane-api.md §3.4, §3.5, §10 #9).

A run checks, in this order: the connection can be used (400 `connection`), the input fits the action's
`inputSchema` (400 `bad_request` naming the failing field), then calls the connector over real HTTP to the emulated
CleverTap. Each run that starts gets the next `run_NNNN` id; a connector failure is 400 `action_run` carrying it.

Open-point choices:
- A missing `input` is `{}`: AS-tools sends `{}` when an action takes no input.
- "Extra properties are silently ignored" (DOCS `docs/actions`): properties an object schema does not declare are
  dropped before the run, at every level where the schema lists `properties` and does not allow extras explicitly
  (`additionalProperties` true or a schema). Objects without declared properties pass through whole.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, cast

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match  # pyright: ignore[reportUnknownVariableType] - untyped default key

from clevertap_mcp.sandbox.connector import ActionFailed, run_action
from clevertap_mcp.sandbox.membrane.errors import ActionRunFailed, MembraneError
from clevertap_mcp.sandbox.membrane.readings import input_schema_of
from clevertap_mcp.sandbox.membrane.render import iso_time
from clevertap_mcp.sandbox.membrane.run_logs import capturing
from clevertap_mcp.sandbox.membrane.search import CatalogAction
from clevertap_mcp.sandbox.membrane.state import Connection, MembraneState, require_usable
from clevertap_mcp.sandbox.membrane.upstream import Upstream

__all__ = ["execute", "ignore_extras", "validate_input"]

_MAX_MESSAGE = 300
_log = logging.getLogger(__name__)


def validate_input(schema: dict[str, Any], value: Any) -> Any:
    """`value` with undeclared properties dropped, or 400 naming the first field that fails `schema`."""
    validator: Any = Draft202012Validator(schema)
    errors = [e for e in validator.iter_errors(value) if e.validator != "additionalProperties"]
    error = cast(Any, best_match(errors))
    if error is not None:
        where = _path(error.absolute_path)
        raise MembraneError(
            f"Invalid input at {where}: {_explain(error)}", data={"path": where, "validator": str(error.validator)}
        )
    return ignore_extras(schema, value)


def _explain(error: Any) -> str:
    """jsonschema's message, except where it would only repeat the whole object back."""
    required_sets = [
        list(cast(list[str], sub.validator_value)) for sub in error.context or () if sub.validator == "required"
    ]
    if error.validator in ("anyOf", "oneOf") and required_sets and len(required_sets) == len(error.context):
        return "needs one of " + ", ".join(repr(name) for names in required_sets for name in names)
    validator_value: Any = error.validator_value
    if error.validator == "not" and isinstance(validator_value, dict) and "required" in validator_value:
        return "must not combine " + ", ".join(repr(n) for n in cast(dict[str, list[str]], validator_value)["required"])
    text = str(error.message)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def ignore_extras(schema: dict[str, Any], value: Any) -> Any:
    """`value` without the properties `schema` does not declare, where it declares some and allows no extras."""
    properties = schema.get("properties")
    if isinstance(value, dict) and isinstance(properties, dict):
        declared = cast(dict[str, Any], properties)
        extras_allowed = schema.get("additionalProperties") not in (None, False)
        return {
            name: ignore_extras(declared[name], item) if isinstance(declared.get(name), dict) else item
            for name, item in cast(dict[str, Any], value).items()
            if name in declared or extras_allowed
        }
    items = schema.get("items")
    if isinstance(value, list) and isinstance(items, dict):
        item_schema = cast(dict[str, Any], items)
        return [ignore_extras(item_schema, item) for item in cast(list[Any], value)]
    return cast(Any, value)


def _path(parts: Iterable[str | int]) -> str:
    where = "input"
    for part in parts:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    return where


async def execute(
    state: MembraneState, upstream: Upstream, action: CatalogAction, conn: Connection, raw_input: Any
) -> dict[str, Any]:
    """Run `action` through `conn`: `{output, actionRunId}`, or the Membrane error that stopped it."""
    credentials = require_usable(conn)
    schema = input_schema_of(action.spec, state.settings)
    validated = validate_input(schema, {} if raw_input is None else raw_input)
    base_url = upstream.base_url(credentials.region, conn.tenant.key)  # the tenant's own CleverTap world
    run_id = state.next_run_id()
    logs: list[str] = []

    async def progress(message: str) -> None:
        # A run is one HTTP exchange, so its progress (count polls, export retries) goes to the sandbox's log and,
        # if the run fails, into the error's `logs`, where Membrane puts a failed run's log lines.
        logs.append(message)
        _log.info("%s %s: %s", run_id, action.spec.key, message)

    log: dict[str, Any] = {
        "id": run_id,
        "actionId": action.id,
        "actionKey": action.spec.key,
        "connectionId": conn.id,
        "input": validated,
        "createdAt": iso_time(state.now()),
    }
    with capturing() as exchanges:
        try:
            output = await run_action(
                action.spec.key,
                cast(dict[str, Any], validated),
                credentials,
                upstream.client,
                base_url,
                progress=progress,
            )
        except ActionFailed as exc:
            failed = ActionRunFailed(exc.message, action_run_id=run_id, data=exc.data, logs=logs)
            state.run_logs.record(conn.tenant.id, {**log, "status": "failed", "error": failed.body()}, exchanges)
            raise failed from None
        except MembraneError as exc:
            exc.action_run_id = run_id
            state.run_logs.record(conn.tenant.id, {**log, "status": "failed", "error": exc.body()}, exchanges)
            raise
    state.run_logs.record(conn.tenant.id, {**log, "status": "success", "output": output}, exchanges)
    return {"output": output, "actionRunId": run_id}
