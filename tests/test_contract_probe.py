"""`doctor --contract` against the sandbox under each reading of §11: it reports the reading the sandbox plays, and
makes read calls only (at most one run, of a read action)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clevertap_mcp.cli.contract import run_contract
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import SandboxSettings

from helpers import control
from leakcheck import WRITTEN

pytestmark = pytest.mark.anyio


def _env(sandbox: SandboxServer, *, tenant: bool = True) -> dict[str, str]:
    s = SandboxSettings()
    env = {
        "MEMBRANE_API_URL": sandbox.base_url,
        "MEMBRANE_WORKSPACE_KEY": s.workspace_key,
        "MEMBRANE_WORKSPACE_SECRET": s.workspace_secret,
    }
    if tenant:
        env["MEMBRANE_TENANT_KEY"] = s.tenant_key
    return env


async def _probe(sandbox_factory: Any, *, tenant: bool = True, **settings: Any) -> tuple[list[str], SandboxServer]:
    sandbox: SandboxServer = sandbox_factory(**settings)
    await control(sandbox, "POST", "/connections", {"key": "ct-main"})
    waiting = await control(sandbox, "POST", "/connections", {"key": "ct-second", "name": "CleverTap EU"})
    await control(sandbox, "POST", f"/connections/{waiting['id']}/state", {"state": "CLIENT_ACTION_REQUIRED"})
    made = len((await control(sandbox, "GET", "/requests", None))["items"])
    out = io.StringIO()
    assert await run_contract(_env(sandbox, tenant=tenant), out) == 0
    probe_requests = (await control(sandbox, "GET", "/requests", None))["items"][made:]
    writes = [(e["method"], e["path"]) for e in probe_requests if e["side"] == "membrane" and e["method"] != "GET"]
    assert writes in ([], [("POST", "/actions/real-time-user-count/run")])
    return out.getvalue().splitlines()[1:], sandbox


def _line(lines: list[str], point: str) -> str:
    return next(line for line in lines if line.startswith(point + " "))


@pytest.mark.parametrize(("value", "shown"), [("declared", "yes"), ("undeclared", "no")])
async def test_r1_is_reported(sandbox_factory: Any, value: str, shown: str) -> None:
    lines, _ = await _probe(sandbox_factory, create_campaign_estimate_only=value)
    assert _line(lines, "R1") == f"R1 create-campaign declares estimate_only: {shown}"


@pytest.mark.parametrize(("value", "shown"), [(True, "yes"), (False, "no")])
async def test_r2_is_reported(sandbox_factory: Any, value: bool, shown: str) -> None:
    lines, _ = await _probe(sandbox_factory, ensure_sets_integration=value)
    assert _line(lines, "R2") == f"R2 connections made by ensure carry the clevertap integration: {shown}"


@pytest.mark.parametrize(
    ("value", "shown"), [("ui_url", "yes"), ("agent_instructions", "no, with agentInstructions"), ("bare", "no")]
)
async def test_r3_is_reported(sandbox_factory: Any, value: str, shown: str) -> None:
    lines, _ = await _probe(sandbox_factory, client_action_link=value)
    assert _line(lines, "R3") == f"R3 a connect clientAction carries uiUrl: {shown}"


@pytest.mark.parametrize(("value", "shown"), [("refuse", "refused (403)"), ("default_tenant", "yes")])
async def test_r4_is_reported(sandbox_factory: Any, value: str, shown: str) -> None:
    lines, _ = await _probe(sandbox_factory, tenant=False, no_tenant_claim=value)
    assert _line(lines, "R4") == f"R4 a token without a tenant may list connections: {shown}"


@pytest.mark.parametrize(("value", "shown"), [(True, "yes"), (False, "no (404; the server runs keys through /act)")])
async def test_r5_is_reported(sandbox_factory: Any, value: bool, shown: str) -> None:
    lines, _ = await _probe(sandbox_factory, run_path_accepts_keys=value)
    assert _line(lines, "R5") == f"R5 /actions/{{key}}/run takes a key: {shown}"


@pytest.mark.parametrize(("value", "shown"), [(True, "yes"), (False, "no (404)")])
async def test_r6_is_reported(sandbox_factory: Any, value: bool, shown: str) -> None:
    lines, _ = await _probe(sandbox_factory, path_selector_accepts_keys=value)
    assert _line(lines, "R6") == f"R6 /connections/{{key}} takes a connection key: {shown}"


@pytest.mark.parametrize(("value", "shown"), [(True, "yes"), (False, "no")])
async def test_r7_is_reported(sandbox_factory: Any, value: bool, shown: str) -> None:
    lines, _ = await _probe(sandbox_factory, error_types=value)
    assert _line(lines, "R7") == f"R7 Membrane's errors carry type: {shown} (HTTP 404)"


async def test_the_probe_without_credentials_says_what_is_missing(sandbox_factory: Any) -> None:
    sandbox: SandboxServer = sandbox_factory()
    out = io.StringIO()
    assert await run_contract({"MEMBRANE_API_URL": sandbox.base_url}, out) == 1
    assert "cannot probe" in out.getvalue() and "MEMBRANE_TOKEN" in out.getvalue()


def test_the_doctor_command_runs_the_probe_with_contract(sandbox_factory: Any, tmp_path: Path) -> None:
    sandbox: SandboxServer = sandbox_factory(auto_connect=True)
    proc = subprocess.run(
        [sys.executable, "-m", "clevertap_mcp", "doctor", "--contract"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **_env(sandbox)},
        timeout=60,
        check=False,
    )
    WRITTEN.extend([proc.stdout, proc.stderr])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line.split(" ", 1)[0] for line in proc.stdout.splitlines()[1:]] == [f"R{n}" for n in range(1, 8)]


def test_doctor_sandbox_contract_probes_an_embedded_sandbox_and_not_the_environments_membrane(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    configured: SandboxServer = sandbox_factory()
    proc = subprocess.run(
        [sys.executable, "-m", "clevertap_mcp", "doctor", "--sandbox", "--contract"],
        capture_output=True,
        text=True,
        # A Membrane URL with no credentials: probing it would end in "cannot probe".
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "MEMBRANE_API_URL": configured.base_url},
        timeout=60,
        check=False,
    )
    WRITTEN.extend([proc.stdout, proc.stderr])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    header, *lines = proc.stdout.splitlines()
    assert configured.base_url not in header and "http://127.0.0.1:" in header
    assert [line.split(" ", 1)[0] for line in lines] == [f"R{n}" for n in range(1, 8)]
    # The embedded sandbox has a READY connection to read the points off, so R1 is not unknown for want of one.
    assert lines[0] in {
        "R1 create-campaign declares estimate_only: yes",
        "R1 create-campaign declares estimate_only: no",
    }
