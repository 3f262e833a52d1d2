"""How the connector talks to CleverTap: credentials, the auth headers, and turning bodies into results or errors.

CleverTap answers most refusals with HTTP 200 and `"status": "fail"`, so every body is read, whatever the status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import httpx2

from clevertap_mcp.sandbox.clevertap.regions import REGIONS, is_region

__all__ = [
    "REJECTED",
    "ActionFailed",
    "CleverTapCredentials",
    "Wire",
    "clevertap_base_url",
    "fail_message",
    "field",
    "require_ok",
]


@dataclass(frozen=True)
class CleverTapCredentials:
    account_id: str
    passcode: str
    region: str  # one of REGIONS; anything else could steer the base URL off the emulator's mount

    def __post_init__(self) -> None:
        _check_region(self.region)

    def __repr__(self) -> str:
        # Keeps the passcode out of logs and tracebacks.
        return f"CleverTapCredentials(account_id={self.account_id!r}, passcode='***', region={self.region!r})"


class ActionFailed(Exception):
    """The action ran and CleverTap (or the connector) refused it. Membrane renders it as 400 type action_run."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


def _check_region(region: object) -> None:
    if not is_region(region):
        raise ValueError(f"Unknown CleverTap region {region!r}; use one of {', '.join(REGIONS)}")


def clevertap_base_url(sandbox_root: str, region: str) -> str:
    """The emulated regional host: the combined sandbox app mounts the CleverTap emulator at /clevertap.

    ValueError for a region outside REGIONS: the region is a path segment, so `..` or `x/y` would leave the mount.
    """
    _check_region(region)
    return f"{sandbox_root.rstrip('/')}/clevertap/{region}"


def fail_message(body: dict[str, Any]) -> str:
    """CleverTap's own error text, with its code when it sent one."""
    error = body.get("error")
    text = error if isinstance(error, str) and error else "CleverTap refused the request"
    code = body.get("code")
    return f"{text} (CleverTap code {code})" if isinstance(code, int) else text


class Wire:
    """One account's view of the CleverTap REST API, over a caller-owned client."""

    def __init__(self, http: httpx2.AsyncClient, base_url: str, creds: CleverTapCredentials) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._headers = {
            "X-CleverTap-Account-Id": creds.account_id,
            "X-CleverTap-Passcode": creds.passcode,
            "Content-Type": "application/json",
        }

    async def post(self, path: str, body: Any, query: str = "") -> dict[str, Any]:
        try:
            content = json.dumps(body, allow_nan=False).encode()
        except ValueError:
            # Python would write NaN/Infinity, which are not JSON; CleverTap would answer 400 "Malformed JSON".
            raise ActionFailed(
                "The input holds NaN or Infinity, which JSON cannot carry; send finite numbers"
            ) from None
        return await self._send("POST", path, query, content)

    async def get(self, path: str, query: str) -> dict[str, Any]:
        return await self._send("GET", path, query, None)

    async def _send(self, method: str, path: str, query: str, content: bytes | None) -> dict[str, Any]:
        # The query goes into the URL string as-is: cursors arrive percent-encoded and must not be encoded twice.
        url = f"{self._base_url}{path}" + (f"?{query}" if query else "")
        try:
            response = await self._http.request(method, url, headers=self._headers, content=content)
        except httpx2.HTTPError as exc:
            raise ActionFailed(f"Could not reach CleverTap: {exc.__class__.__name__}: {exc}") from exc
        try:
            parsed: Any = response.json()
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise ActionFailed(
                f"CleverTap answered HTTP {response.status_code} without a JSON object body",
                data={"status_code": response.status_code, "body": response.text[:2000]},
            )
        body = cast(dict[str, Any], parsed)
        if response.status_code >= 400:
            if "error" not in body:
                raise ActionFailed(f"CleverTap answered HTTP {response.status_code}", data=body)
            raise ActionFailed(fail_message(body), data=body)
        return body


REJECTED = "CleverTap rejected the input"
# CleverTap's texts that name a symptom, not what to do about it: the hint the connector adds to each.
_HINTS = (
    (
        "Invalid event",
        "; event names are exact and case-sensitive, as in the dashboard (e.g. 'Charged', 'App Launched', "
        "'Product Viewed')",
    ),
    (
        "hasn't been completed",
        ": the campaign is still scheduled or running, and has a report once it completes or is stopped "
        "(get-campaigns shows its status)",
    ),
)


def require_ok(body: dict[str, Any]) -> dict[str, Any]:
    """The body itself when it reports success; ActionFailed with CleverTap's message otherwise.

    An HTTP 200 `fail` is CleverTap refusing the request before doing anything (clevertap-api.md §3), so the message
    starts with REJECTED: the agent then knows nothing changed and that the input is what to fix.
    """
    if body.get("status") == "success":
        return body
    if body.get("status") == "fail":
        message = fail_message(body)
        hint = "".join(text for symptom, text in _HINTS if symptom in message)
        raise ActionFailed(f"{REJECTED}: {message}{hint}", data=body)
    raise ActionFailed(f"CleverTap answered with an unexpected status {body.get('status')!r}", data=body)


def field(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    """A required field of a success body, checked for type, so a surprise becomes a clear ActionFailed."""
    value = body.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ActionFailed(f"CleverTap's answer has no valid `{name}`", data=body)
    return value
