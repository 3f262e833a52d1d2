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

`POST /_sandbox/reset` swaps in freshly seeded CleverTap worlds and empties the Membrane state, the pending
faults and the request log (with a tenant, it swaps only that tenant's world: tenant_worlds.py); the outbound client and routes stay, so a running server needs no restart. Faults
(faults.py) apply to requests on their way into this app, so a CleverTap-side fault also hits the Membrane side's own
upstream calls, which come back in through the same middleware.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette._utils import get_route_path
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import JSONResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from clevertap_mcp.sandbox.clevertap import CleverTapWorld
from clevertap_mcp.sandbox.clevertap.errors import NotFound
from clevertap_mcp.sandbox.control import CONTROL_PREFIX, Interceptor, RequestLog, RequestMiddleware, control_routes
from clevertap_mcp.sandbox.faults import CLEVERTAP_PREFIX, FaultBook
from clevertap_mcp.sandbox.grading import grading_routes
from clevertap_mcp.sandbox.membrane.connect_page import connect_routes
from clevertap_mcp.sandbox.membrane.errors import MembraneError
from clevertap_mcp.sandbox.membrane.oauth_routes import oauth_control_routes, oauth_routes
from clevertap_mcp.sandbox.membrane.oauth_state import OAuthState
from clevertap_mcp.sandbox.membrane.routes import MembraneApi, membrane_error_handler, route_not_found_handler
from clevertap_mcp.sandbox.membrane.search import CATALOG
from clevertap_mcp.sandbox.membrane.state import MembraneState
from clevertap_mcp.sandbox.membrane.upstream import TransportFactory, Upstream
from clevertap_mcp.sandbox.settings import SandboxSettings
from clevertap_mcp.sandbox.tenant_worlds import TENANT_SEGMENT, TenantWorlds, tenant_from_segment

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
    """The CleverTap emulator behind a stable ASGI entry: one world per Membrane tenant (tenant_worlds.py), each
    swapped for a fresh one by a reset. `/{region}/...` is the own tenant's world, `/tenant/{segment}/{region}/...`
    another tenant's."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.worlds = TenantWorlds(settings)

    def reset(self, tenant_key: str | None = None) -> None:
        """Fresh worlds for every tenant, or only for `tenant_key`."""
        if tenant_key is None:
            self.worlds.reset_all()
        else:
            self.worlds.reset(tenant_key)

    @property
    def world(self) -> CleverTapWorld:
        """The sandbox's own tenant's world."""
        return self.worlds.own

    def world_for(self, tenant_key: str | None) -> CleverTapWorld:
        """The world of `tenant_key`, made on first use; None is the sandbox's own configured tenant."""
        return self.worlds.world_for(tenant_key)

    def existing_world(self, tenant_key: str | None) -> CleverTapWorld | None:
        """The world of `tenant_key` if it has one now; a grader's typo must not conjure a pristine world."""
        return self.worlds.existing(tenant_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tenant_key: str | None = None
        route_path = get_route_path(scope)
        head, _, rest = route_path.lstrip("/").partition("/")
        if head == TENANT_SEGMENT:
            segment, _, _ = rest.partition("/")
            tenant_key = tenant_from_segment(segment)
            if tenant_key is None:
                await JSONResponse(NotFound().body(), status_code=404)(scope, receive, send)
                return
            prefix = f"/{TENANT_SEGMENT}/{segment}"
            scope = {**scope, "root_path": scope.get("root_path", "") + prefix}
        entry = self.worlds.entry(tenant_key)
        entry.in_flight += 1
        try:
            await entry.served()(scope, receive, send)
        finally:
            entry.in_flight -= 1


def build_sandbox_app(
    settings: SandboxSettings, *, root_url: str, outbound_transport: TransportFactory | None = None
) -> Starlette:
    """The sandbox served at `root_url` (no trailing slash needed), reaching its CleverTap through `root_url`."""
    root_url = root_url.rstrip("/")
    state = MembraneState(settings, connect_url=f"{root_url}{CONNECT_PREFIX}/connect")
    upstream = Upstream(root_url, outbound_transport, own_tenant=settings.tenant_key)
    log = RequestLog()
    clevertap = CleverTapMount(settings)
    interceptors: list[Interceptor] = []
    faults = FaultBook()
    oauth = OAuthState(settings)

    def reset(tenant: str | None = None) -> None:
        if tenant is not None:
            state.forget_tenant(tenant)
            clevertap.reset(tenant)
            return
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
