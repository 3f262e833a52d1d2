"""proxy_request's guard: only CleverTap API paths and harmless headers leave the process."""

from __future__ import annotations

from typing import Any

import pytest

from clevertap_mcp.membrane.auth import StaticToken
from clevertap_mcp.proxy_guard import (
    ACCEPTED_FORM,
    GuardError,
    check_headers,
    check_path,
    fill_path_params,
    query_values,
)

from helpers import FAKE_API_URL, FakeMembrane, call, error_text, mcp_client, ok


@pytest.mark.parametrize(
    ("path", "sent"),
    [
        ("/1/profile.json", "/1/profile.json"),
        ("1/now.json", "/1/now.json"),
        ("/1/counts/events.json?req_id=384649162721759", "/1/counts/events.json?req_id=384649162721759"),
        ("/1/events.json?cursor=ZyZjIGJg%2FZmhlYg%3D%3D", "/1/events.json?cursor=ZyZjIGJg%2FZmhlYg%3D%3D"),
        ("/2/send/externaltrigger.json", "/2/send/externaltrigger.json"),
        ("/1/x.json?next=https://example.com/cb", "/1/x.json?next=https://example.com/cb"),
    ],
)
def test_clevertap_api_paths_are_accepted(path: str, sent: str) -> None:
    assert check_path(path) == sent


@pytest.mark.parametrize(
    "path",
    [
        "https://attacker.example/c",
        "HTTPS://attacker.example/c",
        "http:/attacker.example",
        "//attacker.example/1/upload",
        "\\\\attacker.example\\1",
        "/\\attacker.example",
        "/1/../../admin",
        "/1/./upload",
        "/1//upload",
        "/1/%2e%2e/x",
        "/1/%2F%2Fattacker.example",
        "/1/%252e%252e/x",
        "/1/upload@attacker.example",
        "/1/upload\r\nHost: attacker.example",
        "/1/upload\x00",
        "/1/up\tload",
        "/1/ùpload",
        "/1/upload．json",
        "/admin/users",
        "/",
        "javascript:alert(1)",
        "/1/x?a=b c",
        "/1/x?a=\r\n",
        "/1/" + "a" * 3000,
        "ftp://x/1/upload",
        "/1:8080/upload",
    ],
)
def test_anything_but_a_relative_clevertap_path_is_refused(path: str) -> None:
    with pytest.raises(GuardError):
        check_path(path)


def test_a_refusal_says_what_form_is_accepted() -> None:
    with pytest.raises(GuardError, match=r"/1/profile\.json"):
        check_path("https://attacker.example/c")


def test_path_params_fill_placeholders() -> None:
    assert fill_path_params("/1/targets/{id}/x", {"id": 1457433898}) == "/1/targets/1457433898/x"


@pytest.mark.parametrize(
    ("path", "params", "problem"),
    [
        ("/1/{id}", {}, "missing a value for {id}"),
        ("/1/x", {"id": "1"}, "no matching"),
        ("/1/{id}", {"id": "../admin"}, "single path segment"),
        ("/1/{id}", {"id": "a/b"}, "single path segment"),
    ],
)
def test_bad_path_params_are_refused(path: str, params: dict[str, object], problem: str) -> None:
    with pytest.raises(GuardError, match=problem):
        fill_path_params(path, params)


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "authorization",
        "Host",
        "Cookie",
        "X-CleverTap-Account-Id",
        "x-clevertap-passcode",
        "Transfer-Encoding",
        "Connection",
        "Proxy-Authorization",
        "X_CleverTap_Passcode",
        "X-CleverTap_Account_Id",
        "Forwarded",
        "X-Forwarded-Host",
        "X-HTTP-Method-Override",
        "X-Original-URL",
        "Content-Length",
        "Upgrade",
    ],
)
def test_credential_routing_and_hop_by_hop_headers_are_refused(name: str) -> None:
    with pytest.raises(GuardError, match="may not be set"):
        check_headers({name: "x"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Ok", "a\r\nInjected: 1"),
        ("X-Ok", "a\nb"),
        ("X-Ok", "\0"),
        ("X-Ok", "a\x0bb"),
        ("X-Ok", "café"),
        ("X-Ok", "x" * 5000),
        ("Bad Name", "v"),
        ("X:Y", "v"),
    ],
)
def test_header_injection_is_refused(name: str, value: str) -> None:
    with pytest.raises(GuardError):
        check_headers({name: value})


def test_ordinary_headers_pass() -> None:
    assert check_headers({"Content-Type": "application/json; charset=utf-8", "Accept": "*/*"}) == {
        "Content-Type": "application/json; charset=utf-8",
        "Accept": "*/*",
    }


# Through the tool: every vector is refused with a message naming the accepted form, and nothing reaches the wire.
PATH_VECTORS = [
    # absolute URLs, any case, any scheme
    "https://attacker.example/c",
    "HTTPS://ATTACKER.EXAMPLE/1/upload",
    "hTtP://attacker.example/1/upload",
    "http:/attacker.example/1/upload",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "data:text/html,<script>x</script>",
    # scheme-relative and backslashes
    "//attacker.example/1/upload",
    "///attacker.example/1/upload",
    "\\\\attacker.example\\1\\upload",
    "/\\attacker.example/1/upload",
    "/1\\..\\..\\admin",
    # percent-encoded slashes and dots, once and twice
    "/1/%2f%2fattacker.example",
    "/1/%2F%2Fattacker.example",
    "/1/%2e%2e/%2e%2e/admin",
    "/1/%2E%2E%2Fadmin",
    "/1/%252f%252fattacker.example",
    "/1/%252e%252e/admin",
    # traversal
    "/1/../../admin",
    "/1/./upload",
    "/1/upload/..",
    "/1//attacker.example",
    # userinfo tricks
    "/1@attacker.example/upload",
    "/1/upload@attacker.example",
    "user:pass@attacker.example/1/upload",
    "/1/upload#@attacker.example",
    # IP literals
    "http://127.0.0.1:8080/1/upload",
    "http://[::1]/1/upload",
    "//169.254.169.254/latest/meta-data",
    "169.254.169.254/latest/meta-data",
    "http://2130706433/1/upload",
    "/1:8080/upload",
    # CR/LF, NUL and other control characters, raw and encoded
    "/1/upload\r\nHost: attacker.example",
    "/1/upload%0d%0aHost:%20attacker.example",
    "/1/upload\x00.json",
    "/1/upload%00",
    "/1/up\tload",
    # unicode look-alikes
    "／／attacker.example/1/upload",
    "∕∕attacker.example/1/upload",
    "⁄⁄attacker.example/1/upload",
    "＼＼attacker.example",
    "/1／..／admin",
    "/1/upload．json",
    "ｈｔｔｐｓ://attacker.example/1/upload",
    "/1/ùpload",
    # not a CleverTap API path at all
    "/admin/users",
    " /1/upload",
    "/1/x.json?a=b c",
]


def _client(wire: FakeMembrane) -> Any:
    return mcp_client(FAKE_API_URL, StaticToken("tok-guard-test-1", origin="test"), transport=wire)


@pytest.mark.anyio
@pytest.mark.parametrize("path", PATH_VECTORS)
async def test_the_tool_refuses_every_unsafe_path_before_anything_is_sent(path: str) -> None:
    wire = FakeMembrane()
    async with _client(wire) as client:
        text = error_text(await call(client, "proxy_request", {"path": path, "method": "POST", "connection_id": "c"}))
    assert "Refused before sending" in text and ACCEPTED_FORM in text
    assert wire.requests == []


@pytest.mark.anyio
async def test_the_tool_refuses_an_overlong_path_before_anything_is_sent() -> None:
    wire = FakeMembrane()
    async with _client(wire) as client:
        text = error_text(await call(client, "proxy_request", {"path": "/1/" + "a" * 5000, "connection_id": "c"}))
    assert "path" in text and "2048" in text
    assert wire.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["../admin", "..%2f..%2fadmin", "//attacker.example", "a/b", "x\r\ny", "％2e"])
async def test_the_tool_refuses_path_params_that_are_not_one_segment(value: str) -> None:
    wire = FakeMembrane()
    args = {"path": "/1/targets/{id}.json", "path_params": {"id": value}, "connection_id": "c"}
    async with _client(wire) as client:
        text = error_text(await call(client, "proxy_request", args))
    assert "single path segment" in text
    assert wire.requests == []


HEADER_VECTORS = [
    ("Authorization", "Bearer stolen"),
    ("authorization", "Basic eDp5"),
    ("Host", "attacker.example"),
    ("Cookie", "session=1"),
    ("X-CleverTap-Account-Id", "TEST-000"),
    ("X-CleverTap-Passcode", "guess"),
    ("x_clevertap_passcode", "guess"),
    ("Connection", "close"),
    ("Keep-Alive", "timeout=5"),
    ("TE", "trailers"),
    ("Trailer", "Expires"),
    ("Transfer-Encoding", "chunked"),
    ("Upgrade", "websocket"),
    ("Proxy-Authorization", "Basic eDp5"),
    ("Proxy-Connection", "keep-alive"),
    ("Proxy-Anything", "x"),
    ("X-Forwarded-Host", "attacker.example"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("name", "value"), HEADER_VECTORS)
async def test_the_tool_refuses_credential_routing_and_hop_by_hop_headers(name: str, value: str) -> None:
    wire = FakeMembrane()
    args = {"path": "/1/profile.json", "headers": {name: value}, "connection_id": "c"}
    async with _client(wire) as client:
        text = error_text(await call(client, "proxy_request", args))
    assert "may not be set" in text and "Authorization, Host, Cookie, X-CleverTap-*" in text
    assert wire.requests == []


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("X-Note", "a\r\nX-CleverTap-Passcode: guess", "printable ASCII"),
        ("X-Note", "a\nb", "printable ASCII"),
        ("X-Note", "a\x00b", "printable ASCII"),
        ("X-Note\r\nHost", "attacker.example", "not a valid HTTP header name"),
        ("\r\nHost", "attacker.example", "not a valid HTTP header name"),
        ("X-Note\r", "v", "not a valid HTTP header name"),
        ("X-Note\n", "v", "not a valid HTTP header name"),
        ("X-Note\x00", "v", "not a valid HTTP header name"),
        ("X-Note\x00Host", "attacker.example", "not a valid HTTP header name"),
        ("X Note", "v", "not a valid HTTP header name"),
    ],
)
async def test_the_tool_refuses_cr_lf_and_control_characters_in_headers(name: str, value: str, problem: str) -> None:
    wire = FakeMembrane()
    args = {"path": "/1/profile.json", "headers": {name: value}, "connection_id": "c"}
    async with _client(wire) as client:
        text = error_text(await call(client, "proxy_request", args))
    assert problem in text
    assert wire.requests == []


@pytest.mark.anyio
async def test_ordinary_headers_and_an_encoded_cursor_reach_membrane_unchanged() -> None:
    wire = FakeMembrane()
    args = {
        "path": "/1/events.json?cursor=ZyZjIGJg%2FZmhlYg%3D%3D",
        "headers": {"Accept": "application/json", "X-Request-Tag": "t-1"},
        "connection_id": "c",
    }
    async with _client(wire) as client:
        ok(await call(client, "proxy_request", args))
    (sent,) = wire.requests
    assert sent.url.raw_path == b"/connections/c/proxy/1/events.json?cursor=ZyZjIGJg%2FZmhlYg%3D%3D"
    assert sent.headers["x-request-tag"] == "t-1"
    assert sent.headers["authorization"] == "Bearer tok-guard-test-1"


@pytest.mark.parametrize(
    ("query", "sent"),
    [
        ({"cursor": "AbC%2Fx%2By%3D%3D"}, {"cursor": "AbC/x+y=="}),
        ({"cursor": "AbC/x+y=="}, {"cursor": "AbC/x+y=="}),
        ({"cursor": "50%off"}, {"cursor": "50%off"}),
        ({"identity": "a%2Fb", "app": True, "batch_size": 5}, {"identity": "a%2Fb", "app": "true", "batch_size": "5"}),
    ],
    ids=["cursor-as-given", "cursor-decoded", "cursor-with-a-lone-percent", "other-parameters-untouched"],
)
def test_query_values_undo_clevertaps_encoding_of_a_cursor_only(
    query: dict[str, str | int | bool], sent: dict[str, str]
) -> None:
    assert query_values(query) == sent
