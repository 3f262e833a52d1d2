"""The sandbox's connect page: where the user finishes a `connect` clientAction (membrane-api.md §10 #3).

    GET  /ui/connect/{conn_id}   a sign-in form pre-filled with the demo CleverTap account
    POST /ui/connect/{conn_id}   form fields account_id, passcode, region (application/x-www-form-urlencoded)

The region must be one of CleverTap's regions (`REGIONS`, clevertap/regions.py) and the account ID and passcode
printable ASCII (they travel as headers); anything else re-renders the form with the error, checking nothing. Then
the POST checks the credentials against the emulated CleverTap over HTTP, the way a connector tests credentials (the
read-only `/1/now.json`). Accepted: they are stored, the connection becomes READY, long-polls wake, and a "Connected"
page says to return to the assistant. Refused: the form again with the error, the connection unchanged.

The page is a small sign-in card (inline CSS only: the Content-Security-Policy allows no other source) naming the
app (CleverTap) and the Membrane workspace being connected; the form's errors show in an alert on the page, and
success is a "Connected. You can return to your assistant." page. tests/browser drives it in headless Chromium.

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
from clevertap_mcp.sandbox.membrane.page_chrome import BASE_STYLE, page_headers
from clevertap_mcp.sandbox.membrane.state import Connection, ConnectionState, MembraneState
from clevertap_mcp.sandbox.membrane.upstream import REGIONS, Upstream, credentials_problem
from clevertap_mcp.sandbox.settings import DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, DEMO_CLEVERTAP_REGION

__all__ = ["connect_routes"]

_HEADERS = page_headers("'self'")
_STYLE = (
    BASE_STYLE
    + """main{width:100%;max-width:25rem;background:#fff;border-radius:14px;padding:2rem 2rem 1.5rem;
box-shadow:0 1px 2px #1d23300f,0 8px 28px #1d23301a}
.brand{display:flex;align-items:center;gap:.8rem;margin-bottom:1.2rem}
.logo{flex:none;width:2.6rem;height:2.6rem;border-radius:10px;background:#e2513a;color:#fff;font-weight:700;
display:flex;align-items:center;justify-content:center;letter-spacing:.02em}
.eyebrow{margin:0;color:#5b6475;font-size:.85rem}
h1{font-size:1.3rem;line-height:1.25;margin:0}
.lede{margin:0 0 1.1rem;color:#3a4254}
label{display:block;margin:.95rem 0 .3rem;font-weight:600;font-size:.9rem}
input,select{width:100%;padding:.6rem .7rem;border:1px solid #c9ced8;border-radius:8px;font:inherit;background:#fff}
input:focus,select:focus{outline:2px solid #e2513a55;border-color:#e2513a}
button{margin-top:1.4rem;width:100%;padding:.75rem;border:0;border-radius:8px;background:#e2513a;color:#fff;
font:inherit;font-weight:600;cursor:pointer}
button:hover{background:#c9432e}
.error{margin:0 0 .4rem;background:#fdecea;color:#8a1f11;border:1px solid #f5c2bb;padding:.65rem .8rem;
border-radius:8px;font-size:.92rem}
.muted{margin:1.2rem 0 0;color:#6b7384;font-size:.82rem}
code{font-size:.85em;background:#f1f3f6;padding:.05rem .3rem;border-radius:4px}
.done{text-align:center}.done h1{margin-bottom:.5rem}
.check{width:3.4rem;height:3.4rem;margin:0 auto 1rem;border-radius:50%;background:#e5f6ec;color:#1e7b45;
font-size:1.8rem;font-weight:700;display:flex;align-items:center;justify-content:center}
"""
)
# The regions' names as CleverTap's dashboard shows them (clevertap-api.md §1).
_REGION_NAMES = {
    "eu1": "Europe",
    "in1": "India",
    "sg1": "Singapore",
    "us1": "United States",
    "aps3": "Indonesia",
    "mec1": "Middle East (UAE)",
}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=_HEADERS)


def _brand(heading: str) -> str:
    return (
        '<div class="brand"><span class="logo" aria-hidden="true">CT</span><div>'
        f'<p class="eyebrow">Membrane</p><h1>{escape(heading)}</h1></div></div>'
    )


def _form(conn: Connection, workspace: str, account_id: str, passcode: str, region: str, error: str | None) -> str:
    options = "".join(
        f'<option value="{escape(r)}"{" selected" if r == region else ""}>'
        f"{escape(_REGION_NAMES.get(r, r))} ({escape(r)})</option>"
        for r in REGIONS
    )
    alert = f'<p class="error" id="error" role="alert">{escape(error)}</p>' if error else ""
    described = ' aria-describedby="error"' if error else ""
    return (
        f"{_brand('Connect CleverTap')}"
        f'<p class="lede">Workspace <strong>{escape(workspace)}</strong> is asking to connect your CleverTap '
        "project. Sign in with the project's account ID and passcode (CleverTap: Settings, Project).</p>"
        f'{alert}<form method="post">'
        f'<label for="account_id">Account ID</label><input id="account_id" name="account_id" required '
        f'autocomplete="off" value="{escape(account_id)}"{described}>'
        f'<label for="passcode">Passcode</label><input id="passcode" name="passcode" type="password" required '
        f'autocomplete="off" value="{escape(passcode)}"{described}>'
        f'<label for="region">Region</label><select id="region" name="region">{options}</select>'
        '<button type="submit">Connect CleverTap</button></form>'
        f'<p class="muted">Offline sandbox: the demo account is filled in for you. Connection '
        f"<code>{escape(conn.id)}</code>.</p>"
    )


def _not_found() -> HTMLResponse:
    return _page("Not found", "<h1>Nothing to connect</h1><p>This connect link is unknown or has expired.</p>", 404)


def _connected(conn: Connection, workspace: str) -> HTMLResponse:
    return _page(
        "Connected",
        '<div class="done"><div class="check" aria-hidden="true">&#10003;</div>'
        "<h1>CleverTap is connected</h1>"
        '<p class="lede"><strong>Connected.</strong> You can return to your assistant.</p>'
        f'<p class="muted">Workspace <strong>{escape(workspace)}</strong>, connection '
        f"<code>{escape(conn.id)}</code>. You can close this tab.</p></div>",
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
            return _connected(conn, workspace)
        # A region the connection was given (provide-input) is the one offered first.
        region = str(conn.input.get("region", DEMO_CLEVERTAP_REGION))
        demo = (DEMO_CLEVERTAP_ACCOUNT_ID, DEMO_CLEVERTAP_PASSCODE, region)
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
        elif not await upstream.credentials_work(CleverTapCredentials(account_id, passcode, region), conn.tenant.key):
            error = f"CleverTap did not accept this account ID and passcode in region {region}."
        if error is not None:
            return _page("Connect CleverTap", _form(conn, workspace, account_id, "", region, error), 400)
        state.connect(conn, CleverTapCredentials(account_id, passcode, region))
        return _connected(conn, workspace)

    return [
        Route("/connect/{conn_id}", show, methods=["GET"]),
        Route("/connect/{conn_id}", submit, methods=["POST"]),
    ]
