"""What `proxy_request` may send, checked before anything leaves the process.

Membrane attaches the connection's CleverTap credentials (`X-CleverTap-Account-Id`, `X-CleverTap-Passcode`) to
whatever it proxies, and older Membrane docs let the proxied path be a full URL, which Membrane then calls as is
(membrane-api.md §9). A path that names another host would therefore hand the customer's passcode to that host.
So the guard accepts only CleverTap API paths in a strict form, and only headers that cannot override
authentication or routing.

Accepted path: `/<version>/<segments>` with version `1`, `2` or `api`; segments of letters, digits and `.-_~`;
no empty, `.` or `..` segment; optionally `?query` kept byte for byte (CleverTap cursors are already
percent-encoded, and encoding them again breaks them). Everything else is refused with `GuardError`, whose
message says what form is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote

MAX_PATH_LENGTH = 2048
MAX_HEADER_VALUE_LENGTH = 4096
ALLOWED_PREFIXES = ("1", "2", "api")
ACCEPTED_FORM = "a CleverTap API path such as /1/profile.json or /1/events.json?cursor=..."

_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
_QUERY = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# Query parameters whose values CleverTap hands out percent-encoded (export cursors, clevertap-api.md §8).
_ENCODED_AS_GIVEN = frozenset({"cursor"})

FORBIDDEN_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "host",
        "cookie",
        "set-cookie",
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "forwarded",
        "x-http-method-override",
        "x-method-override",
        "x-original-url",
        "x-rewrite-url",
    }
)
# Proxy-* covers Proxy-Authorization, Proxy-Connection and whatever else a proxy on the way might act on.
FORBIDDEN_HEADER_PREFIXES = ("x-clevertap-", "x-forwarded-", "proxy-")


class GuardError(ValueError):
    """The request was refused before anything was sent; the message says what to change."""


def query_values(query: Mapping[str, str | int | float | bool] | None) -> dict[str, str]:
    """`query` as the strings the client encodes once: booleans as `true`/`false`, and a cursor that still holds
    CleverTap's percent-escapes decoded first, so it goes out byte for byte as CleverTap gave it, as it does in
    the path. Agents copy cursors into `query` as often as into the path; encoded twice, CleverTap answers
    "Incorrect Usage" (§8)."""
    values: dict[str, str] = {}
    for name, value in (query or {}).items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        values[name] = unquote(text) if name in _ENCODED_AS_GIVEN and _ESCAPE.search(text) else text
    return values


def fill_path_params(path: str, params: Mapping[str, object] | None) -> str:
    """Replace `{name}` placeholders with the values in `params` (single path segments, nothing else)."""
    params = params or {}
    names = _PLACEHOLDER.findall(path)
    missing = sorted({n for n in names if n not in params})
    if missing:
        raise GuardError(f"path_params is missing a value for {', '.join('{' + n + '}' for n in missing)}")
    unused = sorted(set(params) - set(names))
    if unused:
        raise GuardError(f"path_params has no matching {{placeholder}} in path for: {', '.join(unused)}")
    for name in names:
        value = params[name]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if not _SEGMENT.fullmatch(text):
            raise GuardError(
                f"path_params.{name} must be a single path segment of letters, digits and .-_~ (got {text[:40]!r})"
            )
        path = path.replace("{" + name + "}", text)
    return path


def check_path(path: str) -> str:
    """The path to send, or GuardError. A path without its leading `/` gets one."""
    if len(path) > MAX_PATH_LENGTH:
        raise GuardError(f"path is {len(path)} characters long; the limit is {MAX_PATH_LENGTH}; send " + ACCEPTED_FORM)
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in path):
        raise GuardError("path contains a control character (CR, LF, NUL, tab...); send " + ACCEPTED_FORM)
    if _SCHEME.match(path) or path.startswith(("//", "\\", "/\\")) or "://" in path.partition("?")[0]:
        raise GuardError("path must be relative, not a URL or //host; send " + ACCEPTED_FORM)
    if not path.startswith("/"):
        path = "/" + path
    route, sep, query = path.partition("?")
    segments = route[1:].split("/")
    if segments[0] not in ALLOWED_PREFIXES:
        raise GuardError(
            f"path must start with /{', /'.join(ALLOWED_PREFIXES)} (CleverTap's API versions); send " + ACCEPTED_FORM
        )
    for segment in segments:
        if segment in ("", ".", ".."):
            raise GuardError("path may not contain empty, '.' or '..' segments; send " + ACCEPTED_FORM)
        if not _SEGMENT.fullmatch(segment):
            raise GuardError(
                "path segments may hold only letters, digits and .-_~ (no %, @, :, \\ or non-ASCII); send "
                + ACCEPTED_FORM
            )
    if sep and not _QUERY.fullmatch(query):
        raise GuardError(
            "the query string in path has characters that are not URL-safe; pass such values in the query argument, "
            "or send " + ACCEPTED_FORM
        )
    return path


def check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """Caller headers that may be forwarded, or GuardError."""
    checked: dict[str, str] = {}
    for name, value in (headers or {}).items():
        if not _HEADER_NAME.fullmatch(name):
            raise GuardError(f"header name {name[:40]!r} is not a valid HTTP header name")
        # Some servers read `_` as `-`, so X_CleverTap_Passcode must not slip past the X-CleverTap-* rule.
        lower = name.lower().replace("_", "-")
        if lower in FORBIDDEN_HEADERS or lower.startswith(FORBIDDEN_HEADER_PREFIXES):
            raise GuardError(
                f"header {name!r} may not be set: Membrane adds CleverTap's credentials itself, and "
                "Authorization, Host, Cookie, X-CleverTap-* and hop-by-hop headers are refused"
            )
        if not _HEADER_VALUE.fullmatch(value) or len(value) > MAX_HEADER_VALUE_LENGTH:
            raise GuardError(
                f"header {name!r} must have a value of printable ASCII (no CR, LF, NUL or other control characters, "
                f"no non-ASCII) of at most {MAX_HEADER_VALUE_LENGTH} characters"
            )
        checked[name] = value
    return checked
