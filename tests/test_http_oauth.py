"""The HTTP transport as an OAuth protected resource: the Python SDK's OAuth client discovers everything from the
401, signs its user in with the sandbox's Membrane (single scope), and then runs the tools with the token it got."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

from clevertap_mcp.config import Settings
from clevertap_mcp.http import HttpSettings, build_http_app
from clevertap_mcp.http_auth import collapse_scope
from clevertap_mcp.sandbox.server import SandboxServer

from helpers import call, control, demo_token, error_text, ok, uvicorn_served
from oauth_support import browser_signin

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def http_server(
    sandbox: SandboxServer, http: HttpSettings | None = None, *, server_credentials: bool = False
) -> AsyncGenerator[str]:
    settings = Settings(api_url=sandbox.base_url, token_source=demo_token() if server_credentials else None)
    app = build_http_app(settings, http or HttpSettings())
    async with uvicorn_served(app) as port:
        yield f"http://127.0.0.1:{port}"


class MemoryStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class Person:
    """What the SDK's redirect and callback handlers stand for: a person who signs in on the page."""

    def __init__(self) -> None:
        self.authorize_urls: list[str] = []
        self.redirect = ""

    async def open(self, url: str) -> None:
        self.authorize_urls.append(url)
        self.redirect = (await browser_signin(url)).headers["location"]

    async def callback(self) -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(self.redirect).query)
        return AuthorizationCodeResult(code=query["code"][0], state=query.get("state", [None])[0])


def provider(url: str, person: Person, storage: MemoryStorage) -> OAuthClientProvider:
    metadata = OAuthClientMetadata(
        client_name="sdk-test",
        redirect_uris=["http://127.0.0.1:5555/callback"],  # pyright: ignore[reportArgumentType]
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(url + "/mcp", metadata, storage, person.open, person.callback)


@asynccontextmanager
async def signed_in(
    sandbox: SandboxServer, person: Person, storage: MemoryStorage
) -> AsyncGenerator[tuple[str, Client]]:
    """The HTTP server with no credentials of its own, and an MCP client that signs in through the SDK's OAuth."""
    async with (
        http_server(sandbox) as url,
        httpx2.AsyncClient(auth=provider(url, person, storage), timeout=30) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        yield url, client


async def test_a_token_less_request_gets_401_naming_the_metadata_and_the_single_scope(sandbox: SandboxServer) -> None:
    async with http_server(sandbox) as url, httpx2.AsyncClient() as http:
        refused = await http.post(f"{url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        meta = (await http.get(f"{url}/.well-known/oauth-protected-resource/mcp")).json()
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{url}/.well-known/oauth-protected-resource/mcp", scope="tenant"'
    )
    assert meta == {
        "resource": f"{url}/mcp",
        "authorization_servers": [sandbox.base_url],
        "scopes_supported": ["tenant"],
        "bearer_methods_supported": ["header"],
        "resource_name": "clevertap-mcp (CleverTap through Membrane)",
    }


async def test_the_python_sdks_oauth_client_signs_in_with_membrane_and_runs_the_tools(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    person, storage = Person(), MemoryStorage()
    async with signed_in(sandbox, person, storage) as (url, client):
        with anyio.fail_after(30):
            ready = ok(await call(client, "ensure_connection"))
            found = ok(await call(client, "search_actions", {"intent": "count profiles"}))
    assert ready["state"] == "READY"
    assert found["actions"]
    (authorize_url,) = person.authorize_urls
    query = parse_qs(urlsplit(authorize_url).query)
    assert authorize_url.startswith(f"{sandbox.base_url}/oauth/authorize?")  # Membrane's own, found from the 401
    assert query["scope"] == ["tenant"]
    assert query["resource"] == [f"{url}/mcp"]
    sign_ins: dict[str, Any] = await control(sandbox, "GET", "/oauth/sign-ins")
    assert [(s["scope"], s["tenantKey"]) for s in sign_ins["items"]] == [("tenant", "sandbox-tenant")]


async def test_servers_with_credentials_of_their_own_keep_serving_token_less_requests(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    async with http_server(sandbox, server_credentials=True) as url, httpx2.AsyncClient() as http:
        meta = await http.get(f"{url}/.well-known/oauth-protected-resource")
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            assert ok(await call(client, "ensure_connection"))["state"] == "READY"
    assert meta.status_code == 200


async def test_the_authorize_proxy_collapses_a_scope_list_before_membrane_sees_it(sandbox: SandboxServer) -> None:
    async with http_server(sandbox) as url, httpx2.AsyncClient() as http:
        meta = (await http.get(f"{url}/.well-known/oauth-authorization-server")).json()
        sent = await http.get(f"{url}/oauth/authorize", params={"scope": "platform-user tenant", "state": "s"})
    assert meta["authorization_endpoint"] == f"{url}/oauth/authorize"
    assert meta["token_endpoint"] == f"{sandbox.base_url}/oauth/token"
    assert meta["scopes_supported"] == ["tenant"]
    assert sent.status_code == 302
    assert sent.headers["location"] == f"{sandbox.base_url}/oauth/authorize?scope=tenant&state=s"


@pytest.mark.parametrize(
    ("asked", "sent"), [("platform-user tenant", "tenant"), ("tenant", "tenant"), ("platform-user", "platform-user")]
)
def test_one_scope_is_kept_and_tenant_wins(asked: str, sent: str) -> None:
    assert collapse_scope(asked) == sent


async def test_when_membrane_refuses_a_callers_expired_token_the_next_request_makes_the_client_renew_it(
    sandbox_factory: Callable[..., SandboxServer],
) -> None:
    sandbox = sandbox_factory(auto_connect=True)
    person, storage = Person(), MemoryStorage()
    async with signed_in(sandbox, person, storage) as (_, client):
        with anyio.fail_after(30):
            ok(await call(client, "ensure_connection"))
            first = storage.tokens
            await control(sandbox, "POST", "/oauth/advance", {"seconds": 3601})
            refused = error_text(await call(client, "ensure_connection"))
            again = ok(await call(client, "ensure_connection"))
    assert "401" in refused
    assert again["state"] == "READY"
    assert first is not None and storage.tokens is not None
    assert storage.tokens.access_token != first.access_token  # renewed by the SDK after the server's 401
    # The Python SDK (2.3) answers a 401 by authorizing again rather than refreshing: the person is asked once more.
    assert len(person.authorize_urls) == 2
