"""CleverTap's own Node library (npm clevertap 1.3.0), unchanged, runs every public method against the sandbox's
emulator over a real loopback port (clevertap-api.md §16). Needs node; npm installs the pinned library once."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable

import pytest

import clevertap_library
from clevertap_mcp.sandbox.server import SandboxServer

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


@pytest.mark.parametrize("default_target_mode", clevertap_library.TARGET_MODES)
def test_every_public_method_of_clevertaps_node_library_gets_the_answers_it_expects(
    sandbox_factory: Callable[..., SandboxServer], default_target_mode: str | None
) -> None:
    settings = clevertap_library.settings_for(default_target_mode)
    sandbox = sandbox_factory(count_partial_polls=settings.count_partial_polls, default_target_mode=default_target_mode)
    done = clevertap_library.run_every_method(f"{sandbox.base_url}/clevertap", default_target_mode=default_target_mode)
    assert done.returncode == 0, done.stderr
    assert sorted(json.loads(done.stdout)["passed"]) == sorted(clevertap_library.METHODS)
