"""The first tool call without any credentials offers a sign-in, as ensure_connection offers the connect link.

Over stdio only (the server runs on the user's machine, so the browser can come back to its loopback address; over
HTTP, MCP authorization does this job, http_auth.py). The call answers an error whose text carries the sign-in link
and, where the client declared URL-mode elicitation (handshake era, docs/mcp-sdk.md), the client shows the link itself
and the call waits for the sign-in and then goes on. Either way the sign-in completes in the background: the tokens
are stored as `clevertap-mcp login` stores them, the server starts using them, and the next call works.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import anyio
from anyio.abc import TaskGroup
from mcp import MCPError
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ClientCapabilities, ElicitationCapability, UrlElicitationCapability

from clevertap_mcp.agent_errors import MAX_QUOTED_CHARS, quoted
from clevertap_mcp.config import NO_CREDENTIALS
from clevertap_mcp.connect_flow import speaks_modern_protocol
from clevertap_mcp.membrane.auth import TokenSource
from clevertap_mcp.signin.flow import PendingSignIn, complete
from clevertap_mcp.signin.loopback import LoopbackReceiver
from clevertap_mcp.signin.oauth import OAuthClient, SignInError
from clevertap_mcp.signin.session import token_source_for
from clevertap_mcp.signin.store import StoreError, TokenStore

__all__ = ["SignInOffer", "offering_sign_in"]

logger = logging.getLogger(__name__)

ToolFn = TypeVar("ToolFn", bound=Callable[..., Awaitable[Any]])
# A link older than this is replaced: authorization codes and pending requests do not live for ever (§11).
LINK_LIFETIME_SECONDS = 9 * 60
# How long a call whose client showed the link waits for the person to finish signing in.
ELICIT_WAIT_SECONDS = 180
# How long a call waits for a sign-in whose browser already came back to finish its token exchange.
COMPLETING_WAIT_SECONDS = 30


class SignInOffer:
    def __init__(
        self,
        api_url: str,
        store: TokenStore,
        task_group: TaskGroup,
        on_signed_in: Callable[[TokenSource], None],
    ) -> None:
        self._oauth = OAuthClient(api_url)
        self._store = store
        self._tasks = task_group
        self._on_signed_in = on_signed_in
        self._pending: PendingSignIn | None = None
        self._waiting: anyio.CancelScope | None = None  # the pending link's wait for the browser
        self._started = 0.0
        self._done = anyio.Event()
        self._completing = False
        self.signed_in = False
        self._failure: str | None = None

    async def _link(self) -> str:
        if self._pending is not None and time.monotonic() - self._started < LINK_LIFETIME_SECONDS:
            return self._pending.url
        if self._waiting is not None:
            self._waiting.cancel()  # an expired link's listener goes; only the newest link signs in
        state = secrets.token_urlsafe(16)
        receiver = LoopbackReceiver(
            state, done_text="You can close this tab and return to your assistant.", on_arrival=self._arrived
        )
        await receiver.__aenter__()
        try:
            pending = await PendingSignIn.start(self._oauth, receiver.redirect_uri, state=state)
        except BaseException:
            await receiver.__aexit__(None, None, None)
            raise
        self._pending, self._started, self._done = pending, time.monotonic(), anyio.Event()
        self._waiting = anyio.CancelScope()
        self._tasks.start_soon(self._wait_for_browser, receiver, pending, self._done, self._waiting)
        return pending.url

    def _arrived(self) -> None:
        self._completing = True

    async def _wait_for_browser(
        self, receiver: LoopbackReceiver, pending: PendingSignIn, done: anyio.Event, scope: anyio.CancelScope
    ) -> None:
        try:
            with scope:
                answer = await receiver.wait()
                sign_in = await complete(pending, pending.code_from(answer), self._store)
                self._on_signed_in(token_source_for(sign_in, self._store))
                self.signed_in = True
                logger.info("Signed in to Membrane as %s", sign_in.who())
        except (SignInError, StoreError) as exc:
            self._failure = str(exc)
        finally:
            with anyio.CancelScope(shield=True):
                await receiver.__aexit__(None, None, None)
            if self._pending is pending:
                self._pending = None
            self._completing = False
            done.set()

    async def offer(self, ctx: Context[Any, Any]) -> None:
        """Return once signed in (the call goes on); otherwise raise the ToolError that carries the link."""
        if self._completing:
            with anyio.move_on_after(COMPLETING_WAIT_SECONDS):
                await self._done.wait()
        if self.signed_in:
            return
        failure, self._failure = self._failure, None
        try:
            url = await self._link()
        except SignInError as exc:
            # A sign-in error carries Membrane's words (its refusal, a redirect's error_description): quoted and
            # bounded as a whole, so none of it can read as this server's instructions.
            started = quoted(str(exc), MAX_QUOTED_CHARS)
            raise ToolError(f"{NO_CREDENTIALS} (A browser sign-in could not be started: {started})") from None
        done = self._done
        if _can_show_url(ctx):
            elicitation_id = f"clevertap-signin-{secrets.token_hex(6)}"
            try:
                with anyio.move_on_after(ELICIT_WAIT_SECONDS):
                    answer = await ctx.elicit_url(
                        "Sign in to Membrane so the assistant can reach CleverTap.", url, elicitation_id
                    )
                    if answer.action == "accept":
                        await done.wait()
            except MCPError:
                pass  # the client could not show it; the message carries the link
            if self.signed_in:
                await ctx.session.send_elicit_complete(elicitation_id)
                return
        earlier = f" (The last attempt failed: {quoted(failure, MAX_QUOTED_CHARS)})" if failure else ""
        raise ToolError(
            "Not signed in to Membrane, so nothing was sent. Ask the user to open this link and sign in (it comes back "
            f"to this computer): {url} — then call this tool again. Or they can run `clevertap-mcp login` in a "
            f"terminal and restart this server.{earlier}"
        )


def _can_show_url(ctx: Context[Any, Any]) -> bool:
    caps = ctx.client_capabilities
    if caps is None or caps.elicitation is None or speaks_modern_protocol(ctx):
        return False
    wanted = ClientCapabilities(elicitation=ElicitationCapability(url=UrlElicitationCapability()))
    return ctx.session.check_client_capability(wanted)


def offering_sign_in(fn: ToolFn) -> ToolFn:
    """Wrap a tool: with no credentials at all (and a sign-in offer set up), offer the sign-in before it runs."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = kwargs.get("ctx")
        if isinstance(ctx, Context):
            # String casts: `Context[Any, Any]` evaluated builds a pydantic class that pydantic caches only weakly, so
            # after a garbage collection the next call rebuilt it (~2.6 ms, on every tool call's path).
            app: Any = cast("Context[Any, Any]", ctx).request_context.lifespan_context
            offer: SignInOffer | None = getattr(app, "sign_in_offer", None)
            if offer is not None and getattr(app, "client", None) is None and app.serves_own_credentials():
                await offer.offer(cast("Context[Any, Any]", ctx))
        return await fn(*args, **kwargs)

    return cast(ToolFn, wrapper)
