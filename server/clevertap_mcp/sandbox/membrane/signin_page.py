"""The sandbox's sign-in page: what `/oauth/authorize` shows a person (membrane-api.md §11 "Signing in").

One form: email and password of the sandbox's user, the workspace and (for `scope=tenant`) the tenant to sign in to,
and Allow / Cancel. The authorization request rides along in hidden fields and is checked again on submit, so the
page keeps no state. Every value is HTML-escaped; the password is never echoed back.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from starlette.responses import HTMLResponse

from clevertap_mcp.sandbox.membrane.page_chrome import BASE_STYLE, page_headers

__all__ = ["error_page", "signin_form"]

HEADERS = page_headers("'self' http: https:")
_STYLE = (
    BASE_STYLE
    + """main{width:100%;max-width:25rem;background:#fff;border-radius:14px;padding:2rem;
box-shadow:0 1px 2px #1d23300f,0 8px 28px #1d23301a}
h1{font-size:1.3rem;margin:0 0 .3rem}.lede{margin:0 0 1rem;color:#3a4254}
label{display:block;margin:.9rem 0 .3rem;font-weight:600;font-size:.9rem}
input,select{width:100%;padding:.6rem .7rem;border:1px solid #c9ced8;border-radius:8px;font:inherit}
.row{display:flex;gap:.6rem;margin-top:1.3rem}
button{flex:1;padding:.7rem;border:0;border-radius:8px;background:#4f46e5;color:#fff;font:inherit;font-weight:600}
button.secondary{background:#e6e8ee;color:#1d2330}
.error{background:#fdecea;color:#8a1f11;border:1px solid #f5c2bb;padding:.6rem .8rem;border-radius:8px}
.muted{margin:1.1rem 0 0;color:#6b7384;font-size:.82rem}
"""
)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=HEADERS)


def error_page(message: str, status: int = 400) -> HTMLResponse:
    """A request that cannot be sent back to its client (unknown client, unusable redirect URI): said here."""
    body = f'<h1>Sign-in failed</h1><p class="error" role="alert">{escape(message)}</p>'
    return _page("Sign-in failed", body, status)


def signin_form(
    *,
    client_name: str,
    scope: str,
    request_fields: Mapping[str, str],
    workspaces: list[str],
    email: str,
    workspace: str,
    tenant_key: str,
    error: str | None = None,
) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' for name, value in request_fields.items()
    )
    options = "".join(
        f'<option value="{escape(w)}"{" selected" if w == workspace else ""}>{escape(w)}</option>' for w in workspaces
    )
    tenant = (
        '<label for="tenant_key">Tenant</label>'
        f'<input id="tenant_key" name="tenant_key" required value="{escape(tenant_key)}">'
        if scope == "tenant"
        else ""
    )
    alert = f'<p class="error" id="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        "<h1>Sign in to Membrane</h1>"
        f'<p class="lede"><strong>{escape(client_name)}</strong> asks to act for you ({escape(scope)} access).</p>'
        f'{alert}<form method="post">{hidden}'
        f'<label for="email">Email</label><input id="email" name="email" type="email" required value="{escape(email)}">'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" required autocomplete="off">'
        f'<label for="workspace">Workspace</label><select id="workspace" name="workspace">{options}</select>'
        f"{tenant}"
        '<div class="row"><button type="submit" name="decision" value="allow">Allow</button>'
        '<button type="submit" class="secondary" name="decision" value="deny" formnovalidate>Cancel</button></div>'
        '</form><p class="muted">Offline sandbox: the demo user is filled in; its password is in the docs.</p>'
    )
    return _page("Sign in to Membrane", body, 400 if error else 200)
