"""Action run logs: `GET /action-run-logs/{id}` (membrane-api.md §11, SDK L10442-10500), with `details=true` adding
the CleverTap requests the run made.

Open-point choices (the SDK's schema is not restated here): a log is
`{id, actionId, actionKey, connectionId, status: "success" | "failed", input, output | error, createdAt}` and with
details `details: {requests: [{method, path, status}]}`, paths as CleverTap saw them (without the sandbox mount).
Logs are tenant-scoped like connections; another tenant's run is 404. The requests are caught by a response hook of
the outbound client, per run through a context variable, so concurrent runs never see each other's requests.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx2

__all__ = ["RunLogs", "capturing", "on_response"]

MAX_LOGS = 1000
_exchanges: ContextVar[list[dict[str, Any]] | None] = ContextVar("sandbox_run_exchanges", default=None)


async def on_response(response: httpx2.Response) -> None:
    """The outbound client's response hook: notes the exchange on the run in progress, if any."""
    exchanges = _exchanges.get()
    if exchanges is None:
        return
    path = response.request.url.path
    # `/clevertap/{region}/1/upload` as CleverTap saw it: `/1/upload`.
    parts = path.split("/", 3)
    shown = "/" + parts[3] if len(parts) == 4 and parts[1] == "clevertap" else path
    exchanges.append({"method": response.request.method, "path": shown, "status": response.status_code})


@contextmanager
def capturing() -> Generator[list[dict[str, Any]]]:
    exchanges: list[dict[str, Any]] = []
    token = _exchanges.set(exchanges)
    try:
        yield exchanges
    finally:
        _exchanges.reset(token)


class RunLogs:
    def __init__(self) -> None:
        self._logs: dict[str, tuple[str, dict[str, Any], list[dict[str, Any]]]] = {}

    def clear(self) -> None:
        self._logs.clear()

    def record(self, tenant_id: str, log: dict[str, Any], exchanges: list[dict[str, Any]]) -> None:
        self._logs[log["id"]] = (tenant_id, log, list(exchanges))
        while len(self._logs) > MAX_LOGS:
            del self._logs[next(iter(self._logs))]

    def get(self, tenant_id: str, run_id: str, *, details: bool) -> dict[str, Any] | None:
        found = self._logs.get(run_id)
        if found is None or found[0] != tenant_id:
            return None
        _, log, exchanges = found
        return {**log, "details": {"requests": exchanges}} if details else dict(log)
