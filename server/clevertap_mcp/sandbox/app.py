"""The combined sandbox: one ASGI app serving Membrane's API, the connect page, the control plane and CleverTap.

    /                 the emulated Membrane API (membrane/routes.py)
    /oauth/...        its sign-in server, and /.well-known/oauth-authorization-server (membrane/oauth_routes.py)
    /ui/connect/{id}  the connect page (membrane/connect_page.py)
    /_sandbox/...     the control plane (control.py)
    /clevertap/{region}/1/...   the emulated CleverTap API (clevertap/routes.py)

The Membrane side reaches CleverTap over HTTP at `root_url + "/clevertap/{region}"`, through one client opened in the
app's lifespan. Served by uvicorn (server.py) that is a loopback call to the same server. Driven in-process, pass
`outbound_transport=httpx2.ASGITransport`: the factory receives this very app, so those calls stay in the process too.
ASGITransport does not run lifespans, so in-process callers enter `app.router.lifespan_context(app)` themselves.

`POST /_sandbox/reset` swaps in a freshly seeded CleverTap world and app and empties the Membrane state, the pending
faults and the request log; the outbound client and routes stay, so a running server needs no restart. Faults
(faults.py) apply to requests on their way into this app, so a CleverTap-side fault also hits the Membrane side's own
upstream calls, which come back in through the same middleware.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from clevertap_mcp.sandbox.clevertap import CleverTapWorld, build_clevertap_app
from clevertap_mcp.sandbox.control import CONTROL_PREFIX, Interceptor, RequestLog, RequestMiddleware, control_routes
from clevertap_mcp.sandbox.faults import CLEVERTAP_PREFIX, FaultBook
from clevertap_mcp.sandbox.grading import grading_routes
from clevertap_mcp.sandbox.membrane.connect_page import connect_routes
from clevertap_mcp.sandbox.membrane.errors import MembraneError, NotFound
from clevertap_mcp.sandbox.membrane.oauth_routes import oauth_control_routes, oauth_routes
from clevertap_mcp.sandbox.membrane.oauth_state import OAuthState
from clevertap_mcp.sandbox.membrane.routes import MembraneApi, membrane_error_handler, route_not_found_handler
from clevertap_mcp.sandbox.membrane.search import CATALOG
from clevertap_mcp.sandbox.membrane.state import MembraneState
from clevertap_mcp.sandbox.membrane.upstream import TransportFactory, Upstream
from clevertap_mcp.sandbox.settings import SandboxSettings

__all__ = ["CLEVERTAP_PREFIX", "CONNECT_PREFIX", "CleverTapMount", "SandboxParts", "build_sandbox_app", "parts_of"]

CONNECT_PREFIX = "/ui"


@dataclass(frozen=True)
class SandboxParts:
    """The live pieces of one sandbox app, for tests and the control plane."""

    state: MembraneState
    clevertap: CleverTapMount
    log: RequestLog
    upstream: Upstream
    interceptors: list[Interceptor]
    faults: FaultBook
    oauth: OAuthState | None = None  # the sign-in server (membrane/oauth_state.py)


def parts_of(app: Starlette) -> SandboxParts:
    parts = app.state.sandbox
    if not isinstance(parts, SandboxParts):
        raise TypeError("not an app built by build_sandbox_app")
    return parts


class CleverTapMount:
    """The CleverTap emulator behind a stable ASGI entry, so a reset can swap in a freshly seeded world."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        self.world = CleverTapWorld.seeded(self.settings)
        self._app = build_clevertap_app(self.world)

    def world_for(self, tenant_key: str | None) -> CleverTapWorld:
        """The world of `tenant_key` (None: the sandbox's own tenant). One world serves this sandbox's tenant only."""
        if tenant_key is None or tenant_key == self.settings.tenant_key:
            return self.world
        raise NotFound(
            f"Tenant '{tenant_key[:80]}' has no CleverTap world here: this sandbox's world belongs to tenant "
            f"'{self.settings.tenant_key}'; omit 'tenant' or pass that one"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def build_sandbox_app(
    settings: SandboxSettings, *, root_url: str, outbound_transport: TransportFactory | None = None
) -> Starlette:
    """The sandbox served at `root_url` (no trailing slash needed), reaching its CleverTap through `root_url`."""
    root_url = root_url.rstrip("/")
    state = MembraneState(settings, connect_url=f"{root_url}{CONNECT_PREFIX}/connect")
    upstream = Upstream(root_url, outbound_transport)
    log = RequestLog()
    clevertap = CleverTapMount(settings)
    interceptors: list[Interceptor] = []
    faults = FaultBook()
    oauth = OAuthState(settings)

    def reset() -> None:
        state.reset()
        oauth.reset()
        clevertap.reset()
        faults.reset()
        log.clear()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncGenerator[None]:
        async with upstream.opened(app):
            yield

    clevertap_app: ASGIApp = clevertap
    app = Starlette(
        routes=[
            Mount(f"{CONTROL_PREFIX}/oauth", routes=oauth_control_routes(oauth)),
            Mount(
                CONTROL_PREFIX,
                routes=[*control_routes(state, log, faults, reset, root_url), *grading_routes(clevertap)],
            ),
            Mount(CONNECT_PREFIX, routes=connect_routes(state, upstream)),
            Mount(CLEVERTAP_PREFIX, app=clevertap_app),
            *oauth_routes(oauth, root_url),
            *MembraneApi(state, CATALOG, upstream, log, oauth=oauth).routes(),
        ],
        middleware=[Middleware(RequestMiddleware, log=log, interceptors=interceptors, faults=faults)],
        exception_handlers={
            MembraneError: membrane_error_handler,
            HTTPException: route_not_found_handler,
        },
        lifespan=lifespan,
    )
    app.state.sandbox = SandboxParts(state, clevertap, log, upstream, interceptors, faults, oauth)
    return app
