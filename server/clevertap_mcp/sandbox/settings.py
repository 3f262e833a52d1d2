"""Knobs of the offline sandbox, in one frozen object.

Every point the Membrane or CleverTap contracts leave open is a field here, with the default the contract docs
name, so tests and eval harnesses can pick the other behaviour explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

DEMO_WORKSPACE_KEY = "sandbox-workspace"
DEMO_WORKSPACE_SECRET = "sandbox-secret"  # noqa: S105 - a published demo credential, not a secret
DEMO_TENANT_KEY = "sandbox-tenant"

DEMO_CLEVERTAP_ACCOUNT_ID = "TEST-R78-ZZ6-5Z7Z"
DEMO_CLEVERTAP_PASSCODE = "SANDBOX-PASSCODE-1"  # noqa: S105 - the emulator's demo account, not a real one
DEMO_CLEVERTAP_REGION = "eu1"


@dataclass(frozen=True)
class SandboxSettings:
    workspace_key: str = DEMO_WORKSPACE_KEY
    workspace_secret: str = DEMO_WORKSPACE_SECRET
    tenant_key: str = DEMO_TENANT_KEY
    # New CleverTap connections skip the connect page and become READY with the demo account.
    auto_connect: bool = False
    # GET polls a new connection answers BUILDING before it moves on (contract §10 #2, default 0).
    building_polls: int = 0
    # Seed of the deterministic CleverTap world.
    seed: int = 42
    profiles: int = 200
    # Pinned "now" as epoch seconds; None means the real clock.
    clock: float | None = None
    # Polls of /1/counts/* that answer `partial` before `success` (clevertap-api.md §9, default 1).
    count_partial_polls: int = 1
