"""A scripted agent that solves every task through the real server's tools, as a model would: it finds the action,
runs it (or falls back to proxy_request where no action fits), and reads the answer off what the tools returned.

It never reads the world directly; the graders do. tests/evals/test_reference_agent.py runs it over every task.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import anyio

from evals.grading import NOW

__all__ = ["SOLUTIONS", "Agent", "solve"]

MAX_POLLS = 15


class Agent(Protocol):
    async def call(self, tool: str, arguments: Mapping[str, Any] | None = None) -> dict[str, Any]: ...


Solution = Callable[[Agent, str], Awaitable[str]]
SOLUTIONS: dict[str, Solution] = {}


def solution(task_id: str) -> Callable[[Solution], Solution]:
    def register(solve: Solution) -> Solution:
        SOLUTIONS[task_id] = solve
        return solve

    return register


async def solve(agent: Agent, task_id: str, prompt: str) -> str:
    """The reference agent's reply to one task: it connects first, as every session does."""
    await agent.call("ensure_connection")
    return await SOLUTIONS[task_id](agent, prompt)


async def run(agent: Agent, action: str, input: Mapping[str, Any]) -> Any:
    return (await agent.call("run_action", {"action_id": action, "input": dict(input)}))["output"]


async def proxy(agent: Agent, path: str, **arguments: Any) -> dict[str, Any]:
    return (await agent.call("proxy_request", {"path": path, **arguments}))["body"]


async def lookup(agent: Agent, **query: str) -> dict[str, Any]:
    return (await proxy(agent, "/1/profile.json", query=query))["record"]


async def polled(agent: Agent, path: str, query: dict[str, Any]) -> dict[str, Any]:
    body = await proxy(agent, path, method="POST", body=query)
    with anyio.fail_after(30):
        for _ in range(MAX_POLLS):
            if body["status"] != "partial":
                return body
            body = await proxy(agent, path, query={"req_id": body["req_id"]})
    raise AssertionError(f"{path} stayed partial")


def answer(value: object) -> str:
    return f"ANSWER: {value}"


WEEK = {"from": 20251229, "to": 20260104}
YESTERDAY = {"from": 20260104, "to": 20260104}
MONTH = {"from": 20251206, "to": 20260105}
CAMPAIGN_RANGE = {"from": 20251201, "to": 20260131}


def _profile_field(identity: str, name: str) -> Solution:
    async def solved(agent: Agent, prompt: str) -> str:
        return answer((await lookup(agent, identity=identity))["profileData"][name])

    return solved


SOLUTIONS["city-of-a-user"] = _profile_field("u-1001", "City")
SOLUTIONS["customer-type"] = _profile_field("u-1003", "Customer Type")
SOLUTIONS["phone-of-a-user"] = _profile_field("u-1008", "Phone")


@solution("email-of-a-user")
async def _email(agent: Agent, prompt: str) -> str:
    return answer((await lookup(agent, identity="u-1002"))["email"])


@solution("identity-by-email")
async def _identity(agent: Agent, prompt: str) -> str:
    (email,) = re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", prompt)
    return answer((await lookup(agent, email=email))["identity"])


@solution("platform-of-a-user")
async def _platform(agent: Agent, prompt: str) -> str:
    return answer((await lookup(agent, identity="u-1007"))["platformInfo"][0]["platform"])


def _event_count(name: str, dates: dict[str, int], action: str = "get-event-count") -> Solution:
    async def solved(agent: Agent, prompt: str) -> str:
        return answer((await run(agent, action, {"event_name": name, **dates}))["count"])

    return solved


SOLUTIONS["charged-last-week"] = _event_count("Charged", WEEK)
SOLUTIONS["launches-yesterday"] = _event_count("App Launched", YESTERDAY)
SOLUTIONS["searches-last-month"] = _event_count("Searched", MONTH)
SOLUTIONS["buyers-last-week"] = _event_count("Charged", WEEK, "get-profile-count")
SOLUTIONS["cart-users-on-a-day"] = _event_count(
    "Added To Cart", {"from": 20260103, "to": 20260103}, "get-profile-count"
)


@solution("revenue-last-week")
async def _revenue(agent: Agent, prompt: str) -> str:
    query = {"event_name": "Charged", **WEEK, "sum_event_prop": "Amount", "groups": {"r": {"trend_type": "daily"}}}
    trend = await polled(agent, "/1/counts/trends.json", query)
    return answer(round(sum(trend["r"].values()), 2))


@solution("online-now")
async def _online(agent: Agent, prompt: str) -> str:
    return answer((await run(agent, "real-time-user-count", {}))["count"])


async def _campaigns(agent: Agent) -> list[dict[str, Any]]:
    return (await run(agent, "get-campaigns", CAMPAIGN_RANGE))["targets"]


def _campaign_named(status: str) -> Solution:
    async def solved(agent: Agent, prompt: str) -> str:
        (name,) = [c["name"] for c in await _campaigns(agent) if c["status"] == status]
        return answer(name)

    return solved


SOLUTIONS["running-campaign"] = _campaign_named("running")
SOLUTIONS["scheduled-campaign"] = _campaign_named("scheduled")
SOLUTIONS["stopped-campaign"] = _campaign_named("stopped")


def _campaign_metric(name: str, metric: str) -> Solution:
    async def solved(agent: Agent, prompt: str) -> str:
        (campaign,) = [c for c in await _campaigns(agent) if c["name"] == name]
        return answer((await run(agent, "get-campaign-report", {"id": campaign["id"]}))["result"][metric])

    return solved


SOLUTIONS["weekend-sale-sent"] = _campaign_metric("Weekend Sale", "sent")
SOLUTIONS["welcome-series-clicks"] = _campaign_metric("Welcome Series", "clicked")


@solution("top-viewed-product")
async def _top_product(agent: Agent, prompt: str) -> str:
    group = {"property_type": "event_properties", "name": "Product", "top_n": 1}
    top = await polled(agent, "/1/counts/top.json", {"event_name": "Product Viewed", **MONTH, "groups": {"p": group}})
    (product,) = top["p"]["STR"]
    return answer(product)


@solution("charged-count-of-a-user")
async def _charged_of_user(agent: Agent, prompt: str) -> str:
    identity = next(word for word in prompt.split() if word.startswith("u-"))
    events = (await lookup(agent, identity=identity))["events"]
    return answer(events.get("Charged", {}).get("count", 0))


@solution("launchers-yesterday")
async def _launchers(agent: Agent, prompt: str) -> str:
    page = await run(agent, "get-user-profiles", {"event_name": "App Launched", **YESTERDAY, "batch_size": 50})
    identities = [record["identity"] for record in page["records"]]
    while page["next_cursor"] is not None:
        page = await run(agent, "get-user-profiles-by-cursor", {"cursor": page["next_cursor"]})
        identities += [record["identity"] for record in page["records"]]
    return answer(", ".join(sorted(Counter(identities))))


# Changes ------------------------------------------------------------------------------------------------------------


def _update(identity: str, data: dict[str, Any]) -> Solution:
    async def solved(agent: Agent, prompt: str) -> str:
        output = await run(agent, "upload-user-profiles", {"profiles": [{"identity": identity, "profileData": data}]})
        assert output["status"] == "success", output
        return "Done."

    return solved


SOLUTIONS["set-city"] = _update("u-1001", {"City": "Oslo"})
SOLUTIONS["email-opt-out"] = _update("u-1004", {"MSG-email": False})
SOLUTIONS["rename-user"] = _update("u-1012", {"Name": "Ana Lima"})
SOLUTIONS["add-interest"] = _update("u-1009", {"Interests": {"$add": ["hiking"]}})
SOLUTIONS["increment-points"] = _update("u-1010", {"Points": {"$incr": 10}})
SOLUTIONS["create-profile"] = _update("u-9001", {"Name": "Zoe Park", "Email": "zoe.park@example.com"})


def _record(identity: str, name: str, data: dict[str, Any]) -> Solution:
    async def solved(agent: Agent, prompt: str) -> str:
        event = {"identity": identity, "evtName": name, "evtData": data, "ts": NOW}
        output = await run(agent, "upload-events", {"events": [event]})
        assert output["status"] == "success", output
        return "Done."

    return solved


SOLUTIONS["record-search"] = _record("u-1003", "Searched", {"Query": "tent"})
SOLUTIONS["record-purchase"] = _record("u-1005", "Charged", {"Amount": 42.5, "Payment Mode": "Card"})


@solution("delete-user")
async def _delete(agent: Agent, prompt: str) -> str:
    await run(agent, "delete-user-profile", {"identity": "u-1006"})
    return "Done."


@solution("stop-running-campaign")
async def _stop(agent: Agent, prompt: str) -> str:
    (running,) = [c for c in await _campaigns(agent) if c["status"] == "running"]
    await run(agent, "stop-campaign", {"id": running["id"]})
    return "Done."


@solution("create-push-campaign")
async def _create(agent: Agent, prompt: str) -> str:
    campaign = {
        "name": "Tent Sale",
        "target_mode": "push",
        "when": "now",
        "content": {"title": "Tents", "body": "20% off all tents"},
    }
    await run(agent, "create-campaign", campaign)
    return "Done."


@solution("demerge-identity")
async def _demerge(agent: Agent, prompt: str) -> str:
    body = await proxy(agent, "/1/demerge/profiles.json", method="POST", body={"identities": ["u-1011"]})
    assert body["status"] == "success", body
    return "Done."
