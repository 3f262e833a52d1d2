"""The sandbox's CleverTap connector: the action catalog Membrane serves, and the HTTP calls each action makes.

It plays the part of Membrane's real CleverTap connector. The Membrane sandbox lists ACTIONS, validates input against
their schemas, and calls `run_action`, which talks to the CleverTap emulator over real HTTP.
"""

from clevertap_mcp.sandbox.connector.catalog import ACTIONS, ActionSpec, action_spec
from clevertap_mcp.sandbox.connector.run import DEFAULT_POLL_INTERVAL, Progress, run_action
from clevertap_mcp.sandbox.connector.wire import ActionFailed, CleverTapCredentials, clevertap_base_url

__all__ = [
    "ACTIONS",
    "DEFAULT_POLL_INTERVAL",
    "ActionFailed",
    "ActionSpec",
    "CleverTapCredentials",
    "Progress",
    "action_spec",
    "clevertap_base_url",
    "run_action",
]
