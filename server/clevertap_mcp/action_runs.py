"""Running an action named by id or key, and what its input schema declares (§11 R1, R5).

`POST /actions/{id}/run` is certain for ids only; whether it takes a key is unconfirmed, while `POST /act {key}` is
documented. A key whose id a search showed runs by that id; anything else is tried as given, and a 404 (nothing ran)
is tried once more as a key through `/act`.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.membrane.errors import MembraneError, NotFoundError
from clevertap_mcp.membrane.models import ActionRunResult, declares_input
from clevertap_mcp.state import AppState

__all__ = ["SAFETY_FLAGS", "declared_input", "refuse_ignored_safety_flags", "run"]

# Input flags that make a call harmless (a preview, a validation): each only counts when the action declares it, and
# the raw CleverTap call that is certain to honour it.
SAFETY_FLAGS: dict[str, str] = {
    "estimate_only": 'proxy_request POST /1/targets/create.json with the same body and "estimate_only": true',
    "dryRun": "proxy_request POST /1/upload?dryRun=1 with the records as CleverTap's upload body",
}


async def run(
    app: AppState,
    client: MembraneClient,
    action_id: str,
    action_input: dict[str, Any],
    *,
    connection_id: str,
    resend_safe: bool = False,
) -> ActionRunResult:
    target = app.action_id_for_key(action_id) or action_id
    try:
        return await client.run_action(target, action_input, connection_id=connection_id, resend_safe=resend_safe)
    except NotFoundError:
        if target != action_id:
            raise
    # A 404 ran nothing, so asking again by key cannot run anything twice.
    return await client.run_action_by_key(action_id, action_input, connection_id=connection_id, resend_safe=resend_safe)


async def declared_input(
    app: AppState, client: MembraneClient, action_id: str, field: str, *, connection_id: str
) -> bool:
    """Whether the action's input schema declares `field`, from its search result or `GET /actions/{id}`.

    Membrane drops fields a schema does not declare (§3.4), so a flag that makes a call harmless only counts when
    this says True; an action that cannot be read counts as not declaring it.
    """
    schema = app.input_schema(action_id)
    if schema is None:
        try:
            action = await client.get_action(app.action_id_for_key(action_id) or action_id, connection_id=connection_id)
        except MembraneError:
            return False
        schema = action.input_schema
        if schema is not None:
            app.remember_input_schemas({name: schema for name in (action.id, action.key, action_id) if name})
    return declares_input(schema, field)


async def refuse_ignored_safety_flags(
    app: AppState, client: MembraneClient, action_id: str, action_input: dict[str, Any], *, connection_id: str
) -> None:
    """Refuse, before anything is sent, a preview or validation flag the action does not declare: Membrane would drop
    it and the call would act for real (§11 R1)."""
    for flag, instead in SAFETY_FLAGS.items():
        if action_input.get(flag) is not True:
            continue
        if not await declared_input(app, client, action_id, flag, connection_id=connection_id):
            raise ToolError(
                f"{action_id} does not declare {flag} in its input_schema, so Membrane would drop it and the call "
                f"would run for real; nothing was sent. For that preview use {instead}."
            )
