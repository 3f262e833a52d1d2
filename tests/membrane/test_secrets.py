"""Credentials Membrane echoes back (includeSecrets fields, error data quoting headers, a token repeated in an error
message) never reach an agent, an exception's text or a log line."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from clevertap_mcp.config import settings_from_env
from clevertap_mcp.membrane.auth import StaticToken
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.membrane.errors import MembraneError
from clevertap_mcp.membrane.retry import NO_RETRY

from helpers import FAKE_API_URL, FAKE_CONNECTION, FakeMembrane, call, mcp_client, text_of
from leakcheck import LEAK_TOKEN, WRITTEN

pytestmark = pytest.mark.anyio

PASSCODE = "PASSCODE-LEAK-9d8c7b6a"
ECHOED_CREDENTIALS: dict[str, Any] = {"accountId": "TEST-ACC", "passcode": PASSCODE, "region": "eu1"}
QUOTED_HEADERS = {"X-CleverTap-Account-Id": "TEST-ACC", "X-CleverTap-Passcode": PASSCODE}


def _everything(result: Any) -> str:
    return result.model_dump_json()


def _token() -> StaticToken:
    return StaticToken(LEAK_TOKEN, origin="MEMBRANE_TOKEN")


@pytest.mark.parametrize("state", ["READY", "CLIENT_ACTION_REQUIRED", "CONFIGURATION_ERROR"])
async def test_a_connection_echoing_its_credentials_never_shows_them_to_the_agent(state: str) -> None:
    wire = FakeMembrane()
    wire.connection = FAKE_CONNECTION | {
        "state": state,
        "credentials": ECHOED_CREDENTIALS,
        "connectorParameters": {"passcode": PASSCODE},
        "clientAction": {"type": "connect", "description": "Connect", "uiUrl": "https://membrane.test/c"},
        "errors": [{"type": "connection", "message": "Passcode rejected", "data": {"headers": QUOTED_HEADERS}}],
        "requestError": {"message": f"CleverTap said 401 for passcode {PASSCODE}", "data": ECHOED_CREDENTIALS},
    }
    async with mcp_client(FAKE_API_URL, _token(), transport=wire) as client:
        for args in ({}, {"connection_id": "conn_1"}):
            result = await call(client, "ensure_connection", args)
            assert PASSCODE not in _everything(result)
            assert "Passcode rejected" in _everything(result)
    # The client never asks Membrane for secrets in the first place.
    assert all("includesecrets=true" not in str(r.url).lower() for r in wire.requests)


async def test_a_failed_run_whose_error_data_quotes_credentials_is_reported_without_them() -> None:
    body = {
        "type": "action_run",
        "message": "CleverTap rejected the request",
        "actionRunId": "run_42",
        "data": {"request": {"headers": QUOTED_HEADERS}, "credentials": ECHOED_CREDENTIALS, "code": 401},
    }
    wire = FakeMembrane(httpx2.Response(400, json=body))
    async with mcp_client(FAKE_API_URL, _token(), transport=wire) as client:
        result = await call(client, "run_action", {"action_id": "get-events", "connection_id": "conn_1"})
    assert result.is_error
    assert PASSCODE not in _everything(result)
    text = text_of(result)
    assert "CleverTap rejected the request" in text and "actionRunId run_42" in text and '"code": 401' in text


@pytest.mark.parametrize(
    "answer",
    [
        httpx2.Response(401, json={"type": "bad_request", "message": f"Token {LEAK_TOKEN} is not valid"}),
        httpx2.Response(502, text=f"<html><title>Bad Gateway</title><pre>Authorization: Bearer {LEAK_TOKEN}</pre>"),
        httpx2.Response(500, text=f"upstream said: Bearer {LEAK_TOKEN}"),
        httpx2.Response(
            400, json={"type": "connection", "message": "not ready", "data": {"authorization": f"Bearer {LEAK_TOKEN}"}}
        ),
    ],
    ids=["json-message", "html-page", "plain-text", "error-data"],
)
async def test_membrane_echoing_the_bearer_token_never_shows_it_to_the_agent(answer: httpx2.Response) -> None:
    wire = FakeMembrane(answer)
    async with mcp_client(FAKE_API_URL, _token(), transport=wire) as client:
        result = await call(client, "proxy_request", {"path": "/1/upload", "method": "POST", "connection_id": "c"})
    assert result.is_error
    assert LEAK_TOKEN not in _everything(result)


async def test_no_exception_the_client_raises_carries_an_echoed_token_or_credential() -> None:
    echoes: list[httpx2.Response] = [
        httpx2.Response(401, json={"type": "bad_request", "message": f"Bearer {LEAK_TOKEN} rejected"}),
        httpx2.Response(400, json={"type": "action_run", "message": "x", "data": {"credentials": ECHOED_CREDENTIALS}}),
        httpx2.Response(503, text=f"<html><body>{LEAK_TOKEN}</body></html>"),
        httpx2.Response(200, text=f"not json {LEAK_TOKEN}"),
        httpx2.Response(200, json=["off contract", LEAK_TOKEN]),
    ]
    raised: list[MembraneError] = []
    for answer in echoes:
        client = MembraneClient(
            FAKE_API_URL, _token(), transport=httpx2.MockTransport(lambda _, a=answer: a), retry=NO_RETRY
        )
        async with client:
            try:
                await client.run_action("a", {}, connection_id="c")
            except MembraneError as exc:
                raised.append(exc)
    assert len(raised) == len(echoes)
    for exc in raised:
        text = " ".join([str(exc), repr(exc), *(str(v) for v in vars(exc).values())])
        WRITTEN.append(text)
        assert LEAK_TOKEN not in text
        assert PASSCODE not in text and PASSCODE not in json.dumps(getattr(exc, "data", None))


@pytest.mark.parametrize("url", ["https://user:pw-secret-1@api.getmembrane.com", "http://tok-secret-2@127.0.0.1:9"])
async def test_an_api_url_carrying_a_password_is_refused_and_never_quoted(url: str) -> None:
    settings = settings_from_env({"MEMBRANE_API_URL": url, "MEMBRANE_TOKEN": LEAK_TOKEN})
    assert settings.token_source is None and settings.credentials_problem is not None
    assert "user name or password" in settings.credentials_problem
    async with mcp_client(url, None, credentials_problem=settings.credentials_problem) as client:
        result = await call(client, "search_actions", {"intent": "count events"})
    text = _everything(result)
    assert result.is_error and "user name or password" in text
    assert "secret" not in text and url not in text
