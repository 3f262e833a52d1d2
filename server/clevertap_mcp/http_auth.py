"""The HTTP transport as an OAuth protected resource (MCP authorization; RFC 9728), with Membrane as the
authorization server (membrane-api.md §11 "Signing in").

    GET /.well-known/oauth-protected-resource[/mcp]   {resource, authorization_servers: [Membrane], scopes_supported:
                                                      ["tenant"], bearer_methods_supported: ["header"]}
    POST /mcp without a token, when a token is needed  401, WWW-Authenticate: Bearer resource_metadata="…", scope="tenant"
    POST /mcp with a token Membrane has refused         the same 401, error="invalid_token": the client renews it
    GET /.well-known/oauth-authorization-server        Membrane's endpoints, authorize through /oauth/authorize here
    GET /oauth/authorize                               302 to Membrane's, with the scope collapsed to one value

Membrane refuses a space-separated `scope` (§11). Like Membrane's own hosted MCP server (membranehq/mcp-server
`oauth.ts`), this server advertises only `tenant`, in the metadata and in the challenge (which MCP clients prefer to
any metadata), and for clients that discover the authorization server at this origin (the 2025-03-26 fallback) it
serves metadata whose authorize endpoint collapses the scope before redirecting to Membrane. Where the hosted server
keeps the most powerful scope (`platform-user`), this one keeps `tenant`: its tools are tenant-scoped, and a
platform-user token is refused there (§11 R4).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Scope

__all__ = ["OAUTH_MODES", "SCOPE", "ProtectedResource"]

SCOPE = "tenant"
OAUTH_MODES = ("auto", "on", "off")
RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource"
AS_METADATA_PATH = "/.well-known/oauth-authorization-server"
AUTHORIZE_PATH = "/oauth/authorize"


def collapse_scope(requested: str) -> str:
    """One scope Membrane accepts, from whatever a client asked for (the hosted server's rule, preferring tenant)."""
    scopes = requested.split()
    return SCOPE if SCOPE in scopes or not scopes else scopes[0]


class ProtectedResource:
    def __init__(self, api_url: str, *, mcp_path: str, public_url: str | None = None) -> None:
        self._api_url = api_url.rstrip("/")
        self._mcp_path = mcp_path
        self._public_url = public_url.rstrip("/") if public_url else None

    def paths(self) -> tuple[str, ...]:
        return (RESOURCE_METADATA_PATH, RESOURCE_METADATA_PATH + self._mcp_path, AS_METADATA_PATH, AUTHORIZE_PATH)

    def _origin(self, scope: Scope) -> str:
        if self._public_url:
            return self._public_url
        host = Headers(scope=scope).get("host") or "127.0.0.1"
        return f"{scope.get('scheme', 'http')}://{host}"

    def metadata_url(self, scope: Scope) -> str:
        return f"{self._origin(scope)}{RESOURCE_METADATA_PATH}{self._mcp_path}"

    def challenge(self, scope: Scope, description: str, *, invalid_token: bool = False) -> Response:
        """401 naming this resource's metadata and the one scope (RFC 9728 §5.1; RFC 6750 §3 for a refused token)."""
        error = 'error="invalid_token", ' if invalid_token else ""
        header = f'Bearer {error}resource_metadata="{self.metadata_url(scope)}", scope="{SCOPE}"'
        body = {"error": "invalid_token", "error_description": description}
        return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": header})

    def answer(self, scope: Scope) -> Response:
        """The response for one of `paths()`."""
        path = scope["path"]
        if scope["method"] not in ("GET", "HEAD"):
            return JSONResponse({"error": "invalid_request", "error_description": "Use GET."}, status_code=405)
        origin = self._origin(scope)
        if path.startswith(RESOURCE_METADATA_PATH):
            return JSONResponse(
                {
                    "resource": f"{origin}{self._mcp_path}",
                    "authorization_servers": [self._api_url],
                    "scopes_supported": [SCOPE],
                    "bearer_methods_supported": ["header"],
                    "resource_name": "clevertap-mcp (CleverTap through Membrane)",
                }
            )
        if path == AS_METADATA_PATH:
            return JSONResponse(
                {
                    "issuer": origin,
                    "authorization_endpoint": f"{origin}{AUTHORIZE_PATH}",
                    "token_endpoint": f"{self._api_url}/oauth/token",
                    "registration_endpoint": f"{self._api_url}/oauth/register",
                    "revocation_endpoint": f"{self._api_url}/oauth/revoke",
                    "response_types_supported": ["code"],
                    "grant_types_supported": ["authorization_code", "refresh_token"],
                    "token_endpoint_auth_methods_supported": ["none"],
                    "scopes_supported": [SCOPE],
                    "code_challenge_methods_supported": ["S256"],
                    "client_id_metadata_document_supported": True,
                }
            )
        query = dict(QueryParams(scope.get("query_string", b"")))
        if "scope" in query:
            query["scope"] = collapse_scope(query["scope"])
        return RedirectResponse(f"{self._api_url}/oauth/authorize?{urlencode(query)}", status_code=302)
