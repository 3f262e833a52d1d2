# ruff: noqa: T201
"""CleverTap's official Node library (npm `clevertap` 1.3.0), unchanged, runs every public method on the emulator.

The library is pinned in tests/node/clevertap-library/package.json and installed once into .cache/clevertap-node
(gitignored); any Node >= 12 runs it. tests/node/clevertap-library/every_method.js redirects its HTTPS calls to a
sandbox on 127.0.0.1 (clevertap-api.md §16) and asserts every answer. Run once per value of each sandbox setting the
library's calls depend on: `default_target_mode` (None, "push").

    python scripts/clevertap-library     # exit 0 when every method passed under every setting

tests/test_clevertap_node_library.py runs the same check in the unit suite.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from clevertap_mcp.sandbox.server import SandboxServer
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, SandboxSettings

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tests" / "node" / "clevertap-library"
CACHE = ROOT / ".cache" / "clevertap-node"
VERSION = "1.3.0"
METHODS = (
    "profile",
    "events",
    "profiles",
    "getEventsCount",
    "getProfilesCount",
    "trends",
    "topPropertyCounts",
    "realTimeCounts",
    "getMessageReports",
    "upload",
    "uploadDeviceTokens",
    "subscribe",
    "disassociate",
    "demerge",
    "delete",
    "targets",
)
TARGET_MODES: tuple[str | None, ...] = (None, "push")
RUN_TIMEOUT_SECONDS = 120


def node() -> str | None:
    return shutil.which("node")


def ensure_library() -> Path:
    """node_modules holding clevertap@1.3.0, installed with npm on first use."""
    manifest = CACHE / "node_modules" / "clevertap" / "package.json"
    if not manifest.is_file() or json.loads(manifest.read_text())["version"] != VERSION:
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("clevertap_library: npm is not installed; install Node.js (with npm) first.")
        CACHE.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PACKAGE / "package.json", CACHE / "package.json")
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CACHE, check=True)
    return CACHE / "node_modules"


def run_every_method(emulator_url: str, *, default_target_mode: str | None) -> subprocess.CompletedProcess[str]:
    """every_method.js against the emulator at `emulator_url` (`{sandbox}/clevertap`)."""
    binary = node()
    if binary is None:
        raise RuntimeError("node is not installed")
    env = {
        **os.environ,
        "NODE_PATH": str(ensure_library()),
        "CLEVERTAP_EMULATOR_URL": emulator_url,
        "CLEVERTAP_ACCOUNT_ID": DEMO_CLEVERTAP_ACCOUNT_ID,
        "CLEVERTAP_PASSCODE": DEMO_CLEVERTAP_PASSCODE,
        "CLEVERTAP_DEFAULT_TARGET_MODE": default_target_mode or "",
    }
    return subprocess.run(
        [binary, str(PACKAGE / "every_method.js")],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )


def settings_for(default_target_mode: str | None) -> SandboxSettings:
    # The library never polls a req_id (§16): counts must come back at once for it to see a number.
    return SandboxSettings(count_partial_polls=0, default_target_mode=default_target_mode)


def main() -> int:
    """Every method under every setting value; 0 when all passed."""
    if node() is None:
        print("clevertap_library: node is not installed", file=sys.stderr)
        return 1
    for mode in TARGET_MODES:
        with SandboxServer(settings_for(mode)) as sandbox:
            done = run_every_method(f"{sandbox.base_url}/clevertap", default_target_mode=mode)
        if done.returncode != 0:
            print(f"clevertap@{VERSION} failed (default_target_mode={mode!r}):\n{done.stderr}", file=sys.stderr)
            return 1
        passed = json.loads(done.stdout)["passed"]
        if sorted(passed) != sorted(METHODS):
            print(f"clevertap@{VERSION}: methods not exercised: {sorted(set(METHODS) - set(passed))}", file=sys.stderr)
            return 1
        print(f"clevertap@{VERSION}: {len(passed)} public methods passed (default_target_mode={mode!r})")
    return 0
