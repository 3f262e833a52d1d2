"""The routes of the sandbox's OAuth 2.1 server (membrane-api.md §11 "Signing in"; state in oauth_state.py).

    GET  /.well-known/oauth-authorization-server   RFC 8414 metadata
    POST /oauth/register      RFC 7591 {redirect_uris, client_name?, ...}      → 201 {client_id, ...} (public client)
    GET  /oauth/authorize     response_type=code, client_id, redirect_uri, scope, state?, code_challenge,
                              code_challenge_method=S256, resource?            → the sign-in page (signin_page.py)
    POST /oauth/authorize     the page's form                                  → 302 to redirect_uri ?code=&state=
    POST /oauth/token         form: grant_type=authorization_code (code, redirect_uri, client_id, code_verifier)
                              or refresh_token (refresh_token, client_id)      → the §11 token response
    POST /oauth/revoke        form: token, token_type_hint?                    → 200 (RFC 7009, also for unknown)

    POST /_sandbox/oauth/advance   {seconds}: move the OAuth clock on (expire tokens without waiting) → {skew}
    GET  /_sandbox/oauth/sign-ins  {items: [{grantId, clientId, scope, workspaceKey, tenantKey, revoked}]} (no tokens)

Errors of the token, register and revoke endpoints are RFC 6749 §5.2 bodies `{error, error_description}`. A `scope`
that is not exactly one of `platform-user`, `tenant` (a space-separated list included) is a 400 ErrorData with
Membrane's own message (§11). An unknown client or an unusable redirect URI is said on the page, never redirected.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from clevertap_mcp.sandbox.membrane.errors import MembraneError, error_response
from clevertap_mcp.sandbox.membrane.oauth_state import (
    SANDBOX_ORG_ID,
    SCOPES,
    AuthorizationRequest,
    OAuthError,
    OAuthState,
    TokenGrant,
)
from clevertap_mcp.sandbox.membrane.signin_page import error_page, signin_form

__all__ = ["SCOPE_ERROR", "oauth_control_routes", "oauth_routes"]

SCOPE_ERROR = "scope: Invalid option: expected one of 'platform-user'|'tenant'"
_REQUEST_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "resource",
)
_TENANT_KEY = re.compile(r"[A-Za-z0-9._-]{1,100}")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def metadata(root_url: str) -> dict[str, Any]:
    return {
        "issuer": root_url,
        "authorization_endpoint": f"{root_url}/oauth/authorize",
        "token_endpoint": f"{root_url}/oauth/token",
        "registration_endpoint": f"{root_url}/oauth/register",
        "revocation_endpoint": f"{root_url}/oauth/revoke",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        # Both, as Membrane's API evidently advertises them: its hosted MCP server re-advertises only `tenant` so
        # that clients stop asking for the two at once (membranehq/mcp-server oauth.ts).
        "scopes_supported": list(SCOPES),
        "code_challenge_methods_supported": ["S256"],
        "client_id_metadata_document_supported": True,
    }


def _oauth_error(exc: OAuthError) -> JSONResponse:
    body = {"error": exc.error, "error_description": exc.description}
    return JSONResponse(body, status_code=exc.status, headers=_NO_STORE)


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


async def _form(request: Request) -> dict[str, str]:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise OAuthError("invalid_request", "Send the parameters as application/x-www-form-urlencoded")
    pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return dict(pairs)


def _token_response(grant: TokenGrant, access: str, refresh: str | None, ttl: float) -> JSONResponse:
    body: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": int(ttl),
        "scope": grant.scope,
    }
    if refresh is not None:
        body["refresh_token"] = refresh
    body["default_workspace_key"] = grant.workspace_key
    if grant.tenant_key is not None:
        body["default_tenant_key"] = grant.tenant_key
    body.update(email=grant.email, org_id=SANDBOX_ORG_ID)
    return JSONResponse(body, headers=_NO_STORE)


def oauth_routes(oauth: OAuthState, root_url: str) -> list[Route]:
    settings = oauth.settings

    async def well_known(request: Request) -> Response:
        return JSONResponse(metadata(root_url))

    async def register(request: Request) -> Response:
        try:
            body: Any = json.loads(await request.body())
        except ValueError:
            return _oauth_error(OAuthError("invalid_client_metadata", "The body must be a JSON object"))
        if not isinstance(body, dict):
            return _oauth_error(OAuthError("invalid_client_metadata", "The body must be a JSON object"))
        fields: dict[str, Any] = body  # pyright: ignore[reportUnknownVariableType]
        try:
            client = oauth.register(fields.get("redirect_uris"), fields.get("client_name"))
        except OAuthError as exc:
            return _oauth_error(exc)
        answer = {
            "client_id": client.client_id,
            "client_id_issued_at": client.issued_at,
            "client_name": client.client_name,
            "redirect_uris": list(client.redirect_uris),
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            # Public clients only: whatever was asked for, no secret is issued (RFC 7591 §3.2.1 lets us say so).
            "token_endpoint_auth_method": "none",
        }
        return JSONResponse(answer, status_code=201, headers=_NO_STORE)

    def check(params: dict[str, str]) -> AuthorizationRequest | Response:
        """The request, or the answer for a bad one: a page, Membrane's scope error, or a redirect with the error."""
        client_id = params.get("client_id", "")
        if client_id.startswith(("http://", "https://")):
            return error_page("Client ID metadata documents are not emulated by the sandbox: register the client.")
        try:
            client = oauth.client(client_id or None)
        except OAuthError as exc:
            return error_page(exc.description)
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri or not oauth.redirect_allowed(client, redirect_uri):
            return error_page("The redirect_uri is not one this client registered.")
        scope = params.get("scope", "")
        if scope not in SCOPES:
            return error_response(MembraneError(SCOPE_ERROR))
        state = params.get("state") or None
        problem = None
        if params.get("response_type") != "code":
            problem = ("unsupported_response_type", "response_type must be code")
        elif not params.get("code_challenge") or params.get("code_challenge_method") != "S256":
            problem = ("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
        if problem is not None:
            back = {"error": problem[0], "error_description": problem[1], **({"state": state} if state else {})}
            return RedirectResponse(_with_query(redirect_uri, back), status_code=302)
        return AuthorizationRequest(
            client_id=client.client_id,
            client_name=client.client_name,
            redirect_uri=redirect_uri,
            scope=scope,
            state=state,
            code_challenge=params["code_challenge"],
            resource=params.get("resource") or None,
        )

    def form(checked: AuthorizationRequest, params: dict[str, str], **shown: Any) -> Response:
        return signin_form(
            client_name=checked.client_name,
            scope=checked.scope,
            request_fields={name: params[name] for name in _REQUEST_FIELDS if params.get(name)},
            workspaces=[settings.workspace_key],
            **{"email": settings.oauth_email, "workspace": settings.workspace_key, "tenant_key": settings.tenant_key}
            | shown,
        )

    async def authorize_page(request: Request) -> Response:
        params = dict(request.query_params)
        checked = check(params)
        return checked if isinstance(checked, Response) else form(checked, params)

    async def authorize_submit(request: Request) -> Response:
        try:
            params = await _form(request)
        except OAuthError as exc:
            return error_page(exc.description, 415)
        checked = check(params)
        if isinstance(checked, Response):
            return checked
        back_state = {"state": checked.state} if checked.state else {}
        if params.get("decision") == "deny":
            denied = {"error": "access_denied", "error_description": "The user cancelled", **back_state}
            return RedirectResponse(_with_query(checked.redirect_uri, denied), status_code=302)
        email = params.get("email", "").strip()
        workspace = params.get("workspace", "")
        tenant_key = params.get("tenant_key", "").strip() if checked.scope == "tenant" else ""
        error = None
        if email.lower() != settings.oauth_email.lower() or params.get("password", "") != settings.oauth_password:
            error = "Wrong email or password."
        elif workspace != settings.workspace_key:
            error = "Choose one of your workspaces."
        elif checked.scope == "tenant" and not _TENANT_KEY.fullmatch(tenant_key):
            error = "Enter a tenant key: letters, digits, '.', '_' or '-', at most 100."
        if error is not None:
            return form(checked, params, email=email, tenant_key=tenant_key, error=error)
        code = oauth.issue_code(checked, workspace_key=workspace, tenant_key=tenant_key or None)
        return RedirectResponse(_with_query(checked.redirect_uri, {"code": code, **back_state}), status_code=302)

    async def token(request: Request) -> Response:
        try:
            form_fields = await _form(request)
            grant_type = form_fields.get("grant_type")
            if grant_type == "authorization_code":
                grant, access, refresh = oauth.exchange_code(
                    code=form_fields.get("code"),
                    client_id=form_fields.get("client_id"),
                    redirect_uri=form_fields.get("redirect_uri"),
                    code_verifier=form_fields.get("code_verifier"),
                )
            elif grant_type == "refresh_token":
                grant, access, refresh = oauth.refresh(
                    refresh_token=form_fields.get("refresh_token"), client_id=form_fields.get("client_id")
                )
            else:
                raise OAuthError("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
        except OAuthError as exc:
            return _oauth_error(exc)
        return _token_response(grant, access, refresh, settings.oauth_access_token_ttl)

    async def revoke(request: Request) -> Response:
        try:
            form_fields = await _form(request)
        except OAuthError as exc:
            return _oauth_error(exc)
        oauth.revoke(form_fields.get("token"))
        return Response(status_code=200, headers=_NO_STORE)

    return [
        Route("/.well-known/oauth-authorization-server", well_known, methods=["GET"]),
        Route("/oauth/register", register, methods=["POST"]),
        Route("/oauth/authorize", authorize_page, methods=["GET"]),
        Route("/oauth/authorize", authorize_submit, methods=["POST"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/revoke", revoke, methods=["POST"]),
    ]


def oauth_control_routes(oauth: OAuthState) -> list[Route]:
    async def advance(request: Request) -> Response:
        try:
            body: Any = json.loads(await request.body() or b"{}")
            seconds = body["seconds"]
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return error_response(MembraneError('Send {"seconds": N} with N a number, 0 or more'))
        oauth.skew += float(seconds)
        return JSONResponse({"skew": oauth.skew})

    async def sign_ins(request: Request) -> Response:
        items = [
            {
                "grantId": g.grant_id,
                "clientId": g.client_id,
                "scope": g.scope,
                "workspaceKey": g.workspace_key,
                "tenantKey": g.tenant_key,
                "resource": g.resource,
                "revoked": g.revoked,
            }
            for g in oauth.sign_ins()
        ]
        return JSONResponse({"items": items})

    return [
        Route("/advance", advance, methods=["POST"]),
        Route("/sign-ins", sign_ins, methods=["GET"]),
    ]
