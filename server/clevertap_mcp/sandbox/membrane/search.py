"""The CleverTap action catalog as Membrane serves it, and the deterministic `intent` ranking (membrane-api.md §3.3).

Actions get stable ids in catalog order (`act_01` … `act_15`), so the same catalog always answers the same ids.

Ranking (§10 #7). The real service ranks by meaning and does not publish how; the sandbox approximates that with a
small, fixed vocabulary model, so the same intent always gives the same order:

1. The intent is lower-cased and a few multi-word phrases are rewritten to the catalog's words ("how many" → count,
   "next page" → cursor, "right now" → real time, ...), so their words are not read one by one ("number of times"
   must not match "Real-Time").
2. Words are split on anything that is not a letter or digit, stop words are dropped, the rest lightly stemmed.
3. Each intent word becomes a group: its stem plus the catalog stems it stands for in the synonym table (a CleverTap
   user's vocabulary: "bought" → Charged event, "notify" → push campaign, "erase" → delete, ...). Only the intent is
   expanded, so catalog text stays literal.
4. A group scores, for each action, `TITLE_WEIGHT × w` for the rarest of its stems in the action's name or key, plus
   `w` for the rarest in its description, where `w = ln(1 + N / df)`: N actions, df of them using that stem. Words
   every action shares ("get", "user") thus weigh little and distinctive ones ("cursor", "stop") a lot. The
   action's score is the sum over the groups.

Every action is returned, best first, ordered by this key (smallest first):

    (-score, unmentioned, id)

- `score`: the sum above, rounded to 6 decimals so float noise never decides an order. When no intent word (nor a
  synonym of one) is a write action's verb (upload, delete, create, stop), the intent asks to read, and each write
  action's score is multiplied by READ_INTENT_WRITE_FACTOR: "which users are on iOS" must not put Delete User
  Profile first because it shares their nouns.
- `unmentioned`: for an action with a positive score, the number of distinct stems of its name and key that no intent
  word (nor any synonym of one) stands for; 0 for an action that scores nothing. "export profiles" thus ranks the
  first page of profiles (`get-user-profiles`) above the next one (`get-user-profiles-by-cursor`).
- `id`: the action id, the final tiebreak (ids are zero-padded, so string order is catalog order).

Contract §10 #7 says ties are broken by id. The `unmentioned` step between score and id is the sandbox's documented
refinement of that rule: it only reorders actions with equal positive scores, and whatever it leaves tied is broken
by id, so the order is a pure function of the intent and the catalog, whatever order the actions come in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from clevertap_mcp.sandbox.connector import ACTIONS, ActionSpec
from clevertap_mcp.sandbox.membrane.apps import CLEVERTAP
from clevertap_mcp.sandbox.membrane.errors import NotFound
from clevertap_mcp.sandbox.membrane.state import Connection

__all__ = [
    "CATALOG",
    "READ_INTENT_WRITE_FACTOR",
    "TITLE_WEIGHT",
    "WRITE_VERBS",
    "ActionCatalog",
    "CatalogAction",
    "intent_groups",
    "stems",
]

TITLE_WEIGHT = 3.0
# The verbs of the write actions' titles. An intent that names none of them (nor a synonym) asks to read, so a write
# that matches its nouns ("which users are on iOS" vs Delete User Profile) weighs this much of its score.
WRITE_VERBS = frozenset({"upload", "delet", "creat", "stop"})
READ_INTENT_WRITE_FACTOR = 0.5
_WORD = re.compile(r"[a-z0-9]+")
# Literals in a description: a raw API path for what no action does ("/1/counts/trends.json") and payload keys
# ("MSG-sms"). Their words say where to go or what to write, not what the action does ("sms" must not make a profile
# upload a match for "send an sms"), so they stay out of the ranking.
_LITERALS = re.compile(r"(?<![\w/])/\d+/\S+|\bMSG-\S+")
# fmt: off
_STOP_WORDS = frozenset({
    "a", "about", "all", "an", "and", "any", "are", "at", "be", "by", "can", "could", "do", "does", "for", "from",
    "give", "has", "have", "how", "i", "in", "into", "is", "it", "its", "let", "me", "my", "need", "of", "on",
    "or", "our", "please", "s", "so", "some", "that", "the", "their", "them", "there", "these", "this", "those", "to",
    "us", "want", "was", "we", "were", "what", "when", "where", "which", "who", "whose", "will", "with", "would",
    "you", "your",
})
# fmt: on
# Multi-word phrases whose meaning is not the sum of their words, rewritten before words are split (intent only).
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(rf"\b{pattern}\b"), replacement)
    for pattern, replacement in (
        (r"how many times|number of times|how often", " event count "),
        (r"how many|how much", " count "),
        (r"next (page|batch|set|chunk)|more results|keep (going|paging)", " cursor "),
        (r"right now|at the moment|just now|last (5|five) minutes", " realtime "),
        (r"sign(ed)? up|signups?", " profile "),
        (r"look(ing|ed|s)? up", " lookup "),
        # Consent is a profile property (MSG-email, MSG-push, ...): opting out must never read as deleting a user.
        (r"opt(ed|s)?( \w+){0,2}[ -]?(out|in)\b|(un|re)?subscribe[sd]?|consent", " update profile "),
        # An event's name says which event, not what to do: "App Launched" must not read as "launch a campaign".
        (
            r"app (launched|installed|uninstalled)|notification (viewed|clicked)|(launched|opened) (the |our |my )?app",
            " event ",
        ),
        # "by email" names a person to find, not an email campaign.
        (
            r"(by|with|whose|from) (their |the |an? )?(e-?mail|phone|identity|id)( address| number)?",
            " profile identity ",
        ),
    )
)
# Intent word -> the catalog words it stands for. Both sides are stemmed once at import, so the table is written in
# plain words. It is domain vocabulary (what a CleverTap user calls things), never tied to one phrasing.
# fmt: off
_SYNONYM_WORDS: dict[str, str] = {
    # what
    "many number total tally amount often": "count",
    "unique distinct different individual": "unique profile",
    "online live now current currently realtime active concurrent moment using": "real time active",
    "user users customer customers people person contact contacts member members audience subscriber subscribers": (
        "user profile"
    ),
    "identity identities guid objectid id ids": "identity profile",
    "occurrence occurrences activity activities happened happen behaviour behavior action actions": "event",
    "charged purchase purchases purchased bought buy buys order orders revenue transaction transactions": (
        "charged event"
    ),
    "launched launch launches opened open opens viewed view views searched search cart": "event",
    "campaigns promotion promotions": "campaign",
    "notification notifications notify push": "campaign push",
    "email emails mail newsletter sms text whatsapp webpush inbox message messages broadcast blast": "campaign",
    "token tokens device devices fcm apns gcm registration": "device token push",
    "page pages cursor cursors continue continuing remaining rest previous following batch": "cursor next page",
    "trend trends breakdown histogram": "event count",
    "last past yesterday today week weeks month months year days daily weekly monthly since between range period "
    "recent": (
        "date range"
    ),
    "stats statistics metrics performance perform performed results result clicks clicked opened delivered delivery "
    "conversions": (
        "report"
    ),
    "reach estimate estimated preview size": "estimate reach create campaign",
    # verbs
    "remove erase forget purge gdpr wipe drop": "delete",
    "send launch schedule blast start notify target": "create campaign",
    "track log record ingest import sync": "upload",
    "update edit change modify set merge upsert": "upload profile",
    "export download fetch list show retrieve read pull dump see find lookup query": "get",
    "halt cancel pause abort kill end": "stop",
    "register": "upload device token",
    "add insert": "upload",
    "finished completed done state running scheduled": "status",
}
# fmt: on


def stems(text: str) -> set[str]:
    """The distinct stems of the words of `text`, stop words left out."""
    return {_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOP_WORDS}


def _stem(word: str) -> str:
    # A few suffix rules are enough for a 15-action catalog: users/user, counting/count, deleted/delete/delet.
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            if len(word) > 2 and word[-1] == word[-2] and word[-1] not in "aeiouls":
                word = word[:-1]  # stopped -> stopp -> stop
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def _synonyms() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for words, targets in _SYNONYM_WORDS.items():
        for word in words.split():
            # A word listed in several rows stands for all their targets.
            table.setdefault(_stem(word), set()).update(_stem(target) for target in targets.split())
    return {stem: frozenset(targets) for stem, targets in table.items()}


_SYNONYMS = _synonyms()


def intent_groups(intent: str) -> list[frozenset[str]]:
    """One group per distinct intent word (after phrase rewriting): the word's stem and the catalog stems it means."""
    text = intent.lower()
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    return [frozenset({stem, *_SYNONYMS.get(stem, frozenset[str]())}) for stem in sorted(stems(text))]


@dataclass(frozen=True)
class CatalogAction:
    id: str
    spec: ActionSpec
    title_stems: frozenset[str]  # name and key
    description_stems: frozenset[str]


class ActionCatalog:
    def __init__(self, specs: Iterable[ActionSpec]) -> None:
        self.actions = tuple(
            CatalogAction(
                id=f"act_{index:02d}",
                spec=spec,
                title_stems=frozenset(stems(f"{spec.name} {spec.key}")),
                description_stems=frozenset(stems(_LITERALS.sub(" ", spec.description))),
            )
            for index, spec in enumerate(specs, start=1)
        )
        count = len(self.actions)
        frequency: dict[str, int] = {}
        for action in self.actions:
            for stem in action.title_stems | action.description_stems:
                frequency[stem] = frequency.get(stem, 0) + 1
        self._weight = {stem: math.log(1 + count / df) for stem, df in frequency.items()}

    def find(self, id_or_key: str, *, by_key: bool = True) -> CatalogAction:
        for action in self.actions:
            if id_or_key == action.id or (by_key and id_or_key == action.spec.key):
                return action
        raise NotFound(f"Action '{id_or_key}' was not found")

    def matching(self, search: str | None) -> list[CatalogAction]:
        """The `search` filter: a case-insensitive substring of the name or key."""
        if not search:
            return list(self.actions)
        needle = search.lower()
        return [a for a in self.actions if needle in a.spec.name.lower() or needle in a.spec.key.lower()]

    def listing(
        self, search: str | None, intent: str | None, conn: Connection | None, integrations: Mapping[str, str]
    ) -> list[CatalogAction]:
        """`GET /actions`: the `search` matches; none for a connection of an app without a connector, or when an
        integration filter names another integration than CleverTap's; ranked by `intent` only with a connection
        (§3.3: without one the intent is ignored)."""
        clevertap = {"integrationId": CLEVERTAP.integration_id, "integrationKey": CLEVERTAP.integration_key}
        if (conn is not None and conn.app is None) or any(clevertap[k] != v for k, v in integrations.items()):
            return []
        actions = self.matching(search)
        return self.ranked(actions, intent) if conn is not None and intent is not None else actions

    def score(self, action: CatalogAction, groups: list[frozenset[str]]) -> float:
        """The action's relevance to the intent groups (see the module docstring), rounded to 6 decimals."""
        total = 0.0
        for group in groups:
            total += TITLE_WEIGHT * max((self._weight[s] for s in group & action.title_stems), default=0.0)
            total += max((self._weight[s] for s in group & action.description_stems), default=0.0)
        return round(total, 6)

    def ranked(self, actions: list[CatalogAction], intent: str) -> list[CatalogAction]:
        """`actions` best first for `intent`, by `(-score, unmentioned, id)` (see the module docstring)."""
        groups = intent_groups(intent)
        mentioned = frozenset[str]().union(*groups)
        asks_to_write = bool(mentioned & WRITE_VERBS)

        def order(action: CatalogAction) -> tuple[float, int, str]:
            score = self.score(action, groups)
            if not asks_to_write and not action.spec.read_only:
                score = round(score * READ_INTENT_WRITE_FACTOR, 6)
            return -score, len(action.title_stems - mentioned) if score else 0, action.id

        return sorted(actions, key=order)


CATALOG = ActionCatalog(ACTIONS)
