"""proxy_request's guard: only CleverTap API paths and harmless headers leave the process."""

from __future__ import annotations

import pytest

from clevertap_mcp.proxy_guard import GuardError, check_headers, check_path, fill_path_params


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
