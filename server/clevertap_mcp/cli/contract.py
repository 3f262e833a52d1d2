"""`clevertap-mcp doctor --contract`: which reading of membrane-api.md §11 (R1-R7) holds on the configured Membrane.

Read calls only: connection listings and lookups, one action search and one `GET /actions/{id}`, a lookup of an id
that does not exist (to see an error body), and at most one run, of a read action. Each point prints one line;
docs/real-membrane.md says what each reading means for the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TextIO

from clevertap_mcp.config import api_url_problem, resolve_api_url, resolve_credentials
from clevertap_mcp.connections import CLEVERTAP_INTEGRATION_KEY, clevertap_connections
from clevertap_mcp.membrane.auth import MintedToken, TokenSource
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.membrane.errors import APIError, MembraneError, NotFoundError, PermissionDeniedError
from clevertap_mcp.membrane.models import CLIENT_ACTION_REQUIRED, Connection, declares_input
from clevertap_mcp.membrane.retry import NO_RETRY
from clevertap_mcp.tools import CLEVERTAP_DOMAIN

__all__ = ["Finding", "probe", "run_contract"]

REQUEST_TIMEOUT_SECONDS = 15.0
# The read action run once to see whether the run path takes a key (R5): it changes nothing.
READ_ACTION_KEY = "real-time-user-count"
# An id no connection has: its 404 shows what Membrane's own errors look like (R7).
ABSENT_ID = "clevertap-mcp-contract-probe-absent"


@dataclass(frozen=True)
class Finding:
    point: str
    text: str

    def line(self) -> str:
        return f"{self.point} {self.text}"


def _yes(value: bool) -> str:
    return "yes" if value else "no"


async def probe(client: MembraneClient, *, workspace_level: bool) -> list[Finding]:
    """One finding per point, R1-R7, in order; a point that cannot be told here says why."""
    try:
        found, _ = await clevertap_connections(client)
    except PermissionDeniedError as exc:
        r4 = "refused (403)" if workspace_level else f"not probed (403 for a tenant token: {exc.message})"
        return [Finding("R4", f"a token without a tenant may list connections: {r4}")]
    by_key = (await client.list_connections(integration_key=CLEVERTAP_INTEGRATION_KEY)).items
    findings: list[Finding] = []
    ready = next((c for c in found if c.is_ready), None)
    findings.append(await _r1(client, ready))
    if found:
        r2 = _yes(bool(by_key))
        findings.append(Finding("R2", f"connections made by ensure carry the clevertap integration: {r2}"))
    else:
        findings.append(Finding("R2", "connections made by ensure carry the clevertap integration: unknown (none)"))
    findings.append(_r3(found))
    if workspace_level:
        findings.append(Finding("R4", "a token without a tenant may list connections: yes"))
    else:
        findings.append(Finding("R4", "a token without a tenant may list connections: not probed (it names one)"))
    findings.append(await _r5(client, ready))
    findings.append(await _r6(client, found))
    findings.append(await _r7(client))
    return findings


async def _r1(client: MembraneClient, ready: Connection | None) -> Finding:
    label = "create-campaign declares estimate_only:"
    if ready is None:
        return Finding("R1", f"{label} unknown (no READY CleverTap connection to search)")
    page = await client.search_actions(connection_id=ready.id, intent="create a campaign", limit=10)
    action = next((a for a in page.items if a.key == "create-campaign"), None)
    if action is None:
        return Finding("R1", f"{label} unknown (no create-campaign action found)")
    detail = await client.get_action(action.id, connection_id=ready.id)
    declared = declares_input(detail.input_schema or action.input_schema, "estimate_only")
    return Finding("R1", f"{label} {_yes(declared)}")


def _r3(found: list[Connection]) -> Finding:
    label = "a connect clientAction carries uiUrl:"
    waiting = [c for c in found if c.effective_state == CLIENT_ACTION_REQUIRED and c.client_action is not None]
    if not waiting:
        return Finding("R3", f"{label} unknown (no connection waiting for its user)")
    action = waiting[0].client_action
    assert action is not None
    extra = ", with agentInstructions" if action.agent_instructions else ""
    return Finding("R3", f"{label} {_yes(bool(action.ui_url))}{extra}")


async def _r5(client: MembraneClient, ready: Connection | None) -> Finding:
    label = "/actions/{key}/run takes a key:"
    if ready is None:
        return Finding("R5", f"{label} unknown (no READY CleverTap connection)")
    try:
        await client.run_action(READ_ACTION_KEY, {}, connection_id=ready.id, resend_safe=True)
    except NotFoundError:
        return Finding("R5", f"{label} no (404; the server runs keys through /act)")
    except APIError as exc:
        # The run was found and reached (a 400 of the action itself): the key was taken.
        return Finding("R5", f"{label} yes (the run answered {exc.status})")
    return Finding("R5", f"{label} yes")


async def _r6(client: MembraneClient, found: list[Connection]) -> Finding:
    label = "/connections/{key} takes a connection key:"
    keyed = next((c for c in found if c.key and c.key != c.id), None)
    if keyed is None or keyed.key is None:
        return Finding("R6", f"{label} unknown (no CleverTap connection has a key)")
    try:
        conn = await client.get_connection(keyed.key)
    except NotFoundError:
        return Finding("R6", f"{label} no (404)")
    return Finding("R6", f"{label} {_yes(conn.id == keyed.id)}")


async def _r7(client: MembraneClient) -> Finding:
    label = "Membrane's errors carry type:"
    try:
        await client.get_connection(ABSENT_ID)
    except APIError as exc:
        return Finding("R7", f"{label} {_yes(exc.type is not None)} (HTTP {exc.status})")
    return Finding("R7", f"{label} unknown (a connection {ABSENT_ID!r} exists)")


async def run_contract(env: Mapping[str, str], out: TextIO, *, sandbox: bool = False) -> int:
    """Print the findings; 0 when the probe ran, 1 when it could not (no URL, no credentials, no answer).

    With `sandbox`, the probe runs against an embedded sandbox (as `doctor --sandbox` does), never the environment's
    Membrane: what its default settings play.
    """
    if sandbox:
        return await _probe_embedded_sandbox(out)
    base_url = resolve_api_url(env)
    problem = api_url_problem(base_url)
    source, credentials_problem = resolve_credentials(env)
    if problem is not None or source is None:
        out.write(f"✗ cannot probe: {problem or credentials_problem}\n")
        return 1
    return await probe_and_print(base_url, source, out)


async def _probe_embedded_sandbox(out: TextIO) -> int:
    from clevertap_mcp.sandbox.server import SandboxServer
    from clevertap_mcp.sandbox.settings import SandboxSettings

    settings = SandboxSettings(auto_connect=True)
    embedded = SandboxServer(settings)
    embedded.start()
    try:
        source = MintedToken(settings.workspace_key, settings.workspace_secret, settings.tenant_key)
        # A fresh sandbox has no connection, and most points are read off one: make it, as an agent's first
        # ensure_connection would (the sandbox is thrown away after, so this write touches nothing real).
        async with MembraneClient(embedded.base_url, source, timeout=REQUEST_TIMEOUT_SECONDS, retry=NO_RETRY) as c:
            await c.ensure_connection(CLEVERTAP_DOMAIN)
        return await probe_and_print(embedded.base_url, source, out)
    finally:
        embedded.stop()


async def probe_and_print(base_url: str, source: TokenSource, out: TextIO) -> int:
    out.write(f"Membrane contract probe against {base_url} (read calls only; docs/real-membrane.md explains each)\n")
    workspace_level = isinstance(source, MintedToken) and source.workspace_level
    async with MembraneClient(base_url, source, timeout=REQUEST_TIMEOUT_SECONDS, retry=NO_RETRY) as client:
        try:
            findings = await probe(client, workspace_level=workspace_level)
        except MembraneError as exc:
            out.write(f"✗ the probe stopped: {exc}\n")
            return 1
    for finding in findings:
        out.write(finding.line() + "\n")
    out.flush()
    return 0
