"""What the sandbox's two browser pages (connect and sign-in) share: their security headers and the base of their
style, so both look like one product and neither can be framed or leak a referrer."""

from __future__ import annotations

__all__ = ["BASE_STYLE", "page_headers"]

BASE_STYLE = """
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:1.5rem;
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#eef0f4}
"""


def page_headers(form_action: str = "'self'") -> dict[str, str]:
    """Headers for a page whose forms post to `form_action` (CSP source list)."""
    return {
        "Content-Security-Policy": f"default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
