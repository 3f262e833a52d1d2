"""The CleverTap emulator: CleverTap's REST API (docs/clevertap-api.md) over a deterministic, stateful world.

`CleverTapWorld` holds the state and rules, `build_clevertap_app` serves it as an ASGI app at `/{region}/1/...`.
"""

from clevertap_mcp.sandbox.clevertap.regions import REGIONS
from clevertap_mcp.sandbox.clevertap.routes import build_clevertap_app
from clevertap_mcp.sandbox.clevertap.state import CleverTapWorld

__all__ = ["REGIONS", "CleverTapWorld", "build_clevertap_app"]
