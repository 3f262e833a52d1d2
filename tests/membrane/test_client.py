"""The Membrane client against faults injected at the wire (httpx2.MockTransport)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx2
import pytest

from clevertap_mcp.membrane.auth import MintedToken, StaticToken
from clevertap_mcp.membrane.client import MembraneClient
from clevertap_mcp.membrane.errors import (
    ActionRunError,
    AuthenticationError,
    BadRequestError,
    ConnectError,
    ConnectionUnusableError,
    NotFoundError,
    RateLimitError,
    RequestNotSentError,
    ResponseLostError,
    ServerError,
    UnexpectedResponseError,
)
from clevertap_mcp.membrane.retry import RETRY_AFTER_CAP_SECONDS, RetryPolicy, parse_retry_after

from helpers import RecordedSleep

pytestmark = pytest.mark.anyio

Handler = Callable[[httpx2.Request], httpx2.Response]
CONN = {"id": "conn_1", "name": "CleverTap", "userId": "u", "createdAt": "x", "updatedAt": "x", "state": "READY"}


class Recorder:
    def __init__(self, *answers: httpx2.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_client(handler: Handler, sleep: RecordedSleep | None = None, token: str = "tok-test-123456") -> MembraneClient:
    policy = RetryPolicy(sleep=sleep or RecordedSleep())
    return MembraneClient(
        "https://membrane.test/",
        StaticToken(token, origin="test"),
        transport=httpx2.MockTransport(handler),
        retry=policy,
    )


def err(status: int, body: object, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(status, json=body, headers=headers)


async def test_every_request_carries_the_bearer_token_and_api_version() -> None:
    rec = Recorder(httpx2.Response(200, json=CONN))
    async with make_client(rec) as client:
        conn = await client.ensure_connection("clevertap.com")
    assert conn.id == "conn_1" and conn.is_ready
    sent = rec.requests[0]
    assert sent.headers["authorization"] == "Bearer tok-test-123456"
    assert sent.headers["membrane-api-version"] == "2025-10-21"
    assert sent.url == "https://membrane.test/connections/ensure"
    assert json.loads(sent.content) == {"appUrl": "clevertap.com"}


async def test_long_poll_sends_wait_and_timeout_and_caps_timeout_at_60() -> None:
    rec = Recorder(httpx2.Response(200, json=CONN))
    async with make_client(rec) as client:
        await client.get_connection("conn/1", wait_seconds=500)
    assert rec.requests[0].url.raw_path == b"/connections/conn%2F1?wait=true&timeout=60&includeSecrets=false"


async def test_a_read_is_retried_after_503_and_succeeds() -> None:
    sleep = RecordedSleep()
    rec = Recorder(err(503, {"type": "internal", "message": "busy"}), httpx2.Response(200, json=CONN))
    async with make_client(rec, sleep) as client:
        await client.get_connection("conn_1")
    assert len(rec.requests) == 2
    assert len(sleep.delays) == 1


async def test_429_retry_after_in_seconds_is_honoured() -> None:
    sleep = RecordedSleep()
    rec = Recorder(
        err(429, {"type": "bad_request", "key": "rate_limit_exceeded", "message": "slow"}, {"Retry-After": "7"}),
        httpx2.Response(200, json={"items": []}),
    )
    async with make_client(rec, sleep) as client:
        await client.search_actions(connection_id="c", intent="x", limit=5)
    assert sleep.delays == [7.0]


async def test_a_retry_after_beyond_the_cap_is_not_cut_short_the_request_is_not_resent() -> None:
    sleep = RecordedSleep()
    rec = Recorder(err(429, {"message": "slow"}, {"Retry-After": "3600"}), httpx2.Response(200, json={"items": []}))
    async with make_client(rec, sleep) as client:
        with pytest.raises(RateLimitError) as info:
            await client.search_actions(connection_id="c", intent="x", limit=5)
    assert len(rec.requests) == 1 and sleep.delays == []
    assert info.value.retry_after == 3600.0
    assert info.value.retry_at is not None and info.value.retry_at - time.time() > 3590


async def test_a_retry_after_at_the_cap_is_still_waited_out() -> None:
    sleep = RecordedSleep()
    cap = f"{RETRY_AFTER_CAP_SECONDS:.0f}"
    rec = Recorder(err(429, {"message": "slow"}, {"Retry-After": cap}), httpx2.Response(200, json={"items": []}))
    async with make_client(rec, sleep) as client:
        await client.search_actions(connection_id="c", intent="x", limit=5)
    assert sleep.delays == [RETRY_AFTER_CAP_SECONDS]


async def test_429_on_a_run_is_retried_because_nothing_was_processed() -> None:
    rec = Recorder(err(429, {"message": "slow"}), httpx2.Response(200, json={"output": 1, "actionRunId": "r1"}))
    async with make_client(rec) as client:
        result = await client.run_action("act", {}, connection_id="c")
    assert result.action_run_id == "r1"
    assert len(rec.requests) == 2


async def test_a_run_that_timed_out_is_never_resent() -> None:
    rec = Recorder(httpx2.ReadTimeout("slow"), httpx2.Response(200, json={"output": 1}))
    async with make_client(rec) as client:
        with pytest.raises(ResponseLostError) as info:
            await client.run_action("create-campaign", {"name": "x"}, connection_id="c")
    assert len(rec.requests) == 1
    assert info.value.may_have_reached


async def test_a_run_that_got_502_is_never_resent() -> None:
    rec = Recorder(err(502, {"type": "internal", "message": "bad gateway"}), httpx2.Response(200, json={"output": 1}))
    async with make_client(rec) as client:
        with pytest.raises(ServerError):
            await client.run_action("create-campaign", {}, connection_id="c")
    assert len(rec.requests) == 1


async def test_a_refused_connection_is_retried_even_for_a_run_then_reported() -> None:
    rec = Recorder(httpx2.ConnectError("refused"))
    async with make_client(rec) as client:
        with pytest.raises(ConnectError, match="nothing was sent"):
            await client.run_action("a", {}, connection_id="c")
    assert len(rec.requests) == 3


async def test_reads_give_up_after_three_attempts() -> None:
    rec = Recorder(err(500, {"type": "internal", "message": "down"}))
    async with make_client(rec) as client:
        with pytest.raises(ServerError, match="down"):
            await client.get_connection("c")
    assert len(rec.requests) == 3


async def test_action_run_failure_maps_to_action_run_error_with_run_id() -> None:
    body = {"type": "action_run", "message": "Invalid event", "actionRunId": "run_9", "data": {"code": 400}}
    async with make_client(Recorder(err(400, body))) as client:
        with pytest.raises(ActionRunError) as info:
            await client.run_action("a", {}, connection_id="c")
    assert info.value.action_run_id == "run_9"
    assert info.value.data == {"code": 400}
    assert info.value.message == "Invalid event"


async def test_connection_type_maps_to_connection_unusable() -> None:
    async with make_client(Recorder(err(400, {"type": "connection", "message": "not READY"}))) as client:
        with pytest.raises(ConnectionUnusableError):
            await client.run_action("a", {}, connection_id="c")


async def test_404_maps_to_not_found_with_membrane_message() -> None:
    body = {"type": "bad_request", "key": "not_found", "message": "Connection 'x' was not found"}
    async with make_client(Recorder(err(404, body))) as client:
        with pytest.raises(NotFoundError) as info:
            await client.get_connection("x")
    assert (info.value.status, info.value.key, str(info.value)) == (404, "not_found", "Connection 'x' was not found")


async def test_an_html_error_page_keeps_status_and_text() -> None:
    page = httpx2.Response(502, text="<html><body>Bad Gateway</body></html>")
    async with make_client(Recorder(page)) as client:
        with pytest.raises(ServerError) as info:
            await client.run_action("a", {}, connection_id="c")
    assert info.value.status == 502
    assert "Bad Gateway" in str(info.value)


async def test_malformed_json_on_success_is_an_unexpected_response() -> None:
    async with make_client(Recorder(httpx2.Response(200, text="{not json"))) as client:
        with pytest.raises(UnexpectedResponseError, match="not JSON"):
            await client.get_connection("c")


async def test_a_body_off_contract_is_an_unexpected_response() -> None:
    async with make_client(Recorder(httpx2.Response(200, json={"nope": 1}))) as client:
        with pytest.raises(UnexpectedResponseError, match="does not match"):
            await client.get_connection("c")


async def test_a_static_token_401_is_not_retried() -> None:
    rec = Recorder(err(401, {"type": "bad_request", "key": "not_authenticated", "message": "bad token"}))
    async with make_client(rec) as client:
        with pytest.raises(AuthenticationError):
            await client.get_connection("c")
    assert len(rec.requests) == 1


async def test_a_minted_token_is_minted_again_once_after_401() -> None:
    now = [1_000_000.0]
    tokens = MintedToken("ws", "secret-value-1", "tenant", clock=lambda: now[0])
    rec = Recorder(err(401, {"message": "expired"}), httpx2.Response(200, json=CONN))
    client = MembraneClient(
        "https://m.test", tokens, transport=httpx2.MockTransport(rec), retry=RetryPolicy(sleep=RecordedSleep())
    )
    async with client:
        first = tokens.token()
        now[0] += 1  # a new second, so the re-minted token differs
        await client.get_connection("c")
    assert len(rec.requests) == 2
    assert rec.requests[0].headers["authorization"] == f"Bearer {first}"
    assert rec.requests[1].headers["authorization"] != rec.requests[0].headers["authorization"]


async def test_proxy_keeps_an_encoded_cursor_byte_for_byte_and_appends_query() -> None:
    rec = Recorder(httpx2.Response(200, json={"status": "success"}))
    async with make_client(rec) as client:
        await client.proxy("c1", "GET", "/1/events.json?cursor=ab%2Fcd%3D%3D", query={"batch_size": "10"})
    assert rec.requests[0].url.raw_path == b"/connections/c1/proxy/1/events.json?cursor=ab%2Fcd%3D%3D&batch_size=10"


async def test_proxy_passes_upstream_errors_through_verbatim() -> None:
    upstream = httpx2.Response(401, json={"status": "fail", "error": "Invalid Credentials", "code": 401})
    async with make_client(Recorder(upstream)) as client:
        response = await client.proxy("c1", "POST", "/1/now.json", content=b"{}")
    assert response.status == 401
    assert json.loads(response.content) == {"status": "fail", "error": "Invalid Credentials", "code": 401}


async def test_proxy_raises_on_membranes_own_error() -> None:
    body = {"type": "connection", "message": "Connection is CLIENT_ACTION_REQUIRED"}
    async with make_client(Recorder(err(400, body))) as client:
        with pytest.raises(ConnectionUnusableError):
            await client.proxy("c1", "GET", "/1/profile.json")


async def test_a_non_get_proxy_request_is_not_resent_after_a_lost_answer() -> None:
    rec = Recorder(httpx2.RemoteProtocolError("dropped"))
    async with make_client(rec) as client:
        with pytest.raises(ResponseLostError):
            await client.proxy("c1", "POST", "/1/upload", content=b"{}")
    assert len(rec.requests) == 1


async def test_a_get_proxy_request_is_resent_after_a_lost_answer() -> None:
    rec = Recorder(httpx2.RemoteProtocolError("dropped"), httpx2.Response(200, json={"status": "success"}))
    async with make_client(rec) as client:
        response = await client.proxy("c1", "GET", "/1/profile.json")
    assert response.status == 200
    assert len(rec.requests) == 2


async def test_rate_limit_error_carries_retry_after_when_attempts_run_out() -> None:
    rec = Recorder(err(429, {"message": "slow"}, {"Retry-After": "2"}))
    async with make_client(rec) as client:
        with pytest.raises(RateLimitError) as info:
            await client.get_connection("c")
    assert info.value.retry_after == 2.0


def test_client_repr_never_shows_the_token() -> None:
    client = make_client(Recorder(httpx2.Response(200)), token="tok-very-secret-999")
    assert "tok-very-secret-999" not in repr(client)


async def test_a_run_refused_with_429_that_names_a_run_is_not_resent() -> None:
    body = {"type": "action_run", "message": "CleverTap: too many concurrent requests", "actionRunId": "run_1"}
    rec = Recorder(err(429, body), httpx2.Response(200, json={"output": 1}))
    async with make_client(rec) as client:
        with pytest.raises(RateLimitError):
            await client.run_action("create-campaign", {}, connection_id="c")
    assert len(rec.requests) == 1


@pytest.mark.parametrize("bad_id", [".", ".."])
async def test_dot_ids_stay_inside_their_path_segment(bad_id: str) -> None:
    rec = Recorder(httpx2.Response(200, json={"output": 1}))
    async with make_client(rec) as client:
        await client.run_action(bad_id, {}, connection_id="c")
    encoded = bad_id.replace(".", "%2E").encode()
    assert rec.requests[0].url.raw_path == b"/actions/" + encoded + b"/run?connectionId=c"


async def test_a_header_value_that_cannot_be_sent_fails_before_sending() -> None:
    rec = Recorder(httpx2.Response(200, json={}))
    async with make_client(rec, token="tok-caf\u00e9-123456") as client:
        with pytest.raises(RequestNotSentError, match="printable ASCII") as info:
            await client.get_connection("c")
    assert rec.requests == []
    assert not info.value.may_have_reached
    assert "caf" not in str(info.value)


async def test_a_409_is_a_bad_request_not_a_server_error() -> None:
    async with make_client(
        Recorder(err(409, {"type": "bad_request", "key": "already_exists", "message": "dup"}))
    ) as client:
        with pytest.raises(BadRequestError):
            await client.ensure_connection("clevertap.com")


def test_retry_after_as_an_http_date_counts_from_now() -> None:
    then = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: then - 12) == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: then + 5) == 0.0
    assert parse_retry_after("soon") is None


async def test_a_non_json_429_on_a_proxied_write_is_resent_because_a_rate_limiter_refused_it() -> None:
    sleep = RecordedSleep()
    rec = Recorder(httpx2.Response(429, text="Too Many Requests"), httpx2.Response(200, json={"status": "success"}))
    async with make_client(rec, sleep) as client:
        response = await client.proxy("c1", "POST", "/1/upload", content=b"{}")
    assert response.status == 200
    assert len(rec.requests) == 2


async def test_clevertaps_own_json_429_through_the_proxy_is_its_answer_and_not_resent() -> None:
    upstream = httpx2.Response(429, json={"status": "fail", "error": "Too many concurrent requests", "code": 429})
    rec = Recorder(upstream, httpx2.Response(200, json={"status": "success"}))
    async with make_client(rec) as client:
        response = await client.proxy("c1", "POST", "/1/upload", content=b"{}")
    assert response.status == 429
    assert len(rec.requests) == 1


async def test_a_failure_naming_a_run_carries_its_action_run_id_whatever_the_status() -> None:
    body = {"type": "internal", "message": "worker died", "actionRunId": "run_77"}
    async with make_client(Recorder(err(500, body))) as client:
        with pytest.raises(ServerError) as info:
            await client.run_action("a", {}, connection_id="c")
    assert info.value.action_run_id == "run_77"


async def test_a_corrupt_gzip_answer_is_an_unexpected_response_not_a_crash() -> None:
    corrupt = httpx2.Response(200, headers={"content-encoding": "gzip"}, stream=httpx2.ByteStream(b"not gzip"))
    rec = Recorder(corrupt)
    async with make_client(rec) as client:
        with pytest.raises(UnexpectedResponseError, match="could not be decoded"):
            await client.run_action("a", {}, connection_id="c")
    assert len(rec.requests) == 1
