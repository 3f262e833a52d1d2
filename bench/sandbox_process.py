"""The sandbox in its own process (`clevertap-mcp sandbox --port 0`), so the bench's own work never shares its GIL."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import IO, Self

from bench.wire import ROOT, base_env
from clevertap_mcp.sandbox.settings import SandboxSettings

READY_PREFIX = "Membrane sandbox listening on "


class SandboxProcess:
    """Started and listening once constructed; `extra` are more `clevertap-mcp sandbox` options."""

    def __init__(self, *extra: str, auto_connect: bool = True) -> None:
        args = [sys.executable, "-m", "clevertap_mcp", "sandbox", "--port", "0", *extra]
        if auto_connect:
            args.append("--auto-connect")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=base_env(), cwd=ROOT, text=True
        )
        out: IO[str] | None = self.process.stdout
        assert out is not None
        first = out.readline()
        if not first.startswith(READY_PREFIX):
            self.process.kill()
            raise RuntimeError(f"the sandbox did not start: {first!r}")
        self.base_url = first.removeprefix(READY_PREFIX).strip()
        self.startup_seconds = time.perf_counter() - started
        self.settings = SandboxSettings()

    def credentials_env(self) -> dict[str, str]:
        """The environment a host would configure: Membrane's URL plus the demo workspace's key and secret."""
        return {
            "MEMBRANE_API_URL": self.base_url,
            "MEMBRANE_WORKSPACE_KEY": self.settings.workspace_key,
            "MEMBRANE_WORKSPACE_SECRET": self.settings.workspace_secret,
            "MEMBRANE_TENANT_KEY": self.settings.tenant_key,
        }

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
