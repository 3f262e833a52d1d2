"""`clevertap-mcp doctor`: one ✓/✗ line per check with its fix; exit 0 only when all is well; never a secret."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from clevertap_mcp.cli.doctor import Check, expiry_check, packages_check, python_check, run_doctor
from clevertap_mcp.cli.terminal import utf8_output
from clevertap_mcp.membrane.auth import StaticToken
from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import DEMO_TENANT_KEY, DEMO_WORKSPACE_KEY, DEMO_WORKSPACE_SECRET

from helpers import call, complete_connect_page, control, demo_token, free_port, mcp_client, ok
from leakcheck import WRITTEN

pytestmark = pytest.mark.anyio

SandboxFactory = Callable[..., SandboxServer]


def workspace_env(sandbox: SandboxServer, secret: str = DEMO_WORKSPACE_SECRET) -> dict[str, str]:
    return {
        "MEMBRANE_API_URL": sandbox.base_url,
        "MEMBRANE_WORKSPACE_KEY": DEMO_WORKSPACE_KEY,
        "MEMBRANE_WORKSPACE_SECRET": secret,
        "MEMBRANE_TENANT_KEY": DEMO_TENANT_KEY,
    }


async def doctor(env: dict[str, str], **options: bool) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = await run_doctor(env, out, **options)
    WRITTEN.append(out.getvalue())
    return code, out.getvalue().splitlines()


def line_of(lines: list[str], label: str) -> str:
    [line] = [line for line in lines if line[2:].startswith(label + ":")]
    return line


async def test_all_is_well_with_a_ready_connection_and_every_line_is_a_check(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory()
    await control(sandbox, "POST", "/connections", {"tenantKey": DEMO_TENANT_KEY})
    code, lines = await doctor(workspace_env(sandbox))
    assert code == 0
    assert [line[:2] for line in lines] == ["✓ "] * 7
    assert [line[2:].split(":")[0] for line in lines] == [
        "Python",
        "Packages",
        "Membrane API URL",
        "Credentials",
        "Token expiry",
        "Membrane API",
        "CleverTap connection",
    ]
    assert line_of(lines, "Credentials") == (
        f"✓ Credentials: token minted from workspace key {DEMO_WORKSPACE_KEY!r}, tenant {DEMO_TENANT_KEY!r}"
    )
    assert line_of(lines, "CleverTap connection").endswith(" is READY")
    assert DEMO_WORKSPACE_SECRET not in "\n".join(lines)


async def test_without_credentials_it_names_the_variables_to_set() -> None:
    code, lines = await doctor({})
    assert code == 1
    assert lines[-1].startswith(
        "✗ Credentials: none set — fix: run `clevertap-mcp login` (a browser sign-in), or set MEMBRANE_TOKEN, or MEMBRANE_WORKSPACE_KEY and "
    )


async def test_a_key_without_its_secret_is_named() -> None:
    code, lines = await doctor({"MEMBRANE_WORKSPACE_KEY": "ws"})
    assert code == 1
    assert "MEMBRANE_WORKSPACE_SECRET is not set" in line_of(lines, "Credentials")


async def test_an_unusable_api_url_is_named_before_anything_is_sent() -> None:
    code, lines = await doctor({"MEMBRANE_API_URL": "ftp://membrane.example", "MEMBRANE_TOKEN": "t0k3n-value"})
    assert code == 1
    assert lines[-1].startswith("✗ Membrane API URL: 'ftp://membrane.example' is not usable — fix: MEMBRANE_API_URL")


async def test_an_expired_token_is_reported_with_when_and_membrane_refuses_it(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory()
    claims = {"iss": DEMO_WORKSPACE_KEY, "id": DEMO_TENANT_KEY, "exp": int(time.time()) - 7200}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the sandbox's demo secret is short
        token = jwt.encode(claims, DEMO_WORKSPACE_SECRET, algorithm="HS256")
    StaticToken(token, origin="test")  # registers it for the final secret scan
    code, lines = await doctor({"MEMBRANE_API_URL": sandbox.base_url, "MEMBRANE_TOKEN": token})
    assert code == 1
    assert line_of(lines, "Credentials") == "✓ Credentials: static token from MEMBRANE_TOKEN"
    assert line_of(lines, "Token expiry").startswith("✗ Token expiry: the token expired 2 h ago (")
    assert "— fix: get a fresh Membrane token" in line_of(lines, "Token expiry")
    assert line_of(lines, "Membrane API").startswith(f"✗ Membrane API: {sandbox.base_url} rejected the token (401: ")
    assert token not in "\n".join(lines)


def test_a_token_about_to_expire_is_flagged_and_a_distant_one_passes() -> None:
    now = 1_800_000_000.0
    soon = StaticToken(jwt.encode({"exp": int(now) + 60}, "k" * 32, algorithm="HS256"), origin="test")
    later = StaticToken(jwt.encode({"exp": int(now) + 86400}, "k" * 32, algorithm="HS256"), origin="test")
    assert expiry_check(soon, now=now).line().startswith("✗ Token expiry: the token expires in 60 s (")
    assert expiry_check(later, now=now).line().startswith("✓ Token expiry: valid for 24 h more (until ")
    opaque = StaticToken("not-a-jwt-token", origin="test")
    assert expiry_check(opaque, now=now).ok


async def test_a_wrong_secret_is_reported_as_rejected_without_showing_it(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory()
    code, lines = await doctor(workspace_env(sandbox, secret="not-the-workspace-secret"))
    assert code == 1
    assert "rejected the token (401" in line_of(lines, "Membrane API")
    assert "— fix: check MEMBRANE_TOKEN, or the workspace key and secret" in line_of(lines, "Membrane API")
    assert "not-the-workspace-secret" not in "\n".join(lines)


async def test_an_unreachable_membrane_is_reported_with_the_url_to_check() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, lines = await doctor({"MEMBRANE_API_URL": url, "MEMBRANE_TOKEN": "opaque-token-value"})
    assert code == 1
    assert lines[-1].startswith(f"✗ Membrane API: no answer from {url} (")
    assert lines[-1].endswith("— fix: check MEMBRANE_API_URL and that this machine reaches it (proxy, VPN, firewall).")


async def test_no_connection_yet_says_how_to_make_one(sandbox_factory: SandboxFactory) -> None:
    code, lines = await doctor(workspace_env(sandbox_factory()))
    assert code == 1
    assert lines[-1] == (
        "✗ CleverTap connection: none yet — fix: ask your agent to call ensure_connection (it shows you a connect "
        "link), or run `clevertap-mcp doctor --connect` to create one and print its link."
    )


async def test_a_connection_waiting_for_the_user_shows_its_connect_link(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory()
    async with mcp_client(sandbox.base_url, demo_token()) as client:
        first = ok(await call(client, "ensure_connection"))
    link = first["client_action"]["ui_url"]
    code, lines = await doctor(workspace_env(sandbox))
    assert code == 1
    assert lines[-1] == (
        f"✗ CleverTap connection: {first['connection_id']} is CLIENT_ACTION_REQUIRED, waiting for someone to connect "
        f"CleverTap — fix: open {link} in a browser, connect CleverTap, then run doctor again."
    )
    await complete_connect_page(link)
    code, lines = await doctor(workspace_env(sandbox))
    assert code == 0 and lines[-1] == f"✓ CleverTap connection: {first['connection_id']} is READY"


async def test_connect_creates_the_connection_and_prints_its_link(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory()
    code, lines = await doctor(workspace_env(sandbox), connect=True)
    assert code == 1
    assert lines[-1] == (
        "✗ CleverTap connection: conn_0001 created; it is CLIENT_ACTION_REQUIRED, waiting for someone to connect "
        f"CleverTap — fix: open {sandbox.base_url}/ui/connect/conn_0001 in a browser, connect CleverTap, then run "
        "doctor again."
    )


async def test_a_failed_connection_quotes_membranes_errors(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory()
    conn = await control(sandbox, "POST", "/connections", {"tenantKey": DEMO_TENANT_KEY})
    errors = [{"type": "connection", "message": "CleverTap refused the passcode"}]
    await control(sandbox, "POST", f"/connections/{conn['id']}/state", {"state": "SETUP_FAILED", "errors": errors})
    code, lines = await doctor(workspace_env(sandbox))
    assert code == 1
    assert lines[-1].startswith(
        f'✗ CleverTap connection: {conn["id"]} is SETUP_FAILED ("CleverTap refused the passcode")'
    )


def test_old_python_and_unsupported_or_missing_packages_fail_with_the_fix() -> None:
    assert python_check((3, 10, 4)) == Check(
        False, "Python", "3.10.4 is too old", "install clevertap-mcp with Python 3.11 or newer."
    )
    assert python_check((3, 12, 1)).ok
    assert packages_check("0.1.0", "2.3.0").ok
    assert packages_check("0.1.0", "1.26.0").line() == (
        "✗ Packages: clevertap-mcp 0.1.0 with mcp 1.26.0, which it does not support — fix: run `pip install 'mcp>=2.3,<3'`."
    )
    assert not packages_check("0.1.0", "3.0.0").ok
    assert packages_check("0.1.0", None).detail == "mcp is not installed in this Python"


def test_the_doctor_command_checks_an_embedded_sandbox_and_exits_0(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "clevertap_mcp", "doctor", "--sandbox"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        timeout=60,
        check=False,
    )
    WRITTEN.extend([proc.stdout, proc.stderr])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 7 and all(line.startswith("✓ ") for line in lines)
    assert "(embedded sandbox)" in lines[2]


def test_a_stdout_in_a_legacy_code_page_gets_utf8_check_marks_instead_of_a_crash() -> None:
    # Windows pipes (CI logs) default to cp1252, which has no ✓ or ✗.
    legacy = io.TextIOWrapper(io.BytesIO(), encoding="cp1252")
    utf8_output(legacy)
    legacy.write("✓ Python: 3.11 — ✗ Credentials: none set\n")
    legacy.flush()
    buffer = legacy.buffer
    assert isinstance(buffer, io.BytesIO)
    assert buffer.getvalue().decode("utf-8") == "✓ Python: 3.11 — ✗ Credentials: none set\n"
