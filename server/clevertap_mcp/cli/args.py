"""The command line's shared arguments and argument types (safety, HTTP, sandbox seeding)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["add_http_arguments", "add_safety_arguments", "clock", "profiles", "seeding", "workers"]


def add_safety_arguments(parser: argparse.ArgumentParser) -> None:
    safety = parser.add_argument_group('safety (see docs/security.md and docs/performance.md, "Output size")')
    safety.add_argument(
        "--read-only", action="store_true", default=None,
        help="only reads run; writes are refused (also CLEVERTAP_MCP_READ_ONLY=1)",
    )  # fmt: skip
    safety.add_argument(
        "--confirm", choices=("never", "elicit", "required", "writes"), default=None,
        help="ask the user before deletes, stops and sends: never; elicit (default: where the client can); "
        "required (refuse where it cannot); writes (ask before every write, refuse where it cannot). "
        "Also CLEVERTAP_MCP_CONFIRM",
    )  # fmt: skip
    safety.add_argument(
        "--max-output-chars", type=int, default=None, metavar="N",
        help="size budget of one tool result (default 20000; also CLEVERTAP_MCP_MAX_OUTPUT_CHARS)",
    )  # fmt: skip


def add_http_arguments(parser: argparse.ArgumentParser) -> None:
    http = parser.add_argument_group('HTTP transport (--transport http; see docs/hosts.md, "HTTP deployment")')
    http.add_argument("--transport", choices=("stdio", "http"), default="stdio", help="default: stdio")
    http.add_argument(
        "--host", dest="http_host", default=None, metavar="HOST", help="address to listen on (default 127.0.0.1)"
    )
    http.add_argument(
        "--port", dest="http_port", type=int, default=None, metavar="PORT", help="port to listen on (default 8000)"
    )
    http.add_argument("--workers", type=workers, default=1, metavar="N", help="uvicorn worker processes (default 1)")
    http.add_argument(
        "--allowed-host", dest="allowed_hosts", action="append", default=None, metavar="NAME[:PORT]",
        help="a Host name clients use to reach this server (DNS-rebinding protection; loopback always allowed)",
    )  # fmt: skip
    http.add_argument(
        "--allowed-origin", dest="allowed_origins", action="append", default=None, metavar="ORIGIN",
        help="a browser Origin allowed to call this server, e.g. https://app.example.com",
    )  # fmt: skip
    http.add_argument(
        "--require-client-token", action="store_true", default=None,
        help="refuse requests without their own Authorization: Bearer <Membrane token>",
    )  # fmt: skip
    http.add_argument(
        "--allow-shared-credentials", action="store_true",
        help="serve beyond loopback although token-less requests use this server's credentials",
    )  # fmt: skip
    http.add_argument(
        "--json-response", action="store_true", default=None, help="plain JSON answers instead of SSE streams"
    )


def _at_least_one(what: str) -> Callable[[str], int]:
    """An argparse type: a whole number, 1 or more, refused as "not a number of `what`"."""

    def parse(value: str) -> int:
        if not value.isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(f"{value!r} is not a number of {what}: give a whole number, 1 or more")
        return int(value)

    return parse


workers = _at_least_one("workers")
profiles = _at_least_one("profiles")


def clock(value: str) -> float:
    """A pinned "now" for the sandbox, so date-relative answers are reproducible."""
    try:
        return float(value) if value.replace(".", "", 1).isdigit() else _iso_seconds(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a time: give epoch seconds (1767607200) or ISO 8601 (2026-01-05T10:00:00Z)"
        ) from None


def _iso_seconds(value: str) -> float:
    from datetime import UTC, datetime

    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def seeding(seed: int | None, profiles: int | None, clock: float | None) -> dict[str, Any]:
    """The SandboxSettings overrides the seed, size and clock flags ask for."""
    chosen = {"seed": seed, "profiles": profiles, "clock": clock}
    return {name: value for name, value in chosen.items() if value is not None}
