"""The task suite: questions answered from the seeded world, and changes graded by the world's diff.

Every prompt is written for EVAL_SETTINGS (grading.py): the demo seed, the clock pinned to Monday 2026-01-05 10:00
UTC. A question passes when its reply ends with `ANSWER: <value>` equal to what the world holds, and the world is
unchanged; a change passes when the diff since the reset holds exactly the change asked for, nothing more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clevertap_mcp.sandbox.clevertap.model import RUNNING, SCHEDULED, STOPPED, Account, Profile
from clevertap_mcp.testing import World
from evals.grading import Answer, Grade, account_diff, doers, events_in, final_answer, same_answer

__all__ = ["TASKS", "EvalTask", "task"]

ANSWER_FORMAT = "End your reply with a last line `ANSWER: <value>`."
WEEK, YESTERDAY, MONTH = (20251229, 20260104), (20260104, 20260104), (20251206, 20260105)
Check = Callable[[dict[str, Any], Account], str | None]


@dataclass(frozen=True)
class EvalTask:
    id: str
    prompt: Callable[[Account], str]
    expected: Callable[[World], Answer] | None = None  # a question's answer, read from the world
    check: Check | None = None  # a change's grader: why the diff is wrong, or None

    @property
    def kind(self) -> str:
        return "question" if self.expected is not None else "change"

    def text(self, account: Account) -> str:
        return self.prompt(account) + (f" {ANSWER_FORMAT}" if self.expected is not None else "")

    def grade(self, world: World, reply: str) -> Grade:
        changes = account_diff(world.diff())
        if self.check is not None:
            reason = self.check(changes, world.account())
            return Grade(reason is None, reason or "the world changed as asked, and nothing else")
        assert self.expected is not None
        if changes["summary"]["total"]:
            return Grade(False, f"a question must leave the world as it was; it changed: {changes['summary']}")
        given = final_answer(reply)
        if given is None:
            return Grade(False, "the reply has no `ANSWER:` line")
        expected = self.expected(world)
        if same_answer(given, expected):
            return Grade(True, f"answered {given!r}")
        return Grade(False, f"answered {given!r}, expected {expected!r}")


TASKS: list[EvalTask] = []


def task(one: EvalTask) -> None:
    TASKS.append(one)


def _user(account: Account, identity: str) -> Profile:
    profile = account.find(identity=identity)
    assert profile is not None, f"the seeded world has no {identity}"
    return profile


def _field(identity: str, name: str) -> Callable[[World], Answer]:
    return lambda world: str(_user(world.account(), identity).data[name])


def _count(name: str, days: tuple[int, int]) -> Callable[[World], Answer]:
    return lambda world: len(events_in(world.account(), name, *days))


def _people(name: str, days: tuple[int, int]) -> Callable[[World], Answer]:
    return lambda world: len(doers(events_in(world.account(), name, *days)))


def _campaign(status: str) -> Callable[[World], Answer]:
    def named(world: World) -> Answer:
        (found,) = [c.name for c in world.account().campaigns.values() if c.api_created and c.status == status]
        return found

    return named


def _result(name: str, metric: str) -> Callable[[World], Answer]:
    return lambda world: next(c.result[metric] for c in world.account().campaigns.values() if c.name == name)


def _repeat_buyer(account: Account) -> str:
    """The first seeded user (by id) with at least two Charged events: the subject of charged-count-of-a-user."""
    counts = Counter(event.object_id for event in account.events if event.name == "Charged")
    return next(
        str(p.identity) for p in sorted(account.profiles.values(), key=lambda p: p.seq) if counts[p.object_id] > 1
    )


# Questions ----------------------------------------------------------------------------------------------------------

task(
    EvalTask(
        "city-of-a-user", lambda a: "Which city does the user with identity u-1001 live in?", _field("u-1001", "City")
    )
)
task(EvalTask("email-of-a-user", lambda a: "What is the email address of user u-1002?", _field("u-1002", "Email")))
task(
    EvalTask(
        "identity-by-email",
        lambda a: f"Which user identity has the email address {_user(a, 'u-1010').data['Email']}?",
        lambda world: "u-1010",
    )
)
task(
    EvalTask("customer-type", lambda a: "What is the Customer Type of user u-1003?", _field("u-1003", "Customer Type"))
)
task(
    EvalTask(
        "platform-of-a-user",
        lambda a: "On which platform (Android, iOS or Web) is user u-1007?",
        lambda world: str(_user(world.account(), "u-1007").platform),
    )
)
task(EvalTask("phone-of-a-user", lambda a: "What is the phone number of user u-1008?", _field("u-1008", "Phone")))
task(
    EvalTask(
        "charged-last-week",
        lambda a: "How many Charged events were there from 2025-12-29 to 2026-01-04, both days included?",
        _count("Charged", WEEK),
    )
)
task(
    EvalTask(
        "launches-yesterday",
        lambda a: "How many App Launched events happened yesterday (2026-01-04)?",
        _count("App Launched", YESTERDAY),
    )
)
task(
    EvalTask(
        "buyers-last-week",
        lambda a: "How many distinct users did Charged from 2025-12-29 to 2026-01-04, both days included?",
        _people("Charged", WEEK),
    )
)
task(
    EvalTask(
        "revenue-last-week",
        lambda a: (
            "What was the total revenue (sum of the Amount property of Charged events) from 2025-12-29 to "
            "2026-01-04, both days included? Give the number only."
        ),
        lambda world: round(sum(e.props["Amount"] for e in events_in(world.account(), "Charged", *WEEK)), 2),
    )
)
task(
    EvalTask(
        "online-now",
        lambda a: "How many users are online right now?",
        lambda world: world.clevertap().real_time(world.account(), {})["count"],
    )
)
task(
    EvalTask("running-campaign", lambda a: "What is the name of the campaign that is running now?", _campaign(RUNNING))
)
task(
    EvalTask(
        "scheduled-campaign",
        lambda a: "Which campaign is scheduled but has not started yet? Give its name.",
        _campaign(SCHEDULED),
    )
)
task(
    EvalTask(
        "stopped-campaign",
        lambda a: "Which campaign was stopped before it finished? Give its name.",
        _campaign(STOPPED),
    )
)
task(
    EvalTask(
        "weekend-sale-sent",
        lambda a: "How many messages did the 'Weekend Sale' campaign send?",
        _result("Weekend Sale", "sent"),
    )
)
task(
    EvalTask(
        "welcome-series-clicks",
        lambda a: "How many clicks did the 'Welcome Series' campaign get?",
        _result("Welcome Series", "clicked"),
    )
)


def _top_product(world: World) -> Answer:
    ((product, _),) = Counter(
        e.props["Product"] for e in events_in(world.account(), "Product Viewed", *MONTH)
    ).most_common(1)
    return product


task(
    EvalTask(
        "top-viewed-product",
        lambda a: "Which product was viewed most (Product Viewed events) from 2025-12-06 to 2026-01-05?",
        _top_product,
    )
)
task(
    EvalTask(
        "searches-last-month",
        lambda a: "How many Searched events were there from 2025-12-06 to 2026-01-05, both days included?",
        _count("Searched", MONTH),
    )
)
task(
    EvalTask(
        "charged-count-of-a-user",
        lambda a: f"How many times in total has user {_repeat_buyer(a)} done the Charged event?",
        lambda world: sum(
            1
            for e in world.account().events
            if e.name == "Charged" and e.object_id == _user(world.account(), _repeat_buyer(world.account())).object_id
        ),
    )
)
task(
    EvalTask(
        "cart-users-on-a-day",
        lambda a: "How many distinct users did Added To Cart on 2026-01-03?",
        _people("Added To Cart", (20260103, 20260103)),
    )
)
task(
    EvalTask(
        "launchers-yesterday",
        lambda a: (
            "List the identities of every user who launched the app (App Launched) yesterday, 2026-01-04, "
            "comma-separated."
        ),
        lambda world: frozenset(
            str(world.account().profiles[oid].identity)
            for oid in doers(events_in(world.account(), "App Launched", *YESTERDAY))
        ),
    )
)

# Changes ------------------------------------------------------------------------------------------------------------


def _only(changes: dict[str, Any], **counts: int) -> str | None:
    """None when the summary holds exactly these non-zero counts."""
    summary = {name: n for name, n in changes["summary"].items() if n and name != "total"}
    return None if summary == counts else f"expected exactly {counts} in the diff, got {summary}"


def _changed(changes: dict[str, Any], identity: str) -> dict[str, Any] | None:
    return next((c for c in changes["profiles"]["changed"] if c["identity"] == identity), None)


def _sets(identity: str, expected: dict[str, Any]) -> Check:
    """A profile update of `identity` that leaves these data values, and changes nothing else."""

    def check(changes: dict[str, Any], account: Account) -> str | None:
        if problem := _only(changes, profilesChanged=1):
            return problem
        changed = _changed(changes, identity)
        if changed is None:
            return f"{identity} was not the profile changed"
        after = {name: pair[1] for name, pair in changed["data"].items()}
        return None if after == expected and not changed["fields"] else f"{identity} changed as {changed}"

    return check


task(EvalTask("set-city", lambda a: "Set the City of user u-1001 to Oslo.", check=_sets("u-1001", {"City": "Oslo"})))
task(
    EvalTask(
        "email-opt-out",
        lambda a: "User u-1004 asked to stop receiving emails: unsubscribe them from email.",
        check=_sets("u-1004", {"MSG-email": False}),
    )
)
task(
    EvalTask(
        "rename-user",
        lambda a: "Change the name of user u-1012 to Ana Lima.",
        check=_sets("u-1012", {"Name": "Ana Lima"}),
    )
)
task(
    EvalTask(
        "add-interest",
        lambda a: "Add 'hiking' to the multi-value property Interests of user u-1009.",
        check=_sets("u-1009", {"Interests": ["hiking"]}),
    )
)
task(
    EvalTask(
        "increment-points",
        lambda a: "User u-1010 has no Points yet; increase their Points property by 10.",
        check=_sets("u-1010", {"Points": 10}),
    )
)


def _new_profile(changes: dict[str, Any], account: Account) -> str | None:
    if problem := _only(changes, profilesAdded=1):
        return problem
    (added,) = changes["profiles"]["added"]
    wanted = {"Name": "Zoe Park", "Email": "zoe.park@example.com"}
    if added["identity"] != "u-9001" or {k: added["data"].get(k) for k in wanted} != wanted:
        return f"the new profile is {added}"
    return None


task(
    EvalTask(
        "create-profile",
        lambda a: "Create a profile for a new user with identity u-9001, name Zoe Park, email zoe.park@example.com.",
        check=_new_profile,
    )
)


def _event(identity: str, name: str, props: dict[str, Any]) -> Check:
    def check(changes: dict[str, Any], account: Account) -> str | None:
        if problem := _only(changes, eventsAdded=1):
            return problem
        (event,) = changes["events"]["added"]
        given = {k: event["props"].get(k) for k in props}
        if event["identity"] != identity or event["name"] != name or given != props:
            return f"the event recorded is {event}"
        return None

    return check


task(
    EvalTask(
        "record-search",
        lambda a: "Record a Searched event with the property Query = 'tent' for user u-1003.",
        check=_event("u-1003", "Searched", {"Query": "tent"}),
    )
)
task(
    EvalTask(
        "record-purchase",
        lambda a: "Record a Charged event for user u-1005 with Amount 42.5 and Payment Mode 'Card'.",
        check=_event("u-1005", "Charged", {"Amount": 42.5, "Payment Mode": "Card"}),
    )
)


def _deleted(changes: dict[str, Any], account: Account) -> str | None:
    removed = [p["identity"] for p in changes["profiles"]["removed"]]
    scheduled = [d["identity"] for d in changes["deletions"]["scheduled"]]
    if removed + scheduled != ["u-1006"]:
        return f"expected u-1006 and only it deleted; removed {removed}, scheduled {scheduled}"
    others = {k: n for k, n in changes["summary"].items() if n}.keys() - {
        "total",
        "profilesRemoved",
        "eventsRemoved",
        "deletionsScheduled",
    }
    return f"more changed than the deletion: {sorted(others)}" if others else None


task(EvalTask("delete-user", lambda a: "Delete the profile of user u-1006 (GDPR erasure request).", check=_deleted))


def _stopped(changes: dict[str, Any], account: Account) -> str | None:
    if problem := _only(changes, campaignsChanged=1):
        return problem
    (changed,) = changes["campaigns"]["changed"]
    ok = changed["name"] == "Cart Reminder" and changed["status"] == [RUNNING, STOPPED]
    return None if ok else f"the campaign change is {changed}"


task(EvalTask("stop-running-campaign", lambda a: "Stop the campaign that is running now.", check=_stopped))


def _created(changes: dict[str, Any], account: Account) -> str | None:
    if problem := _only(changes, campaignsAdded=1):
        return problem
    (added,) = changes["campaigns"]["added"]
    content = added.get("request", {}).get("content", {})
    if added["name"] != "Tent Sale" or added["targetMode"] != "push" or added["status"] != RUNNING:
        return f"the campaign created is {added}"
    if content.get("title") != "Tents" or content.get("body") != "20% off all tents":
        return f"the campaign's content is {content}"
    return None


task(
    EvalTask(
        "create-push-campaign",
        lambda a: (
            "Create a push campaign named 'Tent Sale' to all users, sent now, with title 'Tents' and body "
            "'20% off all tents'."
        ),
        check=_created,
    )
)


def _demerged(changes: dict[str, Any], account: Account) -> str | None:
    if problem := _only(changes, profilesChanged=1):
        return problem
    changed = _changed(changes, "u-1011")
    if changed is None or changed["fields"] != {"identity": ["u-1011", None]} or changed["data"]:
        return f"expected u-1011 detached from its profile, got {changes['profiles']['changed']}"
    return None


task(
    EvalTask(
        "demerge-identity",
        lambda a: "The identity u-1011 was merged into the wrong profile: demerge it.",
        check=_demerged,
    )
)
