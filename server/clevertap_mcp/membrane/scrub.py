"""Keeps credentials that Membrane might echo from ever reaching the rest of the server, and so an agent.

Membrane adds a connection's `credentials` when asked with `includeSecrets=true` (the client never asks, but a
misconfigured proxy or a future default might), and error `data` can quote request headers or connector
parameters. Every JSON body the client receives from Membrane itself passes through `strip_credentials` before it
is parsed; every string removed is also masked for the rest of the request (redaction.register_for_request), so it
cannot come back through a log line or an error text.
"""

from __future__ import annotations

from typing import Any, cast

from clevertap_mcp import redaction

REMOVED = "[removed: credential]"

# Compared after lower-casing and dropping `-`, `_` and `.`, so `X-CleverTap-Passcode` and `client_secret` match.
CREDENTIAL_KEYS = frozenset(
    {
        "credentials",
        "connectorparameters",
        "passcode",
        "xclevertappasscode",
        "password",
        "secret",
        "clientsecret",
        "workspacesecret",
        "accesstoken",
        "refreshtoken",
        "apikey",
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
    }
)
_MAX_DEPTH = 64


def _normalise(key: str) -> str:
    return key.lower().replace("-", "").replace("_", "").replace(".", "")


def is_credential_key(key: str) -> bool:
    return _normalise(key) in CREDENTIAL_KEYS


def _register_strings(value: Any, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(value, str):
        # An already-masked value ("Bearer ***") is no secret; registering it would only mask ordinary text.
        if redaction.REDACTED not in value:
            redaction.register_for_request(value)
    elif isinstance(value, dict):
        for item in cast(dict[Any, Any], value).values():
            _register_strings(item, depth + 1)
    elif isinstance(value, list):
        for item in cast(list[Any], value):
            _register_strings(item, depth + 1)


def strip_credentials(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON value with every credential-named field's value replaced by a marker."""
    if depth > _MAX_DEPTH:
        return None
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in cast(dict[Any, Any], value).items():
            if isinstance(key, str) and is_credential_key(key) and item not in (None, "", {}, []):
                _register_strings(item)
                out[key] = REMOVED
            else:
                out[str(key)] = strip_credentials(item, depth + 1)
        return out
    if isinstance(value, list):
        return [strip_credentials(item, depth + 1) for item in cast(list[Any], value)]
    return value
