"""The sandbox's connect page: where the user finishes a `connect` clientAction (membrane-api.md §10 #3).

    GET  /ui/connect/{conn_id}   a sign-in form pre-filled with the demo CleverTap account
    POST /ui/connect/{conn_id}   form fields account_id, passcode, region (application/x-www-form-urlencoded)

The region must be one of CleverTap's regions (`REGIONS`, clevertap/regions.py) and the account ID and passcode
printable ASCII (they travel as headers); anything else re-renders the form with the error, checking nothing. Then
the POST checks the credentials against the emulated CleverTap over HTTP, the way a connector tests credentials (the
read-only `/1/now.json`). Accepted: they are stored, the connection becomes READY, long-polls wake, and a "Connected"
page says to return to the assistant. Refused: the form again with the error, the connection unchanged.

The page lives outside the Membrane API and takes no bearer token: like Membrane's own UI link, the URL is the
capability. An unknown id, or a connection of an app without a connector, gets a 404 page. Every value rendered is
HTML-escaped, and the submitted passcode is never echoed back.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from clevertap_mcp.sandbox.connector import CleverTapCredentials
from clevertap_mcp.sandbox.membrane.state import Connection, ConnectionState, MembraneState
from clevertap_mcp.sandbox.membrane.upstream import REGIONS, Upstream, credentials_problem
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, DEMO_CLEVERTAP_REGION

__all__ = ["connect_routes"]

_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_STYLE = """
body{font-family:system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}
main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:10px;box-shadow:0 2px 12px #0002}
h1{font-size:1.35rem;margin:0 0 .5rem}p{line-height:1.45}
label{display:block;margin:1rem 0 .3rem;font-weight:600}
input,select{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #c5cad3;border-radius:6px;font:inherit}
button{margin-top:1.4rem;width:100%;padding:.7rem;border:0;border-radius:6px;background:#e2513a;color:#fff;
font:inherit;font-weight:600;cursor:pointer}
.error{background:#fdecea;color:#8a1f11;padding:.7rem;border-radius:6px}.muted{color:#5b6475;font-size:.9rem}
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=_HEADERS)


def _form(conn: Connection, workspace: str, account_id: str, passcode: str, region: str, error: str | None) -> str:
    options = "".join(
        f'<option value="{escape(r)}"{" selected" if r == region else ""}>{escape(r)}</option>' for r in REGIONS
    )
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return (
        "<h1>Connect CleverTap</h1>"
        f"<p>Membrane workspace <strong>{escape(workspace)}</strong> is connecting CleverTap "
        f"(connection <code>{escape(conn.id)}</code>). Sign in with your CleverTap project's credentials.</p>"
        f'{alert}<form method="post">'
        f'<label for="account_id">Account ID</label><input id="account_id" name="account_id" required '
        f'autocomplete="off" value="{escape(account_id)}">'
        f'<label for="passcode">Passcode</label><input id="passcode" name="passcode" type="password" required '
        f'autocomplete="off" value="{escape(passcode)}">'
        f'<label for="region">Region</label><select id="region" name="region">{options}</select>'
        '<button type="submit">Connect</button></form>'
        '<p class="muted">Offline sandbox: the demo account is filled in for you.</p>'
    )


def _not_found() -> HTMLResponse:
    return _page("Not found", "<h1>Nothing to connect</h1><p>This connect link is unknown or has expired.</p>", 404)


def _connected(conn: Connection) -> HTMLResponse:
    return _page(
        "Connected",
        f"<h1>Connected</h1><p>CleverTap is connected (connection <code>{escape(conn.id)}</code>). "
        "You can return to your assistant.</p>",
    )


def connect_routes(state: MembraneState, upstream: Upstream) -> list[Route]:
    workspace = state.settings.workspace_key

    def lookup(request: Request) -> Connection | None:
        conn = state.connection_by_id(request.path_params["conn_id"])
        return conn if conn is not None and conn.app is not None else None

    async def show(request: Request) -> Response:
        conn = lookup(request)
        if conn is None:
            return _not_found()
        if conn.state is ConnectionState.READY:
            return _connected(conn)
        demo = (DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, DEMO_CLEVERTAP_REGION)
        return _page("Connect CleverTap", _form(conn, workspace, *demo, error=None))

    async def submit(request: Request) -> Response:
        conn = lookup(request)
        if conn is None:
            return _not_found()
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _page("Unsupported form", "<h1>Unsupported form</h1><p>Submit the connect form itself.</p>", 415)
        fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        account_id, passcode, region = (fields.get(n, [""])[0].strip() for n in ("account_id", "passcode", "region"))
        error = None
        if not account_id or not passcode:
            error = "Enter both the account ID and the passcode."
        elif region not in REGIONS:
            error = f"Choose one of the regions: {', '.join(REGIONS)}."
        elif (problem := credentials_problem(account_id, passcode, region)) is not None:
            error = f"{problem}."
        elif not await upstream.credentials_work(CleverTapCredentials(account_id, passcode, region)):
            error = f"CleverTap did not accept this account ID and passcode in region {region}."
        if error is not None:
            return _page("Connect CleverTap", _form(conn, workspace, account_id, "", region, error), 400)
        state.connect(conn, CleverTapCredentials(account_id, passcode, region))
        return _connected(conn)

    return [
        Route("/connect/{conn_id}", show, methods=["GET"]),
        Route("/connect/{conn_id}", submit, methods=["POST"]),
    ]
