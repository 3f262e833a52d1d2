"""Node 22 and the MCP conformance tools for CI, installed once into .cache/ci-node (gitignored) and reused.

The machine's own node may be older than the conformance suite needs (Node >= 22), so the `node` npm package
provides a pinned Node 22 binary; everything runs with that binary first on PATH. Versions are pinned so that a
new release of either tool changes CI only when this file changes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "ci-node"
PACKAGES = {
    "node": "22.23.3",
    "@modelcontextprotocol/conformance": "0.1.16",
    "@modelcontextprotocol/inspector-cli": "1.0.3",
}


def _installed(name: str) -> str | None:
    manifest = CACHE / "node_modules" / name / "package.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text()).get("version")


def ensure() -> dict[str, str]:
    """Installs what is missing; returns an environment with Node 22 first on PATH."""
    CACHE.mkdir(parents=True, exist_ok=True)
    package_json = CACHE / "package.json"
    if not package_json.exists():
        package_json.write_text('{"name": "clevertap-mcp-ci-node", "private": true}\n')
    missing = [f"{name}@{version}" for name, version in PACKAGES.items() if _installed(name) != version]
    if missing:
        npm = shutil.which("npm")
        if npm is None:
            sys.exit("ci_node: npm is not installed; install Node.js (any version with npm) first.")
        sys.stderr.write(f"ci_node: installing {' '.join(missing)} into {CACHE}\n")
        subprocess.run(  # noqa: S603
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *missing], cwd=CACHE, check=True
        )
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(CACHE / "node_modules" / "node" / "bin"), env.get("PATH", "")])
    node = str(CACHE / "node_modules" / "node" / "bin" / "node")
    node_version = subprocess.run([node, "--version"], env=env, capture_output=True, text=True, check=True)  # noqa: S603
    node_version = node_version.stdout.strip()
    if not node_version.startswith("v22."):
        sys.exit(f"ci_node: expected Node 22 first on PATH, found {node_version}")
    return env


def bin_path(name: str) -> str:
    return str(CACHE / "node_modules" / ".bin" / name)


def clevertap_mcp() -> str:
    """The project's command from its .venv (scripts/check creates it), else whatever is on PATH."""
    candidate = ROOT / ".venv" / "bin" / "clevertap-mcp"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("clevertap-mcp")
    if found is None:
        sys.exit("clevertap-mcp is not installed: run scripts/test (creates .venv) or pip install -e . first.")
    return found
