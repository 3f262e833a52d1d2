"""The apps the sandbox knows, and how `POST /connections/ensure` reduces an `appUrl` to one (membrane-api.md §3.1).

`appUrl` is 1..2000 characters: a URL or a bare domain (https assumed). The hostname must contain a dot and, once a
leading `www.` is stripped, must not be an IPv4 address. The value is reduced to that hostname, lower-cased and without
`www.`; scheme, port, path, query and user info are dropped.

Open-point choices:
- Only `http` and `https` URLs are accepted; any other scheme is an invalid appUrl.
- The only known app is CleverTap: `clevertap.com` and every subdomain of it (`dashboard.clevertap.com`,
  `eu1.dashboard.clevertap.com`, ...) match it, so all of them ensure the same connection. Any other domain is an
  unknown app, keyed by its reduced domain.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from clevertap_mcp.sandbox.membrane.errors import MembraneError

__all__ = ["CLEVERTAP", "KNOWN_APPS", "KnownApp", "known_app_for", "normalize_app_url"]

MAX_APP_URL_LENGTH = 2000
INVALID_APP_URL = "Must be a valid URL or domain, for example 'clevertap.com' or 'https://clevertap.com'"
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class KnownApp:
    """An app with a ready-made connector: ensure creates its connection without a build."""

    domain: str
    name: str
    integration_id: str
    integration_key: str
    connector_id: str
    external_app_id: str

    def matches(self, domain: str) -> bool:
        return domain == self.domain or domain.endswith("." + self.domain)


CLEVERTAP = KnownApp(
    domain="clevertap.com",
    name="CleverTap",
    integration_id="intg_clevertap",
    integration_key="clevertap",
    connector_id="cntr_clevertap",
    external_app_id="app_clevertap",
)
KNOWN_APPS = (CLEVERTAP,)


def known_app_for(domain: str) -> KnownApp | None:
    return next((app for app in KNOWN_APPS if app.matches(domain)), None)


def normalize_app_url(app_url: object) -> str:
    """The domain an appUrl names; MembraneError (400 bad_request) when it is not a valid URL or domain."""
    if not isinstance(app_url, str) or not 1 <= len(app_url) <= MAX_APP_URL_LENGTH:
        raise _invalid()
    value = app_url.strip()
    if not _SCHEME.match(value):
        value = "https://" + value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - urlsplit only validates the port when it is read
    except ValueError:
        raise _invalid() from None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme.lower() not in ("http", "https") or "." not in host:
        raise _invalid()
    if not all(_LABEL.match(label) for label in host.split(".")):
        raise _invalid()
    domain = host.removeprefix("www.")
    if _is_ipv4(domain):
        raise _invalid()
    return domain


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def _invalid() -> MembraneError:
    return MembraneError(INVALID_APP_URL, data={"field": "appUrl"})
